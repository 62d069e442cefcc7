"""What every command shares: one place where domain errors become exit codes.

Exit codes: 0 success (or, for ``gate``, allow); 1 a domain failure: invalid specs, stale
output, a refused record, a store or Prometheus that cannot be used (``gate``: deny);
2 a usage error (``gate``: could not decide). Every command raises :class:`DomainFailure`
(1) or a click usage error (2); nothing else reaches the user as a traceback.
"""

from __future__ import annotations

import click

from rulegen.errors import SpecErrors
from rulegen.model import Workflow, load

__all__ = ["DEFAULT_SPECS", "DomainFailure", "load_workflows"]

DEFAULT_SPECS = "slo-specs"


class DomainFailure(click.ClickException):
    """A failure of the user's input or environment, not of the command line: exit 1."""

    exit_code = 1


def load_workflows(paths: tuple[str, ...], consequence: str = "") -> list[Workflow]:
    """The workflows of ``paths``; on invalid specs, every error, their count and
    ``consequence``, what the command did not do because of them."""
    try:
        return load(paths or (DEFAULT_SPECS,))
    except SpecErrors as exc:
        count = len(exc.errors)
        found = f"{count} error{'s' if count != 1 else ''} found"
        raise DomainFailure(
            f"{exc}\n{found}; {consequence}" if consequence else f"{exc}\n{found}"
        ) from exc
