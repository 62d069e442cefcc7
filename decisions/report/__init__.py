"""The budget report: figures for a period, the status the policy gives them, and the action.

From a review log (:mod:`~decisions.report.from_log`) or from Prometheus
(:mod:`~decisions.report.from_prometheus`), both into the same :class:`Report`
(:mod:`~decisions.report.figures`), rendered by :mod:`~decisions.report.render`.
"""

from __future__ import annotations

from decisions.report.figures import Breakdown, Report, Thresholds
from decisions.report.from_log import csv_report
from decisions.report.from_prometheus import NO_DATA, Options, prometheus_report
from decisions.report.render import render, render_review

__all__ = [
    "NO_DATA",
    "Breakdown",
    "Options",
    "Report",
    "Thresholds",
    "csv_report",
    "prometheus_report",
    "render",
    "render_review",
]
