"""Property-based fuzzing of spec loading: bad input gives errors, never a traceback.

AGENT_SLO_FUZZ_EXAMPLES sets the examples per test (default 300; 3,000 found nothing more).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulegen import pipeline, resolve
from rulegen.errors import SpecErrors
from rulegen.loader import load_text

SETTINGS = settings(
    max_examples=int(os.environ.get("AGENT_SLO_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
VALID = yaml.safe_load(
    (Path(__file__).parent / "golden" / "cases" / "tiers-tuned" / "spec.yaml").read_text()
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["5m", "30d", "99.9", "agent-slo/v1", "rejected", "page", "", "1e999"]),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                st.text(max_size=12),
                st.sampled_from(["apiVersion", "workflow", "slos", "sli", "objective", "tiers"]),
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=25,
)


def _load_all(text: str) -> None:
    """Load and resolve ``text`` as the pipeline does; only SpecErrors may escape."""
    docs, errors = load_text(text, "fuzz.yaml")
    for error in errors:
        assert error.message
        assert error.path == "fuzz.yaml"
    if docs and not errors:
        try:
            workflows = resolve.build(docs)
        except SpecErrors as exc:
            assert exc.errors
            assert all(e.message for e in exc.errors)
        else:
            pipeline.generate(workflows)


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_gives_errors_not_tracebacks(text: str) -> None:
    """Arbitrary text, binary-looking or not, never raises out of the loader."""
    _load_all(text)


@SETTINGS
@given(documents)
def test_random_yaml_gives_errors_not_tracebacks(doc: Any) -> None:
    """Random YAML structures never raise anything but spec errors."""
    _load_all(yaml.safe_dump(doc))


@SETTINGS
@given(documents)
def test_random_yaml_under_a_valid_header(doc: Any) -> None:
    """Random fields under a valid apiVersion reach the typed checks without a traceback."""
    data = doc if isinstance(doc, dict) else {"slos": doc}
    _load_all(yaml.safe_dump({"apiVersion": "agent-slo/v1", "workflow": "w", **data}))


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


PATHS = _paths(VALID)[1:]


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.sampled_from(PATHS),
            st.sampled_from(["drop", "replace", "extra"]),
            documents,
        ),
        min_size=1,
        max_size=3,
    )
)
def test_mutated_valid_spec_gives_errors_or_output(mutations: list[Any]) -> None:
    """A valid spec with fields dropped, replaced or added gives located errors, or output."""
    data = copy.deepcopy(VALID)
    for path, action, value in mutations:
        parent: Any = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            key = path[-1]
            if action == "drop":
                del parent[key]
            elif action == "replace":
                parent[key] = value
            elif isinstance(parent, dict):
                parent[f"x_{key}"] = value
        except (KeyError, IndexError, TypeError):
            continue
    text = yaml.safe_dump(data)
    _, errors = load_text(text, "fuzz.yaml")
    for error in errors:
        assert error.line >= 1, str(error)
    _load_all(text)
