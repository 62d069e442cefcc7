"""What every command shares: one place where domain errors become exit codes.

Exit codes, for every command: 0 success; 1 a domain failure (invalid specs, stale
output, a refused record, a store or Prometheus that cannot be used); 2 a usage error (a
bad option or value). ``gate`` keeps 1 for "deny" alone and adds 3 "could not decide" and
4 "invalid specs" (:class:`GateInputFailure`), so that no code means two things. Commands
raise :class:`DomainFailure` or a click usage error; nothing else reaches the user as a
traceback.
"""

from __future__ import annotations

import click

from rulegen.errors import SpecErrors
from rulegen.model import Workflow
from rulegen.resolve import load

__all__ = [
    "DEFAULT_SPECS",
    "DomainFailure",
    "GateInputFailure",
    "load_workflows",
    "parse_basic_auth",
    "parse_tokens",
]

DEFAULT_SPECS = "slo-specs"


class DomainFailure(click.ClickException):
    """A failure of the user's input or environment, not of the command line: exit 1."""

    exit_code = 1


class GateInputFailure(DomainFailure):
    """The gate could not read its input: exit 4, neither "deny" (1) nor "undecided" (3)."""

    exit_code = 4


def load_workflows(
    paths: tuple[str, ...],
    consequence: str = "",
    failure: type[DomainFailure] = DomainFailure,
) -> list[Workflow]:
    """The workflows of ``paths``; on invalid specs, ``failure`` with every error, their
    count and ``consequence``, what the command did not do because of them."""
    try:
        return load(paths or (DEFAULT_SPECS,))
    except SpecErrors as exc:
        count = len(exc.errors)
        found = f"{count} error{'s' if count != 1 else ''} found"
        raise failure(
            f"{exc}\n{found}; {consequence}" if consequence else f"{exc}\n{found}"
        ) from exc


def parse_tokens(text: str) -> dict[str, frozenset[str] | None]:
    """Bearer tokens and the workflows each may use (None: all), from ``TOKEN [WORKFLOW
    ...]`` lines, the format of the exporter's and the status page's ``--tokens-file``;
    blank lines and lines starting with ``#`` are skipped, and a token may hold any visible
    character, ``#`` included."""
    tokens: dict[str, frozenset[str] | None] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        token, *workflows = line.split()
        tokens[token] = frozenset(workflows) if workflows else None
    return tokens


def parse_basic_auth(value: str, option: str) -> tuple[str, str]:
    """``USER:PASSWORD`` as a pair; a usage error naming ``option`` when either is empty or
    the colon is missing (the password may hold colons)."""
    user, colon, password = value.partition(":")
    if not (user and colon and password):
        raise click.BadParameter(
            "expected USER:PASSWORD, neither of them empty", param_hint=f"'{option}'"
        )
    return user, password
