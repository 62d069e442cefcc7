"""Drafts of agent-slo specs: merged per workflow, validated as specs are, then written.

Each importer turns its documents into :class:`WorkflowDraft` objects, one per service
document, each SLO remembering where in the source it (and each of its parts) was written.
:func:`assemble` merges drafts of the same workflow, validates the result exactly as
``agent-slo validate`` would, reports anything the specs refuse at its place in the source
(and leaves that SLO out), and renders each workflow's spec as YAML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from rulegen.errors import SpecError, SpecErrors
from rulegen.importers.findings import Finding, ImportedSpec, ImportResult
from rulegen.importers.source import Source
from rulegen.loader import Document, Loc, load_text
from rulegen.resolve import build
from rulegen.spec import API_VERSION

__all__ = ["SLODraft", "WorkflowDraft", "assemble", "result", "write_specs"]

_SLOS_FIELD = "slos["
_TIER_FIELD = re.compile(r"^alerting\.tiers\.([^.\[]+)")


@dataclass
class SLODraft:
    """One SLO's spec fields, and where they come from in the source."""

    name: str
    fields: dict[str, Any]
    source: Source
    loc: Loc
    #: Where parts of the SLO's spec come from: a field path in the SLO's spec (e.g.
    #: ``alerting.tiers.fast-burn``) to the document and location it was made from.
    origins: dict[str, tuple[Source, Loc]] = field(default_factory=dict)

    def origin(self, spec_field: str) -> tuple[Source, Loc]:
        """The document and location a field of the SLO's spec was made from (that of the
        nearest part of it whose origin is known; the SLO's own place by default)."""
        best: tuple[int, tuple[Source, Loc]] = (-1, (self.source, self.loc))
        for key, where in self.origins.items():
            inside = spec_field == key or spec_field.startswith((f"{key}.", f"{key}["))
            if inside and len(key) > best[0]:
                best = (len(key), where)
        return best[1]

    def lost(self, spec_field: str, message: str) -> None:
        """Report, where ``spec_field`` comes from, that it is not carried over."""
        source, loc = self.origin(spec_field)
        source.lost(loc, message)

    def note(self, spec_field: str, message: str) -> None:
        """Report how ``spec_field`` is carried over, where it comes from."""
        source, loc = self.origin(spec_field)
        source.note(loc, message)


@dataclass
class WorkflowDraft:
    """One service of a source document, as a workflow: its fields and SLOs."""

    workflow: str
    labels: dict[str, str]
    fields: dict[str, Any]
    source: Source
    loc: Loc
    slos: list[SLODraft] = field(default_factory=list)


def assemble(drafts: Sequence[WorkflowDraft], tool: str, command: str) -> tuple[ImportedSpec, ...]:
    """Validated specs, one per workflow, from ``drafts``; what they cannot hold is reported
    to the drafts' sources. ``tool`` and ``command`` name the import in each file's header."""
    merged = _merge(drafts)
    while True:
        documents, refused = _validate(merged)
        if not refused:
            break
        for workflow, errors in refused.items():
            _refuse(merged, workflow, errors)
    specs = []
    for workflow, doc in documents.items():
        group = merged[workflow]
        sources = sorted({d.source.path for d in group})
        header = (
            f"# Imported from {tool} by `{command}`: {', '.join(sources)}.\n"
            "# Review what the import reported, then run `agent-slo validate` and "
            "`agent-slo generate`.\n"
        )
        specs.append(ImportedSpec(workflow, f"{workflow}.yaml", header + _dump(_spec(group))))
        _report_notes(group, doc)
    return tuple(sorted(specs, key=lambda s: s.workflow))


def result(
    sources: Sequence[Source], specs: tuple[ImportedSpec, ...], read: list[Finding]
) -> ImportResult:
    """The import's result: its specs, and every finding of every source, in file order."""
    findings = [*read, *(f for s in sources for f in s.findings)]
    return ImportResult(specs, tuple(sorted(set(findings))))


def write_specs(specs: Sequence[ImportedSpec], directory: Path) -> list[Path]:
    """Write each spec into ``directory`` (created if needed); the paths written."""
    if specs:
        directory.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in specs:
        path = directory / spec.file_name
        path.write_text(spec.text, encoding="utf-8")
        written.append(path)
    return written


def _merge(drafts: Sequence[WorkflowDraft]) -> dict[str, list[WorkflowDraft]]:
    """Drafts grouped by workflow; an SLO name met before is reported and left out."""
    groups: dict[str, list[WorkflowDraft]] = {}
    seen: dict[str, str] = {}
    for draft in drafts:
        kept = []
        for slo in draft.slos:
            if slo.name in seen:
                slo.source.lost(
                    slo.loc,
                    f"SLO '{slo.name}' is imported from {seen[slo.name]} already; SLO names "
                    "are unique across specs, so this one is left out",
                )
                continue
            seen[slo.name] = slo.source.where(slo.loc)
            kept.append(slo)
        draft.slos = kept
        if kept:
            groups.setdefault(draft.workflow, []).append(draft)
    return groups


def _spec(group: list[WorkflowDraft]) -> dict[str, Any]:
    """The spec of one workflow: labels every draft shares stay the workflow's, the others
    go to the SLOs of the drafts that give them."""
    first = group[0]
    shared = {k: v for k, v in first.labels.items() if all(d.labels.get(k) == v for d in group)}
    slos = []
    for draft in group:
        own = {k: v for k, v in draft.labels.items() if k not in shared}
        for slo in draft.slos:
            fields = dict(slo.fields)
            if own:
                fields["labels"] = {**own, **fields.get("labels", {})}
            slos.append(_ordered(fields))
    spec: dict[str, Any] = {"apiVersion": API_VERSION, "workflow": first.workflow}
    spec.update({k: v for k, v in first.fields.items() if k != "labels"})
    if shared:
        spec["labels"] = shared
    spec["slos"] = slos
    return _ordered(spec)


_ORDER = (
    "apiVersion",
    "workflow",
    "name",
    "description",
    "period",
    "objective",
    "labels",
    "sli",
    "alerting",
    "slos",
)


def _ordered(fields: dict[str, Any]) -> dict[str, Any]:
    rank = {k: i for i, k in enumerate(_ORDER)}
    return dict(sorted(fields.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def _validate(
    merged: dict[str, list[WorkflowDraft]],
) -> tuple[dict[str, Document], dict[str, list[SpecError]]]:
    """Each workflow's spec loaded and resolved as `agent-slo validate` does; the errors by
    workflow."""
    documents: dict[str, Document] = {}
    refused: dict[str, list[SpecError]] = {}
    for workflow, group in merged.items():
        docs, errors = load_text(_dump(_spec(group)), workflow)
        if errors:
            refused[workflow] = errors
        else:
            documents[workflow] = docs[0]
    if not refused:
        try:
            build(list(documents.values()))
        except SpecErrors as exc:
            for error in exc.errors:
                refused.setdefault(error.path, []).append(error)
    return documents, refused


def _refuse(merged: dict[str, list[WorkflowDraft]], workflow: str, errors: list[SpecError]) -> None:
    """Report what the spec of ``workflow`` refuses where it comes from, and leave it out:
    the tiers or SLOs named in the errors, or the whole workflow for an error outside its
    SLOs."""
    group = merged[workflow]
    slos = [(draft, slo) for draft in group for slo in draft.slos]
    dropped: set[int] = set()
    for error in errors:
        index = _slo_index(error.field)
        if index is None or index >= len(slos):
            draft = group[0]
            draft.source.lost(
                draft.loc,
                f"agent-slo refuses the spec of workflow '{workflow}' ({_said(error)}): "
                "nothing of it is carried over",
            )
            dropped.update(range(len(slos)))
            continue
        slo = slos[index][1]
        inner = error.field.partition("]")[2].lstrip(".")
        tier = _TIER_FIELD.match(inner)
        if tier is not None and tier.group(1) in slo.fields.get("alerting", {}).get("tiers", {}):
            del slo.fields["alerting"]["tiers"][tier.group(1)]
            slo.lost(
                inner,
                f"agent-slo refuses {inner}: {error.message}; the tier is left out",
            )
            continue
        slo.lost(
            inner,
            f"agent-slo refuses {inner or 'the SLO'}: {error.message}; SLO '{slo.name}' is "
            "left out",
        )
        dropped.add(index)
    for i in sorted(dropped, reverse=True):
        draft, slo = slos[i]
        draft.slos.remove(slo)
    merged[workflow] = [d for d in group if d.slos]
    if not merged[workflow]:
        del merged[workflow]


def _said(error: SpecError) -> str:
    return f"{error.field}: {error.message}" if error.field else error.message


def _slo_index(spec_field: str) -> int | None:
    if not spec_field.startswith(_SLOS_FIELD):
        return None
    number = spec_field[len(_SLOS_FIELD) :].partition("]")[0]
    return int(number) if number.isdigit() else None


def _report_notes(group: list[WorkflowDraft], doc: Document) -> None:
    """The notes `agent-slo generate` would print (tiers adapted to low objectives), at the
    SLOs they are about."""
    (workflow,) = build([doc])
    by_name = {slo.name: slo for draft in group for slo in draft.slos}
    for slo in workflow.slos:
        draft = by_name[slo.name]
        for note in slo.notes:
            draft.note("objective", note)


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as literal blocks, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    return dumper.represent_float(float(value))


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(Decimal, _decimal)
_Dumper.add_representer(str, _str)


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000,
        indent=2,
    )
