"""agent-slo rule generator: SLO specs to Prometheus rules, alerts and promtool tests."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
