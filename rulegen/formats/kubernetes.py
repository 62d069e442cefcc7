"""Kubernetes objects: a ``PrometheusRule`` (monitoring.coreos.com/v1) per rule file for
the Prometheus Operator, a ``ConfigMap`` per dashboard for Grafana's sidecar, and a
``kustomization.yaml`` listing them, so the output folder is a Kustomize base of its own.
"""

from __future__ import annotations

import re
from typing import Any, Final

from rulegen import writer
from rulegen.artifacts import Artifacts
from rulegen.errors import GenerateError
from rulegen.formats.prometheus import dashboard_json
from rulegen.formats.target import DASHBOARDS_DIR, Target
from rulegen.writer import OutputFile

__all__ = [
    "GRAFANA_DASHBOARD_LABEL",
    "PART_OF_LABEL",
    "PROMETHEUS_RULES_DIR",
    "dashboard_configmaps",
    "kustomization",
    "object_name",
    "prometheus_rules",
]

PROMETHEUS_RULES_DIR: Final = "prometheusrules"
KUSTOMIZATION: Final = "kustomization.yaml"
#: What Grafana's dashboard sidecar looks for (kube-prometheus-stack's and the Grafana
#: chart's default label).
GRAFANA_DASHBOARD_LABEL: Final = ("grafana_dashboard", "1")
#: On every generated object: `kubectl get prometheusrules,configmaps -l <this>` finds them.
PART_OF_LABEL: Final = ("app.kubernetes.io/part-of", "agent-slo")

_NOT_IN_NAMES = re.compile(r"[^a-z0-9.-]+")


def object_name(stem: str) -> str:
    """A Kubernetes object name (a DNS subdomain) for a file stem: lower case, ``_`` as ``-``."""
    return _NOT_IN_NAMES.sub("-", stem.lower()).strip("-.")


def _unique(kind: str, names: dict[str, str]) -> None:
    """``names`` maps each object name to the stem it came from; two stems giving one
    name would overwrite each other in the cluster."""
    seen: dict[str, str] = {}
    for stem, name in names.items():
        if name in seen:
            raise GenerateError(
                f"could not generate the {kind}s: '{seen[name]}' and '{stem}' both become "
                f"'{name}' (Kubernetes names are lower case, without '_'): rename one"
            )
        seen[name] = stem


def _metadata(name: str, target: Target, *extra: tuple[str, str]) -> dict[str, Any]:
    labels = dict(sorted([PART_OF_LABEL, *extra, *target.labels]))
    meta: dict[str, Any] = {"name": name}
    if target.namespace is not None:
        meta["namespace"] = target.namespace
    meta["labels"] = labels
    return meta


def _object(source: str, target: Target, body: dict[str, Any]) -> str:
    return writer.header(source, target.command) + writer.dump_yaml(body)


def prometheus_rules(artifacts: Artifacts, target: Target) -> list[OutputFile]:
    """``prometheusrules/<name>.yaml``: one ``PrometheusRule`` per rule file, named
    ``agent-slo-<name>``, its ``spec`` the rule file's groups."""
    names = {rules.name: f"agent-slo-{object_name(rules.name)}" for rules in artifacts.rule_files}
    _unique("PrometheusRule", names)
    return [
        OutputFile(
            f"{PROMETHEUS_RULES_DIR}/{rules.name}.yaml",
            _object(
                rules.source,
                target,
                {
                    "apiVersion": "monitoring.coreos.com/v1",
                    "kind": "PrometheusRule",
                    "metadata": _metadata(names[rules.name], target),
                    "spec": rules.content,
                },
            ),
        )
        for rules in artifacts.rule_files
    ]


def dashboard_configmaps(artifacts: Artifacts, target: Target) -> list[OutputFile]:
    """``dashboards/<name>.yaml``: one ``ConfigMap`` per dashboard, labelled
    ``grafana_dashboard: "1"`` for Grafana's sidecar, holding ``<name>.json``."""
    names = {
        board.name: "agent-slo-dashboard-" + object_name(board.name.removeprefix("agent-slo-"))
        for board in artifacts.dashboards
    }
    _unique("dashboard ConfigMap", names)
    return [
        OutputFile(
            f"{DASHBOARDS_DIR}/{board.name}.yaml",
            _object(
                board.source,
                target,
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": _metadata(names[board.name], target, GRAFANA_DASHBOARD_LABEL),
                    "data": {f"{board.name}.json": dashboard_json(board)},
                },
            ),
        )
        for board in artifacts.dashboards
    ]


def kustomization(objects: list[OutputFile], target: Target) -> OutputFile:
    """``kustomization.yaml`` listing ``objects``, so that ``kubectl apply -k`` applies the
    folder and a Kustomize base can name it among its resources."""
    return OutputFile(
        KUSTOMIZATION,
        _object(
            "every spec given",
            target,
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": sorted(f.path for f in objects),
            },
        ),
    )
