"""A report rendered as a terminal table, Markdown, JSON or a self-contained HTML page."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from decisions.policy import review_order
from decisions.report.figures import Report

if TYPE_CHECKING:
    import jinja2

__all__ = ["render", "render_review", "status_word"]

_STATUS_WORDS: Final = {
    "within_budget": "WITHIN BUDGET",
    "over_budget": "OVER BUDGET",
    "warning": "WARNING",
    "red_line": "RED LINE",
    "not_enough_runs": "not enough runs yet",
    "no_data": "NO DATA",
}


def status_word(status: str) -> str:
    """How a status reads: ``RED LINE``, ``not enough runs yet``, a policy's name in
    capitals."""
    return _STATUS_WORDS.get(status, status.replace("_", " ").upper())


def render(report: Report, fmt: str) -> str:
    """The report as ``table`` (terminal), ``markdown``, ``json`` or ``html``."""
    if fmt == "json":
        return report.to_json()
    if fmt == "html":
        return _html([report])
    return "\n".join(_text(report, fmt == "markdown")) + "\n"


def _text(report: Report, md: bool) -> list[str]:
    lines = []
    head = f"Error budget report {report.since} to {report.until}"
    if report.slo:
        head = f"{report.slo}: error budget report {report.since} to {report.until}"
    lines.append(f"## {head}" if md else head)
    lines.append("")
    status = status_word(report.status)
    change = (
        f", {report.change_pp:+.1f} pp against the previous period"
        if report.change_pp is not None
        else ""
    )
    summary = [
        f"{'**' if md else ''}{status}{'**' if md else ''}: failure rate "
        f"{report.failure_rate:.1%} (budget {report.budget:.0%}){change}",
        f"Action: {report.action}",
    ]
    if report.act_on:
        first = [
            f"- {status_word(f.status)}: {', '.join(f.rows)}. {f.action}" for f in report.act_on
        ]
        summary.append("Act on first:\n" + ("\n" if md else "") + "\n".join(first))
    if report.objective is not None:
        schedule = "".join(f", {o:.4g} from {d}" for d, o in report.schedule)
        summary.append(f"Objective now: {report.objective:.4g}{schedule}")
    summary.append(
        f"Budget remaining: {report.budget_remaining:.0%} ({report.runs_left:.1f} of "
        f"{report.allowed_failures:.1f} allowed failures left), burn rate {report.burn_rate:.2f}x"
    )
    if report.autonomy is not None:
        summary.append(_autonomy(report.autonomy))
    lines.extend(("\n\n" if md else "\n").join(summary).split("\n"))  # Markdown: paragraphs
    if report.counts:
        lines.append("")
        counted = sum(report.counts.values())
        rows = (
            [("outcome", "runs", "share")]
            + [(c, str(n), f"{report.shares[c]:.1%}") for c, n in report.counts.items()]
            + [("total", str(counted), "100.0%")]
        )
        lines.extend(_table(rows, md))
    for name, items in report.breakdowns.items():
        lines.append("")
        lines.append(f"### By {name}" if md else f"By {name} (most budget burned first)")
        table = [(name, "runs", "failures", "failure rate", "budget burned", "verdict")] + [
            (
                b.value,
                str(b.runs),
                str(b.failures),
                f"{b.failure_rate:.0%}",
                f"{b.budget_share:.0%}",
                status_word(b.status),
            )
            for b in items
        ]
        lines.extend(_table(table, md))
    if report.notes:
        lines.append("")
        lines.extend(f"Note: {n}" for n in report.notes)
    return lines


def _autonomy(autonomy: dict[str, Any]) -> str:
    """Days inside budget, what came before, and each grant earned or when it is due."""
    days = autonomy["days_in_budget"]
    text = (
        f"Autonomy: {days:.1f} day(s) inside budget; before that, {autonomy['ended_by']['text']}."
    )
    for g in autonomy["grants"]:
        if g["earned"]:
            state = "earned"
        elif g["due"] is not None:
            state = f"due {g['due']} if the budget holds"
        else:
            state = "not earned: the count starts again once the budget is back"
        text += f"\n- grant {g['index']} after {g['days']} days ({g['grant']}): {state}"
    return text


def _autonomy_cell(autonomy: dict[str, Any] | None) -> str:
    if autonomy is None:
        return ""
    grants = autonomy["grants"]
    earned = sum(1 for g in grants if g["earned"])
    days = f"{autonomy['days_in_budget']:.1f}d in budget"
    return f"{days}, {earned} of {len(grants)} grants" if grants else days


def render_review(reports: Sequence[Report], fmt: str) -> str:
    """One review of many SLOs, the worst first: a summary line each, then each report."""
    ordered = sorted(reports, key=lambda r: review_order(r.status, r.budget_remaining, r.slo))
    if fmt == "json":
        return (
            json.dumps([json.loads(r.to_json()) for r in ordered], indent=2, sort_keys=True) + "\n"
        )
    if fmt == "html":
        return _html(ordered)
    md = fmt == "markdown"
    head = f"Weekly review: {len(ordered)} SLO(s), the worst first"
    lines = [f"# {head}" if md else head, ""]
    table = [
        ("slo", "status", "budget left", "runs left", "burn", "autonomy", "act on first", "action")
    ]
    for r in ordered:
        first = r.act_on[0].rows[0] if r.act_on else ""
        table.append(
            (
                r.slo,
                status_word(r.status),
                f"{r.budget_remaining:.0%}",
                f"{r.runs_left:.1f}",
                f"{r.burn_rate:.2f}x",
                _autonomy_cell(r.autonomy),
                first,
                r.action,
            )
        )
    lines.extend(_table(table, md))
    for r in ordered:
        lines.append("")
        lines.extend(_text(r, md))
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


def _html(reports: Sequence[Report]) -> str:
    """A self-contained page: for each report its figures, a burn-down chart and one chart
    per dimension; a summary first when there are several."""
    return (
        _html_templates()
        .get_template("report.html.j2")
        .render(
            views=[_chart_view(r) for r in reports],
            title=(
                f"Error budget report {reports[0].since} to {reports[0].until}"
                if len(reports) == 1
                else f"Weekly review: {len(reports)} SLOs, the worst first"
            ),
            review=len(reports) > 1,
            word=status_word,
            tone=_tone,
            autonomy_cell=_autonomy_cell,
            pct=lambda value, digits=1: f"{value * 100:.{digits}f}%",
        )
    )


def _tone(report: Report, status: str) -> str:
    """The colour class of a status: red for the most severe, orange for a spent budget,
    amber for any other threshold passed, green within budget, grey without a verdict."""
    if status == "within_budget":
        return "ok"
    if status in ("not_enough_runs", "no_data"):
        return "none"
    if status in ("over_budget", "exhausted"):
        return "spent"
    return "severe" if report.severity and status == report.severity[0] else "warn"


def _chart_view(report: Report) -> dict[str, Any]:
    """What the page draws of one report."""
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
    return {
        "r": report,
        "burndown": bars,
        "allowed_line": " ".join(points),
        "bar": lambda share: round(360 * share / max(widest, 1e-9), 1),
    }
