"""Policies resolved: thresholds on the period's figures, each kind a ladder, checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from rulegen.loader import Loc
from rulegen.model import Policy
from rulegen.resolve.problems import DocumentProblems
from rulegen.spec import PolicySpec

__all__ = ["check_policies", "resolve_policies"]

#: Alert severities agent-slo knows the order of, mildest first; others are not compared.
_SEVERITY_RANK: Final[Mapping[str, int]] = MappingProxyType({"ticket": 0, "page": 1})


def resolve_policies(written: Sequence[PolicySpec]) -> tuple[Policy, ...]:
    """The policies by kind, mildest first, each firing until the next of its kind does."""
    rates = sorted(
        (p for p in written if p.failure_rate_above is not None),
        key=lambda p: _ratio(p.failure_rate_above),
    )
    remaining = sorted(
        (p for p in written if p.budget_remaining_below is not None),
        key=lambda p: -_ratio(p.budget_remaining_below),
    )
    out: list[Policy] = []
    for kind, ordered, attr in (
        ("failure_rate", rates, "failure_rate_above"),
        ("budget_remaining", remaining, "budget_remaining_below"),
    ):
        for i, p in enumerate(ordered):
            nxt: PolicySpec | None = ordered[i + 1] if i + 1 < len(ordered) else None
            out.append(
                Policy(
                    name=p.name,
                    kind=kind,  # type: ignore[arg-type]
                    threshold=_ratio(getattr(p, attr)),
                    until=_ratio(getattr(nxt, attr)) if nxt else None,
                    action=p.action,
                    severity=p.severity,
                )
            )
    return tuple(out)


def check_policies(
    written: Sequence[PolicySpec], policies_loc: Loc, problems: DocumentProblems
) -> None:
    """Names are unique, and each kind of policy escalates in the order it is listed.

    Policies are listed from the mildest to the most severe. Within one kind, a policy
    must fire at a strictly worse figure than every one listed before it (a higher
    failure rate, less budget remaining), and may not have a milder alert severity than
    one before it (``ticket`` after ``page``): each policy fires only until the next,
    more severe one does, so any other order would calm the alert as things got worse.
    The two kinds are separate ladders: they measure different things, fire
    independently of each other, and compare differently at each objective.
    """
    seen: set[str] = set()
    for i, p in enumerate(written):
        if p.name in seen:
            problems.add((*policies_loc, i, "name"), f"policy '{p.name}' is defined twice")
        seen.add(p.name)
    for kind in _LADDERS:
        ladder = [(i, p) for i, p in enumerate(written) if kind.value(p) is not None]
        for j, (i, p) in enumerate(ladder):
            before = [q for _, q in ladder[:j]]
            if before:
                top = max(before, key=kind.level)
                if kind.level(p) <= kind.level(top):
                    problems.add(
                        (*policies_loc, i, kind.field),
                        f"policy '{p.name}' must fire at {kind.severer} than "
                        f"'{top.name}', listed before it ({kind.figure(p)} is not "
                        f"{kind.worse} {kind.figure(top)}): list policies from the "
                        "mildest to the most severe",
                    )
                    continue
            rank = _SEVERITY_RANK.get(p.severity)
            louder = [
                q
                for q in before
                if rank is not None and _SEVERITY_RANK.get(q.severity, rank) > rank
            ]
            if louder:
                q = louder[-1]
                problems.add(
                    (*policies_loc, i, "severity"),
                    f"policy '{p.name}' (severity {p.severity}) is listed after "
                    f"'{q.name}' (severity {q.severity}) and takes over from it "
                    f"{kind.from_.format(kind.figure(p))}, turning a {q.severity} "
                    f"into a {p.severity} as things get worse: a more severe policy may "
                    f"not have a milder severity ({' < '.join(_SEVERITY_RANK)})",
                )


@dataclass(frozen=True)
class _Ladder:
    """One kind of policy threshold, as the order checks word it."""

    field: str
    worse: str  # a worse figure is ``above``/``below`` a milder one
    severer: str  # what a more severe policy fires at
    from_: str  # when a policy fires, for a figure
    sign: int  # makes a worse figure a larger number

    def value(self, policy: PolicySpec) -> Decimal | None:
        """The policy's threshold of this kind (a percentage), if it has one."""
        value: Decimal | None = getattr(policy, self.field)
        return value

    def level(self, policy: PolicySpec) -> Decimal:
        """How bad things are when the policy fires: larger is more severe."""
        value = self.value(policy)
        assert value is not None
        return self.sign * value

    def figure(self, policy: PolicySpec) -> str:
        """The threshold as written: ``30%``."""
        value = self.value(policy)
        assert value is not None
        return format(value.normalize(), "f") + "%"


_LADDERS: Final = (
    _Ladder(
        "failure_rate_above", "above", "a higher failure rate", "at a failure rate above {}", 1
    ),
    _Ladder(
        "budget_remaining_below",
        "below",
        "less budget remaining",
        "once less than {} of the budget remains",
        -1,
    ),
)


def _ratio(percent: Decimal | None) -> Decimal:
    """A percentage as a ratio: 30 → 0.3."""
    assert percent is not None
    return (percent / 100).normalize()
