"""A report rendered as a terminal table, Markdown, JSON or a self-contained HTML page."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from decisions.report.figures import Report

if TYPE_CHECKING:
    import jinja2

__all__ = ["render"]

_STATUS_WORDS: Final = {
    "within_budget": "WITHIN BUDGET",
    "over_budget": "OVER BUDGET",
    "warning": "WARNING",
    "red_line": "RED LINE",
}


def render(report: Report, fmt: str) -> str:
    """The report as ``table`` (terminal), ``markdown``, ``json`` or ``html``."""
    if fmt == "json":
        return report.to_json()
    if fmt == "html":
        return _html(report)
    md = fmt == "markdown"
    lines = []
    head = f"Error budget report {report.since} to {report.until}"
    if report.slo:
        head = f"{report.slo}: {head.lower()}"
    lines.append(f"## {head}" if md else head)
    lines.append("")
    status = _STATUS_WORDS.get(report.status, report.status.replace("_", " ").upper())
    change = (
        f", {report.change_pp:+.1f} pp against the previous period"
        if report.change_pp is not None
        else ""
    )
    lines.append(
        f"{'**' if md else ''}{status}{'**' if md else ''}: failure rate "
        f"{report.failure_rate:.1%} (budget {report.budget:.0%}){change}"
    )
    lines.append(f"Action: {report.action}")
    if report.objective is not None:
        schedule = "".join(f", {o:.4g} from {d}" for d, o in report.schedule)
        lines.append(f"Objective now: {report.objective:.4g}{schedule}")
    lines.append(
        f"Budget remaining: {report.budget_remaining:.0%} ({report.runs_left:.1f} of "
        f"{report.allowed_failures:.1f} allowed failures left), burn rate {report.burn_rate:.2f}x"
    )
    lines.append("")
    rows = (
        [("outcome", "runs", "share")]
        + [(c, str(n), f"{report.shares[c]:.1%}") for c, n in report.counts.items()]
        + [("total", str(report.runs), "100.0%")]
    )
    lines.extend(_table(rows, md))
    for name, items in report.breakdowns.items():
        lines.append("")
        lines.append(f"### By {name}" if md else f"By {name} (most budget burned first)")
        table = [(name, "runs", "failures", "failure rate", "budget burned", "")] + [
            (
                b.value,
                str(b.runs),
                str(b.failures),
                f"{b.failure_rate:.0%}",
                f"{b.budget_share:.0%}",
                "" if b.meaningful else "too few runs yet",
            )
            for b in items
        ]
        lines.extend(_table(table, md))
    return "\n".join(lines) + "\n"


def _table(rows: Sequence[tuple[str, ...]], md: bool) -> list[str]:
    if md:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return out
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


@functools.cache
def _html_templates() -> jinja2.Environment:
    import jinja2  # noqa: PLC0415 - only the HTML report needs a template engine

    return jinja2.Environment(
        loader=jinja2.PackageLoader("decisions", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _html(report: Report) -> str:
    """A self-contained page: the figures, a burn-down chart and one chart per dimension."""
    days = report.daily or [(report.since, 0, 0)]
    top = max(report.failures, report.allowed_failures, 1.0)
    width = 580 / len(days)
    bars, points = [], []
    failures = runs = 0
    for i, (day, day_runs, day_failures) in enumerate(days):
        failures += day_failures
        runs += day_runs
        allowed = report.budget * runs
        x = 40 + i * width
        bars.append(
            {
                "x": round(x + 2, 1),
                "w": round(max(width - 4, 1), 1),
                "y": round(190 - 170 * failures / top, 1),
                "day": day,
                "label": day[5:] if len(days) <= 14 or i % 7 == 0 else "",
                "failures": failures,
                "allowed": allowed,
                "over": failures > allowed,
            }
        )
        points.append(f"{x + width / 2:.1f},{190 - 170 * allowed / top:.1f}")
    widest = max((b.budget_share for items in report.breakdowns.values() for b in items), default=1)
    return (
        _html_templates()
        .get_template("report.html.j2")
        .render(
            r=report,
            status_word=_STATUS_WORDS.get(report.status, report.status.replace("_", " ").upper()),
            burndown=bars,
            allowed_line=" ".join(points),
            pct=lambda value, digits=1: f"{value * 100:.{digits}f}%",
            bar=lambda share: round(360 * share / max(widest, 1e-9), 1),
        )
    )
