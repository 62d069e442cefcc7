"""Sloth specs into agent-slo specs.

Reads what ``sloth generate`` reads: ``version: prometheus/v1`` specs, Kubernetes
``PrometheusServiceLevel`` resources (``sloth.slok.dev/v1``, field names in camelCase) and
OpenSLO ``v1alpha`` SLOs (handed to :mod:`rulegen.importers.openslo`). A Sloth service is a
workflow, each SLO an SLO named ``<service>-<slo>`` (Sloth's ``sloth_id``) with a ratio SLI,
its page and ticket alerts the four default burn-rate tiers, which have Sloth's windows and
factors over Sloth's 30-day period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from rulegen.importers import openslo
from rulegen.importers.drafts import SLODraft, WorkflowDraft, assemble, result
from rulegen.importers.fields import objective_percent, ratio_sli, spec_labels
from rulegen.importers.findings import ImportResult
from rulegen.importers.source import Source, read_sources
from rulegen.loader import Loc

__all__ = ["import_sloth"]

SLOTH_PERIOD: Final = "30d"  # what `sloth generate` uses unless told otherwise on its command line
_PAGE_TIERS = ("page_fast", "page_slow")
_TICKET_TIERS = ("ticket_fast", "ticket_slow")


@dataclass(frozen=True)
class _Format:
    """Where a Sloth format keeps its fields, and what it calls them."""

    name: str
    root: Loc
    slo_plugins: str
    error_query: str
    total_query: str
    error_ratio_query: str
    page_alert: str
    ticket_alert: str


_PROMETHEUS_V1 = _Format(
    "Sloth's prometheus/v1 format",
    (),
    "slo_plugins",
    "error_query",
    "total_query",
    "error_ratio_query",
    "page_alert",
    "ticket_alert",
)
_KUBERNETES_V1 = _Format(
    "Sloth's PrometheusServiceLevel (sloth.slok.dev/v1)",
    ("spec",),
    "sloPlugins",
    "errorQuery",
    "totalQuery",
    "errorRatioQuery",
    "pageAlert",
    "ticketAlert",
)

#: SLO plugins whose work agent-slo does in its own way: what becomes of it.
_PLUGINS_DONE_OTHERWISE: Final = {
    "sloth.dev/core/debug/v1": "it only logs while Sloth generates rules",
    "sloth.dev/core/sli_rules/v1": "agent-slo generates its own SLI rules",
    "sloth.dev/core/metadata_rules/v1": "agent-slo generates its own budget rules",
    "sloth.dev/core/alert_rules/v1": "agent-slo generates its own burn-rate alerts",
    "sloth.dev/contrib/validate_victoria_metrics/v1": (
        "agent-slo's rules are plain PromQL, which VictoriaMetrics' vmalert runs as well"
    ),
    "sloth.dev/contrib/denominator_corrected_rules/v1": (
        "it corrects Sloth's long windows (averages of 5-minute ratios) for uneven traffic; "
        "agent-slo's windows and period are ratios of summed events already"
    ),
}
#: SLO plugins whose effect has no place in agent-slo's output.
_PLUGINS_LOST: Final = {
    "sloth.dev/contrib/info_labels/v1": (
        "it adds labels to Sloth's sloth_slo_info series, which agent-slo does not record"
    ),
    "sloth.dev/contrib/rule_intervals/v1": (
        "it sets the evaluation interval of Sloth's rule groups; agent-slo's groups have "
        "their own (events counted on 5-minute steps, short windows at every evaluation)"
    ),
}


def import_sloth(paths: Iterable[str | Path]) -> ImportResult:
    """agent-slo specs from the Sloth specs under ``paths``, and what they cannot carry."""
    sources, problems = read_sources(paths)
    drafts: list[WorkflowDraft] = []
    foreign: list[Source] = []
    for source in sources:
        data = source.get(())
        if not isinstance(data, dict):
            source.lost((), "expected a mapping: a Sloth spec or resource")
            continue
        api, kind = data.get("apiVersion"), data.get("kind")
        if data.get("version") == "prometheus/v1":
            drafts += _service(source, _PROMETHEUS_V1)
        elif api == "sloth.slok.dev/v1" and kind == "PrometheusServiceLevel":
            _kubernetes_object(source)
            drafts += _service(source, _KUBERNETES_V1)
        elif api == "sloth.slok.dev/v1" and kind == "AlertWindows":
            _alert_windows(source)
        elif isinstance(api, str) and api.startswith("openslo/"):
            foreign.append(source)
            continue
        else:
            source.lost(
                (),
                "not a Sloth spec: expected `version: prometheus/v1`, or `apiVersion: "
                "sloth.slok.dev/v1` with `kind: PrometheusServiceLevel`",
            )
            continue
        source.report_unread(
            _KUBERNETES_V1.name if api == "sloth.slok.dev/v1" else _PROMETHEUS_V1.name
        )
    drafts += openslo.drafts(foreign)
    specs = assemble(drafts, "Sloth", "agent-slo import sloth")
    return result(sources, specs, problems)


def _kubernetes_object(source: Source) -> None:
    """The resource's own fields: the PrometheusRule object Sloth writes gets its name,
    namespace and labels from them, which `agent-slo generate --format prometheus-operator`
    takes as options."""
    source.get(("apiVersion",))
    source.get(("kind",))
    source.take(("status",))
    meta = source.mapping(("metadata",))
    source.take(("metadata",))
    if meta.get("namespace"):
        source.note(
            ("metadata", "namespace"),
            "not part of a spec: `agent-slo generate --format prometheus-operator "
            f"--namespace {meta['namespace']}` puts the PrometheusRules there",
        )
    labels = meta.get("labels")
    if isinstance(labels, dict) and labels:
        options = " ".join(f"--label {k}={v}" for k, v in labels.items())
        source.lost(
            ("metadata", "labels"),
            "not part of a spec: `agent-slo generate --format prometheus-operator "
            f"{options}` labels the PrometheusRules (e.g. for the operator's ruleSelector)",
        )
    if meta.get("annotations"):
        source.lost(("metadata", "annotations"), "the resource's annotations have no counterpart")


def _service(source: Source, fmt: _Format) -> list[WorkflowDraft]:
    """The service of one document as a workflow draft (none if nothing carries over)."""
    root = fmt.root
    source.get(("version",))
    if root:
        source.mapping(root)
    service = source.text((*root, "service"))
    labels = spec_labels(source, (*root, "labels"), source.labels((*root, "labels")))
    _plugins(source, (*root, fmt.slo_plugins))
    slo_locs = source.items((*root, "slos"))
    if not service:
        source.lost(root, "no service named: it is the workflow, so nothing is imported")
        return []
    if not slo_locs:
        source.lost(root, f"service '{service}' has no SLOs")
    slos = [slo for loc in slo_locs if (slo := _slo(source, loc, fmt, service)) is not None]
    fields: dict[str, Any] = {
        "period": SLOTH_PERIOD,
        # Sloth services report no agent outcomes: no zero-tolerance alert on them.
        "alerting": {"zero_tolerance": {"enabled": False}},
    }
    return [WorkflowDraft(service, labels, fields, source, (*root, "service"), slos)]


def _slo(source: Source, loc: Loc, fmt: _Format, service: str) -> SLODraft | None:
    """One Sloth SLO, or ``None`` (reported) when its SLI or objective does not carry over."""
    source.mapping(loc)
    name = source.text((*loc, "name"))
    if not name:
        source.lost(loc, "an SLO without a name is left out")
        source.take(loc)
        return None
    slo_name = f"{service}-{name}"
    left_out = f"; SLO '{slo_name}' is left out"
    fields: dict[str, Any] = {"name": slo_name}
    description = source.text((*loc, "description"))
    if description:
        fields["description"] = description
    labels = spec_labels(source, (*loc, "labels"), source.labels((*loc, "labels")))
    if labels:
        fields["labels"] = labels
    _plugins(source, (*loc, "plugins"))
    objective = objective_percent(
        source, (*loc, "objective"), source.get((*loc, "objective")), 1, left_out
    )
    sli = _sli(source, (*loc, "sli"), fmt, left_out)
    alerting = _alerting(source, (*loc, "alerting"), fmt, slo_name)
    if objective is None or sli is None:
        return None
    fields["objective"] = objective
    fields["sli"] = {"ratio": sli}
    if alerting:
        fields["alerting"] = alerting
    origins = {key: (source, (*loc, key)) for key in ("objective", "sli", "labels", "alerting")}
    origins |= {
        f"alerting.tiers.{tier}": (source, (*loc, "alerting", alert))
        for alert, tiers in ((fmt.page_alert, _PAGE_TIERS), (fmt.ticket_alert, _TICKET_TIERS))
        for tier in tiers
    }
    return SLODraft(slo_name, fields, source, loc, origins)


def _sli(source: Source, loc: Loc, fmt: _Format, left_out: str) -> dict[str, Any] | None:
    """The ratio SLI of Sloth's ``events`` SLI; raw ratios and plugins are reported."""
    source.mapping(loc)
    kinds = [k for k in ("events", "raw", "plugin") if source.get((*loc, k)) is not None]
    if len(kinds) != 1:
        source.lost(
            loc, f"expected one of events, raw or plugin, found {kinds or 'none'}{left_out}"
        )
        source.take(loc)
        return None
    (kind,) = kinds
    here = (*loc, kind)
    if kind == "plugin":
        plugin_id = source.text((*here, "id")) or "(no id)"
        source.take(here)
        source.lost(
            here,
            f"SLI plugin '{plugin_id}' computes the SLI with Sloth's own code: write the "
            f"counters it reads as sli.ratio (errors or good, and total){left_out}",
        )
        return None
    if kind == "raw":
        source.take(here)
        source.lost(
            (*here, fmt.error_ratio_query),
            "a precomputed error ratio cannot be counted exactly (nor summed over windows): "
            "agent-slo needs the counters of bad (or good) events and of all events"
            f"{left_out}",
        )
        return None
    error_query = source.text((*here, fmt.error_query))
    total_query = source.text((*here, fmt.total_query))
    if not error_query or not total_query:
        source.lost(here, f"events needs {fmt.error_query} and {fmt.total_query}{left_out}")
        return None
    return ratio_sli(
        source,
        ("errors", (*here, fmt.error_query), error_query),
        ((*here, fmt.total_query), total_query),
        left_out,
    )


def _alerting(source: Source, loc: Loc, fmt: _Format, slo_name: str) -> dict[str, Any]:
    """Sloth's page and ticket alerts as the default tiers, with their labels and
    annotations; the alert name becomes ErrorBudgetBurn."""
    source.mapping(loc)
    alert_name = source.text((*loc, "name"))
    if alert_name:
        source.note(
            (*loc, "name"),
            f"the burn alerts are named ErrorBudgetBurn, one per window pair (labels "
            f"slo=\"{slo_name}\", long_window, short_window), not '{alert_name}'",
        )
    labels = source.labels((*loc, "labels"))
    severity = labels.pop("severity", None)
    labels = spec_labels(source, (*loc, "labels"), labels)
    annotations = source.labels((*loc, "annotations"))
    tiers: dict[str, Any] = {}
    for key, names in ((fmt.page_alert, _PAGE_TIERS), (fmt.ticket_alert, _TICKET_TIERS)):
        tier = _alert(source, (*loc, key), severity, annotations)
        for name in names:
            tiers[name] = tier if tier is not None else False
    out: dict[str, Any] = {}
    if labels:
        out["labels"] = labels
    tiers = {name: tier for name, tier in tiers.items() if tier != {}}
    if tiers:
        out["tiers"] = tiers
    return out


def _alert(
    source: Source, loc: Loc, severity: str | None, annotations: dict[str, str]
) -> dict[str, Any] | None:
    """One of Sloth's alerts as a tier's fields; ``None`` when it is disabled."""
    source.mapping(loc)
    disable = source.get((*loc, "disable"))
    labels = source.labels((*loc, "labels"))
    own_annotations = source.labels((*loc, "annotations"))
    if disable is True:
        return None
    if disable not in (None, False):
        source.lost((*loc, "disable"), f"expected true or false, found {disable!r}")
    severity = labels.pop("severity", severity)
    labels = spec_labels(source, (*loc, "labels"), labels)
    tier: dict[str, Any] = {}
    if severity:
        tier["severity"] = severity
    if labels:
        tier["labels"] = labels
    if annotations or own_annotations:
        tier["annotations"] = {**annotations, **own_annotations}
    return tier


def _plugins(source: Source, loc: Loc) -> None:
    """Report each SLO plugin: what agent-slo does instead, or that its effect is lost."""
    source.mapping(loc)
    source.get((*loc, "overridePrevious"))
    for item in source.items((*loc, "chain")):
        plugin_id = source.text((*item, "id")) or "(no id)"
        source.take(item)
        if plugin_id in _PLUGINS_DONE_OTHERWISE:
            source.note(item, f"plugin '{plugin_id}': {_PLUGINS_DONE_OTHERWISE[plugin_id]}")
        else:
            why = _PLUGINS_LOST.get(
                plugin_id, "it changes Sloth's rules in ways an import cannot know"
            )
            source.lost(item, f"plugin '{plugin_id}': {why}")


_WINDOW_TIERS: Final = (
    (("page", "quick"), "page_fast"),
    (("page", "slow"), "page_slow"),
    (("ticket", "quick"), "ticket_fast"),
    (("ticket", "slow"), "ticket_slow"),
)


def _alert_windows(source: Source) -> None:
    """Sloth's alert windows are a setting of `sloth generate`, not a spec: say how to give
    them to the SLOs as tiers."""
    spec = source.take(("spec",))
    source.take(())
    period = spec.get("sloPeriod", "?") if isinstance(spec, dict) else "?"
    tiers = []
    for (severity, speed), tier in _WINDOW_TIERS:
        window = spec.get(severity, {}).get(speed, {}) if isinstance(spec, dict) else {}
        if isinstance(window, dict) and window:
            tiers.append(
                f"{tier}: {{budget_percent: {window.get('errorBudgetPercent')}, long_window: "
                f"{window.get('longWindow')}, short_window: {window.get('shortWindow')}}}"
            )
    source.lost(
        (),
        f"Sloth's alert windows for {period} periods are a setting of `sloth generate`, not "
        "an SLO: agent-slo scales its default windows to each SLO's period; to use these "
        f"windows, give the SLOs of {period} period alerting.tiers {{{', '.join(tiers)}}}",
    )
