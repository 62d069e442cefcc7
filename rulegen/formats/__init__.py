"""Output formats: the pipeline's artifacts (rule files, promtool tests, dashboards) as the
files each Prometheus-compatible system loads. Byte-stable, like every generated file.

- ``prometheus`` (the default): ``rules/<name>.rules.yml`` and ``tests/`` for promtool;
- ``prometheus-operator``: ``prometheusrules/<name>.yaml``, a ``PrometheusRule`` each, and a
  ``kustomization.yaml`` listing every object;
- ``mimir``, ``cortex``: ``rules/<name>.rules.yml`` with ``namespace: <name>``;
- ``thanos``: ``rules/<name>.rules.yml``, every group with ``partial_response_strategy: abort``;
- ``vmalert``: ``rules/<name>.rules.yml``, the short windows counted from per-target tallies.

Dashboards are ``dashboards/<name>.json``, or with ``dashboards_configmaps`` (the default of
``prometheus-operator``) ``ConfigMap``s for Grafana's sidecar in ``dashboards/<name>.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rulegen.artifacts import Artifacts
from rulegen.formats import kubernetes, prometheus, rulers, vmalert
from rulegen.formats.target import (
    DASHBOARDS_DIR,
    FORMATS,
    PROMETHEUS,
    PROMETHEUS_OPERATOR,
    RULES_DIR,
    TESTS_DIR,
    Target,
)
from rulegen.writer import OutputFile

__all__ = [
    "DASHBOARDS_DIR",
    "FORMATS",
    "PROMETHEUS",
    "PROMETHEUS_OPERATOR",
    "RULES_DIR",
    "TESTS_DIR",
    "Rendered",
    "Target",
    "render",
]


@dataclass(frozen=True)
class Rendered:
    """The files of one output format, and what the user should know about them."""

    files: list[OutputFile]
    notes: list[str]


def render(artifacts: Artifacts, target: Target) -> Rendered:
    """``artifacts`` as the files of ``target``'s format."""
    notes: list[str] = []
    fmt = target.format
    objects: list[OutputFile] = []  # Kubernetes objects, for the kustomization
    if fmt == PROMETHEUS:
        files = prometheus.rule_files_and_tests(artifacts, target)
    elif fmt == PROMETHEUS_OPERATOR:
        files = objects = kubernetes.prometheus_rules(artifacts, target)
    elif fmt in ("mimir", "cortex"):
        files = rulers.namespaced_files(artifacts, target)
        if fmt == "mimir":
            notes = rulers.mimir_limit_notes(artifacts)
    elif fmt == "thanos":
        files = rulers.thanos_files(artifacts, target)
    else:
        files = vmalert.vmalert_files(artifacts, target)
        notes = vmalert.vmalert_notes(artifacts)
    if target.configmaps:
        boards = kubernetes.dashboard_configmaps(artifacts, target)
        objects = objects + boards
    else:
        boards = prometheus.dashboard_files(artifacts)
    files = files + boards
    if objects:
        files.append(kubernetes.kustomization(objects, target))
    return Rendered(files, notes)
