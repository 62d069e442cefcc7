"""OpenSLO documents into agent-slo specs.

OpenSLO ``v1`` (kinds SLO, SLI, AlertPolicy, AlertCondition, AlertNotificationTarget,
Service, DataSource; SLIs and alert policies inline or by reference, across files) and the
``v1alpha`` SLOs Sloth reads. Each objective of an SLO becomes an agent-slo SLO (named after
the SLO, ``-<index>`` added when it has several) with a ratio SLI over the Prometheus
queries of its ``ratioMetric``; its service is the workflow; its burn-rate alert
conditions become burn-rate tiers.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from rulegen import burn
from rulegen.durations import format_duration, parse_duration
from rulegen.importers.drafts import SLODraft, WorkflowDraft, assemble, result
from rulegen.importers.fields import objective_percent, ratio_sli, spec_labels
from rulegen.importers.findings import ImportResult
from rulegen.importers.source import Source, read_sources
from rulegen.loader import Loc
from rulegen.numbers import number

__all__ = ["drafts", "import_openslo"]

_V1: Final = "openslo/v1"
_V1ALPHA: Final = "openslo/v1alpha"
_KINDS: Final = (
    "SLO",
    "SLI",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
    "Service",
    "DataSource",
)
#: OpenSLO duration units, in days (calendar units as their usual length).
_DAYS: Final = {"d": 1, "w": 7, "M": 30, "Q": 90, "Y": 365}
_CALENDAR_UNITS: Final = {"M": "month", "Q": "quarter", "Y": "year"}
_ALPHA_UNITS: Final = {
    "Second": "s",
    "Minute": "m",
    "Hour": "h",
    "Day": "d",
    "Week": "w",
    "Month": "M",
    "Quarter": "Q",
    "Year": "Y",
}
_TIER_NAME = re.compile(r"[^a-z0-9_.-]+")
_DEFAULT_TIERS_OFF: Final = {t.name: False for t in burn.DEFAULT_TIERS}


def import_openslo(paths: Iterable[str | Path]) -> ImportResult:
    """agent-slo specs from the OpenSLO documents under ``paths``, and what they cannot
    carry."""
    sources, problems = read_sources(paths)
    specs = assemble(drafts(sources), "OpenSLO", "agent-slo import openslo")
    return result(sources, specs, problems)


def drafts(sources: Iterable[Source]) -> list[WorkflowDraft]:
    """Workflow drafts from OpenSLO documents (references resolved across them all); every
    document is read through, so what does not carry over is reported."""
    catalog = _Catalog()
    for source in sources:
        catalog.add(source)
    out = [d for obj in catalog.objects("SLO") if (d := _slo(catalog, obj)) is not None]
    for obj in catalog.unused():
        obj.source.note(obj.loc, f"{obj.kind} '{obj.name}' is not used by any SLO given")
        obj.source.take(obj.loc)
    for source in catalog.sources:
        source.report_unread("OpenSLO")
    return out


@dataclass
class _Object:
    """One OpenSLO object: its kind, name and where it is written."""

    kind: str
    name: str
    version: str
    source: Source
    loc: Loc = ()

    def at(self, *parts: str | int) -> Loc:
        return (*self.loc, *parts)


@dataclass
class _Catalog:
    """Every object given, by kind and name, and which of them the SLOs used."""

    sources: list[Source] = field(default_factory=list)
    by_kind: dict[str, dict[str, _Object]] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)

    def add(self, source: Source) -> None:
        self.sources.append(source)
        data = source.get(())
        version = source.text(("apiVersion",)) or ""
        kind = source.text(("kind",)) or ""
        if not isinstance(data, dict) or version not in (_V1, _V1ALPHA):
            source.take(())
            source.lost((), f"not an OpenSLO document (apiVersion {_V1} or {_V1ALPHA})")
            return
        if kind not in _KINDS:
            source.take(())
            source.lost(("kind",), f"kind '{kind}' has no counterpart in agent-slo specs")
            return
        name = source.text(("metadata", "name"))
        if not name:
            source.take(())
            source.lost(("metadata",), f"a {kind} without metadata.name is left out")
            return
        found = self.by_kind.setdefault(kind, {})
        if name in found:
            source.take(())
            first = found[name]
            source.lost(
                ("metadata", "name"),
                f"{kind} '{name}' is defined at {first.source.where(first.loc)} already",
            )
            return
        found[name] = _Object(kind, name, version, source)

    def objects(self, kind: str) -> list[_Object]:
        return list(self.by_kind.get(kind, {}).values())

    def get(self, kind: str, name: str) -> _Object | None:
        obj = self.by_kind.get(kind, {}).get(name)
        if obj is not None:
            self.used.add((kind, name))
        return obj

    def unused(self) -> list[_Object]:
        return [
            obj
            for kind in _KINDS
            if kind != "SLO"
            for obj in self.objects(kind)
            if (kind, obj.name) not in self.used
        ]


@dataclass
class _Context:
    """What one SLO's conversion needs to report: its name and its "left out" suffix."""

    name: str

    @property
    def left_out(self) -> str:
        return f"; SLO '{self.name}' is left out"


@dataclass(frozen=True)
class _Shared:
    """What every objective of one SLO shares."""

    fields: dict[str, Any]  # description, labels, period
    sli: dict[str, Any] | None  # None for v1alpha: each objective has its own
    alerting: dict[str, Any]
    origins: dict[str, tuple[Source, Loc]]  # where each tier comes from


def _slo(catalog: _Catalog, slo: _Object) -> WorkflowDraft | None:
    """The SLO's objectives as SLO drafts of its service's workflow."""
    source = slo.source
    ctx = _Context(slo.name)
    _metadata(slo)
    service_name = source.text(slo.at("spec", "service"))
    shared = _shared(catalog, slo, ctx)
    objectives = source.items(slo.at("spec", "objectives"))
    if not objectives:
        source.lost(slo.at("spec"), f"no objectives{ctx.left_out}")
    drafts = [
        draft
        for i, loc in enumerate(objectives)
        if (draft := _objective_draft(slo, loc, _name(slo, i, len(objectives)), shared, ctx))
        is not None
    ]
    if not service_name:
        source.lost(slo.at("spec"), f"no service: it is the workflow{ctx.left_out}")
        return None
    if drafts and "tiers" not in (shared.alerting if shared else {}):
        source.note(
            slo.at("spec"),
            "no burn-rate alert condition: the SLO gets agent-slo's default burn-rate tiers",
        )
    labels, fields = _service(catalog, service_name)
    fields["alerting"] = {"zero_tolerance": {"enabled": False}}
    return WorkflowDraft(service_name, labels, fields, source, slo.at("spec", "service"), drafts)


def _shared(catalog: _Catalog, slo: _Object, ctx: _Context) -> _Shared | None:
    """Description, labels, period, SLI and alerting of the SLO; ``None`` (reported) when
    its budgeting or period does not carry over."""
    source = slo.source
    alpha = slo.version == _V1ALPHA
    description = source.text(slo.at("spec", "description")) or source.text(
        slo.at("metadata", "displayName")
    )
    labels = _labels(slo)
    counts_events = _budgeting(slo, ctx)
    period = _alpha_period(slo, ctx) if alpha else _period(slo, ctx)
    sli = None if alpha else _indicator(catalog, slo, ctx)
    tiers, absence, origins = ({}, None, {}) if alpha else _alert_policies(catalog, slo, period)
    if not counts_events or period is None or (sli is None and not alpha):
        return None
    fields: dict[str, Any] = {"period": period}
    if description:
        fields["description"] = description
    if labels:
        fields["labels"] = labels
    alerting: dict[str, Any] = {}
    if tiers:
        alerting["tiers"] = {**_DEFAULT_TIERS_OFF, **tiers}
    if absence is not None:
        alerting["absence"] = absence
    return _Shared(fields, sli, alerting, origins)


def _name(slo: _Object, index: int, count: int) -> str:
    """An objective's SLO name: the SLO's, with ``-<index>`` when it has several."""
    return slo.name if count == 1 else f"{slo.name}-{index}"


def _objective_draft(
    slo: _Object, loc: Loc, name: str, shared: _Shared | None, ctx: _Context
) -> SLODraft | None:
    """One objective as the SLO ``name``."""
    source = slo.source
    alpha = slo.version == _V1ALPHA
    ratio = shared is not None and shared.sli is not None
    objective = _objective(source, loc, ctx, alpha=alpha, ratio=ratio)
    sli = _alpha_indicator(source, loc, ctx) if alpha else (shared.sli if shared else None)
    if shared is None or objective is None or sli is None:
        return None
    fields: dict[str, Any] = {"name": name, "objective": objective, **shared.fields}
    fields["sli"] = {"ratio": sli}
    if shared.alerting:
        fields["alerting"] = copy.deepcopy(shared.alerting)
    target = "targetPercent" if source.get((*loc, "target")) is None else "target"
    spec_loc = slo.at("spec")
    origins = {
        "objective": (source, (*loc, target)),
        "period": (source, (*spec_loc, "timeWindows" if alpha else "timeWindow")),
        "sli": (source, spec_loc),
        "alerting": (source, (*spec_loc, "alertPolicies")),
        **shared.origins,
    }
    return SLODraft(name, fields, source, loc, origins)


def _metadata(obj: _Object) -> None:
    """Read what every object has: kind, name, display name, description (used where the
    importer has a place for them); report annotations, which have none."""
    source = obj.source
    for part in (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "displayName")):
        source.get(obj.at(*part))
    source.mapping(obj.at("spec"))
    source.get(obj.at("spec", "description"))
    if source.get(obj.at("metadata", "annotations")) is not None:
        source.lost(obj.at("metadata", "annotations"), "OpenSLO annotations have no counterpart")


def _labels(obj: _Object) -> dict[str, str]:
    """The object's metadata labels that carry over (OpenSLO allows lists of values)."""
    source = obj.source
    loc = obj.at("metadata", "labels")
    written = source.mapping(loc)
    single = {}
    for name, written_value in written.items():
        value = written_value
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, list | dict):
            source.lost((*loc, name), "a label with several values has no counterpart")
            continue
        single[name] = str(value).lower() if isinstance(value, bool) else str(value)
    source.take(loc)
    return spec_labels(source, loc, single)


def _service(catalog: _Catalog, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The workflow's labels and fields, from the Service object when one is given."""
    service = catalog.get("Service", name)
    if service is None:
        return {}, {}
    _metadata(service)
    labels = _labels(service)
    description = service.source.text(service.at("spec", "description")) or service.source.text(
        service.at("metadata", "displayName")
    )
    return labels, ({"description": description} if description else {})


def _budgeting(slo: _Object, ctx: _Context) -> bool:
    """Whether the SLO counts events (Occurrences), which is what agent-slo budgets count."""
    source = slo.source
    loc = slo.at("spec", "budgetingMethod")
    method = source.text(loc)
    if method is None or method == "Occurrences":
        return True
    if method in ("Timeslices", "RatioTimeslices"):
        for item in source.items(slo.at("spec", "objectives")):
            source.take((*item, "timeSliceTarget"))
            source.take((*item, "timeSliceWindow"))
        source.lost(
            loc,
            f"{method} budgets count good time slices (timeSliceTarget, timeSliceWindow), "
            f"not events: agent-slo's budgets count events (Occurrences){ctx.left_out}",
        )
        return False
    source.lost(loc, f"unknown budgeting method '{method}'{ctx.left_out}")
    return False


def _period(slo: _Object, ctx: _Context) -> str | None:
    """The period of a v1 ``timeWindow``; calendar windows carry over as rolling ones."""
    loc = _time_window(slo, "timeWindow", ctx)
    if loc is None:
        return None
    duration = slo.source.text((*loc, "duration")) or ""
    match = re.fullmatch(r"(\d+)([mhdwMQY])", duration)
    if match is None:
        slo.source.lost((*loc, "duration"), f"invalid duration {duration!r}{ctx.left_out}")
        return None
    return _window(slo.source, loc, int(match.group(1)), match.group(2), ctx)


def _alpha_period(slo: _Object, ctx: _Context) -> str | None:
    """The period of a v1alpha ``timeWindows`` entry (``count`` and ``unit``)."""
    loc = _time_window(slo, "timeWindows", ctx)
    if loc is None:
        return None
    count = slo.source.get((*loc, "count"))
    unit = _ALPHA_UNITS.get(slo.source.text((*loc, "unit")) or "")
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0 or unit is None:
        slo.source.lost(loc, f"expected a count and a unit (Day, Week, Month, ...){ctx.left_out}")
        return None
    return _window(slo.source, loc, count, unit, ctx)


def _time_window(slo: _Object, key: str, ctx: _Context) -> Loc | None:
    """Where the SLO's one time window is written (OpenSLO allows one; others reported)."""
    source = slo.source
    items = source.items(slo.at("spec", key))
    if not items:
        source.lost(slo.at("spec"), f"no {key}{ctx.left_out}")
        return None
    for extra in items[1:]:
        source.take(extra)
        source.lost(extra, "only one time window is read (OpenSLO allows one)")
    source.mapping(items[0])
    return items[0]


def _window(source: Source, loc: Loc, count: int, unit: str, ctx: _Context) -> str | None:
    """``count`` ``unit``s as a period of whole days, calendar alignment reported."""
    rolling = source.get((*loc, "isRolling"))
    calendar = source.take((*loc, "calendar"))
    if unit not in _DAYS:
        month = " (m is minutes; a month is M)" if unit == "m" else ""
        source.lost(
            loc,
            f"a {count}{unit} window{month} is not a whole number of days: agent-slo's "
            f"periods are days or weeks{ctx.left_out}",
        )
        return None
    period = f"{count}w" if unit == "w" else f"{count * _DAYS[unit]}d"
    if unit in _CALENDAR_UNITS:
        source.lost(loc, f"a {_CALENDAR_UNITS[unit]} is carried over as {period}")
    if rolling is False or calendar is not None:
        start = calendar.get("startTime") if isinstance(calendar, dict) else None
        zone = calendar.get("timeZone") if isinstance(calendar, dict) else None
        aligned = f" (from {start}, {zone})" if start or zone else ""
        source.lost(
            loc,
            f"a calendar-aligned window{aligned} is carried over as a rolling {period}: "
            "agent-slo's periods roll",
        )
    return period


def _objective(
    source: Source, loc: Loc, ctx: _Context, *, alpha: bool, ratio: bool
) -> Decimal | None:
    """One objective's target as a percentage."""
    source.mapping(loc)
    source.get((*loc, "displayName"))
    for key in ("indicator", "indicatorRef", "compositeWeight"):
        if source.get((*loc, key)) is not None:
            source.take((*loc, key))
            source.lost((*loc, key), f"composite SLOs have no counterpart{ctx.left_out}")
            return None
    for key in ("op", "value"):
        if source.get((*loc, key)) is not None and (ratio or alpha):
            source.note(
                (*loc, key), "applies to threshold metrics; a ratio's objective is its target"
            )
    target, percent = source.get((*loc, "target")), source.get((*loc, "targetPercent"))
    if target is not None and percent is not None:
        source.lost(
            (*loc, "targetPercent"), "give target or targetPercent, not both: target is read"
        )
    if target is not None:
        return objective_percent(source, (*loc, "target"), target, 100, ctx.left_out)
    if percent is not None:
        return objective_percent(source, (*loc, "targetPercent"), percent, 1, ctx.left_out)
    source.lost(loc, f"no target{ctx.left_out}")
    return None


def _indicator(catalog: _Catalog, slo: _Object, ctx: _Context) -> dict[str, Any] | None:
    """The SLO's SLI, inline or by reference, as ``sli.ratio``."""
    source = slo.source
    inline = slo.at("spec", "indicator")
    ref_loc = slo.at("spec", "indicatorRef")
    ref = source.text(ref_loc)
    if source.get(inline) is not None:
        return _ratio_metric(catalog, _Object("SLI", ctx.name, slo.version, source, inline), ctx)
    if ref is None:
        source.lost(slo.at("spec"), f"no indicator or indicatorRef{ctx.left_out}")
        return None
    sli = catalog.get("SLI", ref)
    if sli is None:
        source.lost(ref_loc, f"no SLI named '{ref}' in the files given{ctx.left_out}")
        return None
    return _ratio_metric(catalog, sli, ctx)


def _ratio_metric(catalog: _Catalog, sli: _Object, ctx: _Context) -> dict[str, Any] | None:
    """An SLI object's ``ratioMetric`` over Prometheus queries as ``sli.ratio``."""
    source = sli.source
    _metadata(sli)
    threshold = sli.at("spec", "thresholdMetric")
    if source.get(threshold) is not None:
        source.take(threshold)
        source.lost(
            threshold,
            "a threshold metric compares single values with a threshold: agent-slo needs "
            "counters of good (or bad) events and of all events, e.g. a latency histogram's "
            f"bucket (good) and count (total) as sli.ratio{ctx.left_out}",
        )
        return None
    loc = sli.at("spec", "ratioMetric")
    if source.get(loc) is None:
        source.lost(sli.at("spec"), f"no ratioMetric{ctx.left_out}")
        return None
    source.mapping(loc)
    for key in ("raw", "rawType"):
        if source.get((*loc, key)) is not None:
            source.take((*loc, key))
            source.lost(
                (*loc, key),
                "a precomputed ratio cannot be counted exactly: agent-slo needs the counters "
                f"of good (or bad) events and of all events{ctx.left_out}",
            )
            return None
    if source.get((*loc, "counter")) is False:
        source.lost(
            (*loc, "counter"),
            f"gauges cannot be counted as events: agent-slo needs counters{ctx.left_out}",
        )
        return None
    given = {k: _query(catalog, source, (*loc, k), ctx) for k in ("good", "bad", "total")}
    return _ratio(source, loc, given, ctx)


def _ratio(
    source: Source, loc: Loc, given: dict[str, tuple[Loc, str] | bool | None], ctx: _Context
) -> dict[str, Any] | None:
    """``sli.ratio`` from the queries read (``False``: written but not usable)."""
    if any(q is False for q in given.values()):
        return None
    good, bad, total = given["good"], given["bad"], given["total"]
    if (good is None) == (bad is None) or total is None:
        source.lost(loc, f"expected good or bad, and total{ctx.left_out}")
        return None
    kind, numerator = ("good", good) if good is not None else ("errors", bad)
    assert isinstance(numerator, tuple) and isinstance(total, tuple)
    return ratio_sli(source, (kind, *numerator), total, ctx.left_out)


def _query(
    catalog: _Catalog, source: Source, loc: Loc, ctx: _Context
) -> tuple[Loc, str] | bool | None:
    """The Prometheus query of one ``good``, ``bad`` or ``total`` (v1 ``metricSource``)."""
    if source.get(loc) is None:
        return None
    source.mapping(loc)
    ms = (*loc, "metricSource")
    source.mapping(ms)
    kind = source.text((*ms, "type"))
    ref = source.text((*ms, "metricSourceRef"))
    if kind is None and ref is not None:
        data_source = catalog.get("DataSource", ref)
        if data_source is None:
            source.lost((*ms, "metricSourceRef"), f"no DataSource named '{ref}'{ctx.left_out}")
            return False
        kind = _data_source_type(data_source)
    if (kind or "").lower() != "prometheus":
        source.take(ms)
        source.lost(
            (*ms, "type") if source.get((*ms, "type")) is not None else ms,
            f"metric source type {kind!r} is not Prometheus: only Prometheus queries carry "
            f"over{ctx.left_out}",
        )
        return False
    query_loc = (*ms, "spec", "query")
    source.mapping((*ms, "spec"))
    query = source.text(query_loc)
    if not query:
        source.lost((*ms, "spec"), f"no query{ctx.left_out}")
        return False
    return query_loc, query


def _data_source_type(data_source: _Object) -> str | None:
    """A DataSource's type; its connection details are the Prometheus that loads the rules."""
    source = data_source.source
    _metadata(data_source)
    details = data_source.at("spec", "connectionDetails")
    if source.get(details) is not None:
        source.take(details)
        source.note(details, "the rules run in the Prometheus that loads them")
    return source.text(data_source.at("spec", "type"))


def _alpha_indicator(source: Source, loc: Loc, ctx: _Context) -> dict[str, Any] | None:
    """A v1alpha objective's ``ratioMetrics`` (queries with ``source``, ``queryType``)."""
    metrics = (*loc, "ratioMetrics")
    if source.get(metrics) is None:
        if source.get((*loc, "thresholdMetric")) is not None:
            source.take((*loc, "thresholdMetric"))
        source.lost(loc, f"only ratioMetrics carry over{ctx.left_out}")
        return None
    source.mapping(metrics)
    if source.get((*metrics, "incremental")) is False:
        source.lost((*metrics, "incremental"), f"gauges cannot be counted as events{ctx.left_out}")
        return None
    given: dict[str, tuple[Loc, str] | bool | None] = {}
    for key in ("good", "bad", "total"):
        given[key] = _alpha_query(source, (*metrics, key), ctx)
    return _ratio(source, metrics, given, ctx)


def _alpha_query(source: Source, loc: Loc, ctx: _Context) -> tuple[Loc, str] | bool | None:
    if source.get(loc) is None:
        return None
    source.mapping(loc)
    kind = source.text((*loc, "source")) or ""
    query_type = source.text((*loc, "queryType")) or "promql"
    if kind.lower() != "prometheus" or query_type.lower() != "promql":
        source.take(loc)
        source.lost(loc, f"source {kind!r} is not Prometheus{ctx.left_out}")
        return False
    query = source.text((*loc, "query"))
    if not query:
        source.lost(loc, f"no query{ctx.left_out}")
        return False
    return (*loc, "query"), query


def _alert_policies(
    catalog: _Catalog, slo: _Object, period: str | None
) -> tuple[dict[str, Any], bool | None, dict[str, tuple[Source, Loc]]]:
    """The SLO's burn-rate alert conditions as tiers, ``False`` when every policy that says
    so alerts on no data (else agent-slo's default), and where each tier comes from."""
    tiers: dict[str, Any] = {}
    origins: dict[str, tuple[Source, Loc]] = {}
    no_data: list[bool] = []
    for item in slo.source.items(slo.at("spec", "alertPolicies")):
        policy = _policy(catalog, slo.source, item)
        if policy is None:
            continue
        if (when := _policy_switches(catalog, policy)) is not None:
            no_data.append(when)
        for condition in _conditions(catalog, policy):
            where = (condition.source, condition.at("spec", "condition"))
            tier = _tier(condition, period)
            name = _tier_name(condition.name)
            if tier is None or origins.get(f"alerting.tiers.{name}") == where:
                continue  # the same condition, listed by two policies
            while name in tiers:
                name = f"{name}-{len(tiers)}"
            tiers[name] = tier
            origins[f"alerting.tiers.{name}"] = where
    absence = False if no_data and not any(no_data) else None
    return tiers, absence, origins


def _policy(catalog: _Catalog, source: Source, item: Loc) -> _Object | None:
    """The AlertPolicy an SLO lists: inline, by ``alertPolicyRef``, or by name."""
    value = source.get(item)
    if isinstance(value, dict) and "alertPolicyRef" not in value:
        inline = source.text((*item, "metadata", "name")) or f"alertPolicies[{item[-1]}]"
        return _Object("AlertPolicy", inline, "", source, item)
    ref_loc = (*item, "alertPolicyRef") if isinstance(value, dict) else item
    name = source.text(ref_loc)
    if not name:
        source.lost(item, "expected an alert policy or a reference to one")
        return None
    policy = catalog.get("AlertPolicy", name)
    if policy is None:
        source.lost(ref_loc, f"no AlertPolicy named '{name}' in the files given")
    return policy


def _policy_switches(catalog: _Catalog, policy: _Object) -> bool | None:
    """Report what a policy says that is Alertmanager's (notification targets, resolved
    notifications) or that leaves its conditions out; its ``alertWhenNoData``."""
    source = policy.source
    _metadata(policy)
    resolved = policy.at("spec", "alertWhenResolved")
    if source.get(resolved) is True:
        source.note(resolved, "resolved notifications are Alertmanager's `send_resolved`")
    for item in source.items(policy.at("spec", "notificationTargets")):
        target = source.take(item)
        ref = target.get("targetRef") if isinstance(target, dict) else None
        target_object = catalog.get("AlertNotificationTarget", str(ref)) if ref else None
        if target_object is not None:
            target_object.source.take(target_object.loc)  # reported here, as a whole
        named = f" ('{ref}')" if ref else ""
        source.lost(
            item,
            f"notification targets{named} are Alertmanager receivers: route the alerts on "
            "their labels (slo, workflow, severity)",
        )
    breaching = policy.at("spec", "alertWhenBreaching")
    if source.get(breaching) is False:
        source.take(policy.at("spec", "conditions"))
        source.lost(breaching, "a policy that never alerts on its conditions is left out")
    value = source.get(policy.at("spec", "alertWhenNoData"))
    return value if isinstance(value, bool) else None


def _conditions(catalog: _Catalog, policy: _Object) -> list[_Object]:
    """A policy's alert conditions: inline, or by ``conditionRef``."""
    source = policy.source
    if source.get(policy.at("spec", "alertWhenBreaching")) is False:
        return []
    out = []
    for item in source.items(policy.at("spec", "conditions")):
        ref = source.text((*item, "conditionRef"))
        if ref is not None:
            condition = catalog.get("AlertCondition", ref)
            if condition is None:
                source.lost((*item, "conditionRef"), f"no AlertCondition named '{ref}'")
            else:
                out.append(condition)
            continue
        name = source.text((*item, "metadata", "name")) or f"condition-{item[-1]}"
        source.get((*item, "kind"))
        out.append(_Object("AlertCondition", name, "", source, item))
    return out


def _tier(condition: _Object, period: str | None) -> dict[str, Any] | None:
    """A burn-rate alert condition as a burn-rate tier: the budget share its burn rate
    spends over its lookback window, and agent-slo's short window."""
    source = condition.source
    _metadata(condition)
    severity = source.text(condition.at("spec", "severity"))
    loc = condition.at("spec", "condition")
    source.mapping(loc)
    kind = source.text((*loc, "kind"))
    op = source.text((*loc, "op"))
    threshold = source.get((*loc, "threshold"))
    lookback = source.text((*loc, "lookbackWindow"))
    alert_after = source.text((*loc, "alertAfter"))
    if kind != "burnrate":
        source.lost((*loc, "kind"), f"only burnrate conditions carry over, not {kind!r}")
        return None
    if op not in ("gt", "gte"):
        source.lost((*loc, "op"), f"a burn-rate alert fires above its threshold, not {op!r}")
        return None
    try:
        long_window = parse_duration(lookback or "")
        factor = Decimal(str(threshold))
        if isinstance(threshold, bool) or factor <= 0:
            raise ValueError(threshold)
    except (ValueError, ArithmeticError):
        source.lost(loc, "expected a positive threshold and a lookbackWindow such as 1h")
        return None
    if period is None:
        return None
    budget_percent = (
        (factor * long_window / parse_duration(period) * 100).quantize(Decimal("1e-9")).normalize()
    )
    if budget_percent > 100:
        source.lost(
            (*loc, "threshold"),
            f"burning {factor}x for {lookback} spends more than the {period} budget",
        )
        return None
    short = burn.default_short_window(long_window)
    source.note(
        loc,
        f"fires at {number(factor)}x over {lookback} (budget_percent {number(budget_percent)} "
        f"of {period}) while the last {format_duration(short)} burn as fast too (the "
        "Workbook's short window)",
    )
    tier: dict[str, Any] = {
        "budget_percent": budget_percent,
        "long_window": lookback,
        "short_window": format_duration(short),
    }
    if severity:
        tier["severity"] = severity
    if alert_after and not re.fullmatch(r"0+[a-z]*", alert_after):
        try:
            parse_duration(alert_after)
            tier["for"] = alert_after
        except ValueError as exc:
            source.lost((*loc, "alertAfter"), f"{exc}: the alert fires at once")
    return tier


def _tier_name(name: str) -> str:
    """A condition's name as a tier name (lower case, letters, digits, '-', '_', '.')."""
    slug = _TIER_NAME.sub("-", name.lower()).strip("-_.")
    return slug or "condition"
