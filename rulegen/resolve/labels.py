"""Label names a spec may not use: those agent-slo sets itself."""

from __future__ import annotations

from collections.abc import Mapping

from rulegen import names
from rulegen.loader import Loc
from rulegen.resolve.problems import DocumentProblems

__all__ = ["check_labels", "is_reserved"]


def is_reserved(name: str) -> bool:
    """Whether agent-slo sets the label ``name``, or Prometheus reserves it (``__…``)."""
    return name in names.RESERVED_LABELS or name.startswith("__")


def check_labels(labels: Mapping[str, str], loc: Loc, problems: DocumentProblems) -> None:
    """Report each label of ``labels`` (written at ``loc``) that is reserved."""
    for name in labels:
        if is_reserved(name):
            problems.add((*loc, name), f"label '{name}' is set by agent-slo; choose another name")
