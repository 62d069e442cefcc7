"""Where generated output goes: the output format and its options, checked once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DASHBOARDS_DIR",
    "FIXED_LABELS",
    "FORMATS",
    "PROMETHEUS",
    "PROMETHEUS_OPERATOR",
    "RULES_DIR",
    "TESTS_DIR",
    "Target",
]

# Flat folders: Prometheus accepts a wildcard only in the last part of a rule file path.
# File names are SLO names, unique across specs (and `<workflow>-zero-tolerance`).
RULES_DIR: Final = "rules"
TESTS_DIR: Final = "tests"
DASHBOARDS_DIR: Final = "dashboards"

PROMETHEUS: Final = "prometheus"
PROMETHEUS_OPERATOR: Final = "prometheus-operator"
#: Every output format, the default first.
FORMATS: Final = (PROMETHEUS, PROMETHEUS_OPERATOR, "mimir", "cortex", "thanos", "vmalert")

#: Labels every generated Kubernetes object carries; ``--label`` may not set them.
FIXED_LABELS: Final = ("app.kubernetes.io/part-of", "grafana_dashboard")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def _check_namespace(namespace: str) -> None:
    if len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        raise ValueError(
            f"namespace {namespace!r} is not a Kubernetes namespace name: at most 63 "
            "lower-case letters, digits and '-', starting and ending with a letter or digit"
        )


def _check_label(key: str, value: str) -> None:
    """Kubernetes' rules for a label's key (``[prefix/]name``) and value."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        raise ValueError(f"label {key!r}: the prefix before '/' must be a DNS subdomain")
    if len(name) > 63 or not _LABEL_NAME.match(name):
        raise ValueError(
            f"label {key!r}: the name must be at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        raise ValueError(
            f"label {key}={value!r}: the value must be empty or at most 63 letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit"
        )
    if key in FIXED_LABELS:
        raise ValueError(f"label {key!r} is set by agent-slo itself")


@dataclass(frozen=True)
class Target:
    """An output format and its options.

    ``namespace`` and ``labels`` go on the Kubernetes objects: the ``PrometheusRule``s of the
    ``prometheus-operator`` format and the dashboards' ``ConfigMap``s.
    ``dashboards_configmaps`` writes the dashboards as ``ConfigMap``s for Grafana's sidecar
    instead of JSON files; ``None`` is the format's default (on for ``prometheus-operator``).
    Raises ``ValueError`` for an unknown format, a bad name or label, or Kubernetes options
    without Kubernetes objects.
    """

    format: str = PROMETHEUS
    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] = field(default=())
    dashboards_configmaps: bool | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}: expected one of {FORMATS}")
        if self.namespace is not None:
            _check_namespace(self.namespace)
        keys = [key for key, _ in self.labels]
        for key, value in self.labels:
            _check_label(key, value)
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"label {repeated[0]!r} is given more than once")
        if (self.namespace is not None or self.labels) and not self.kubernetes:
            raise ValueError(
                "a namespace and labels go on Kubernetes objects: use them with "
                f"--format {PROMETHEUS_OPERATOR} or --dashboards-configmaps"
            )

    @property
    def configmaps(self) -> bool:
        """Whether dashboards are written as ConfigMaps."""
        if self.dashboards_configmaps is None:
            return self.format == PROMETHEUS_OPERATOR
        return self.dashboards_configmaps

    @property
    def kubernetes(self) -> bool:
        """Whether any Kubernetes object is written."""
        return self.format == PROMETHEUS_OPERATOR or self.configmaps

    @property
    def command(self) -> str:
        """The command that regenerates this output, for the files' header."""
        words = ["agent-slo generate"]
        if self.format != PROMETHEUS:
            words.append(f"--format {self.format}")
        if self.namespace is not None:
            words.append(f"--namespace {self.namespace}")
        words.extend(f"--label {key}={value}" for key, value in self.labels)
        if self.configmaps != (self.format == PROMETHEUS_OPERATOR):
            words.append("--dashboards-configmaps" if self.configmaps else "--dashboards-json")
        return " ".join(words)
