"""Layering: command → (rulegen | exporter | decisions | importers) → spec/model → leaves.
Only the generators render rules; the exporter reads the spec model alone, the decisions
build their queries with rulegen.promql, which imports jinja2 only to render a rule, and the
importers write specs, checked as specs are."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path


def test_exporter_does_not_import_rule_rendering() -> None:
    """Importing every exporter module loads no generator, template or writer module."""
    code = (
        "import sys\n"
        "import exporter.catalog, exporter.client, exporter.events, exporter.inprocess\n"
        "import exporter.metrics, exporter.server, exporter.store, exporter.testing\n"
        "import exporter.wire\n"
        "bad = [m for m in sys.modules if m.startswith(('rulegen.generators', 'rulegen.promql',"
        " 'rulegen.writer', 'rulegen.pipeline', 'jinja2'))]\n"
        "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_client_needs_only_the_standard_library() -> None:
    """exporter.client imports nothing outside the standard library."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import exporter.client\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(','.join(sorted(m for m in new if m not in sys.stdlib_module_names"
        " and m != 'exporter')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def _loaded_by(code: str) -> set[str]:
    """Modules a fresh interpreter holds after running ``code``."""
    result = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(','.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.strip().split(","))


RENDERING = ("rulegen.formats", "rulegen.generators", "rulegen.writer", "rulegen.pipeline")


def test_promql_loads_no_template_engine() -> None:
    """Importing rulegen.promql loads no jinja2: it is imported on the first render."""
    loaded = _loaded_by("import rulegen.promql")
    assert "rulegen.promql" in loaded
    assert sorted(m for m in loaded if m == "jinja2" or m.startswith("jinja2.")) == []


def test_the_exporter_commands_load_no_rule_rendering() -> None:
    """`agent-slo serve` (the container's entry point), `record` and `webhook`, with what
    their bodies import, load neither the generators nor jinja2."""
    loaded = _loaded_by(
        "import click\n"
        "from agent_slo.cli import main\n"
        "for name in ('serve', 'record', 'webhook'):\n"
        "    main.get_command(click.Context(main), name)\n"
        "import exporter.catalog, exporter.server, exporter.store\n"
        "import rulegen.durations, rulegen.webhook\n"
    )
    assert "agent_slo.cli.exporter" in loaded
    assert "agent_slo.cli.specs" not in loaded
    forbidden = (*RENDERING, "rulegen.promql")
    assert sorted(m for m in loaded if m.startswith(forbidden) or m == "jinja2") == []


def test_the_command_group_alone_loads_no_command() -> None:
    loaded = _loaded_by("from agent_slo.cli import main")
    assert sorted(m for m in loaded if m.startswith("agent_slo.cli.")) == []


def test_the_decisions_load_no_rule_rendering() -> None:
    """The report, the gate, the review log and backfilling, and their commands, read the
    spec model and build queries with rulegen.promql, but render no rule; jinja2 waits for
    an HTML report."""
    loaded = _loaded_by(
        "import click\n"
        "from agent_slo.cli import main\n"
        "for name in ('report', 'gate', 'import'):\n"
        "    main.get_command(click.Context(main), name)\n"
        "import decisions.autonomy, decisions.backfill, decisions.gate, decisions.promapi\n"
        "import decisions.report\n"
        "import decisions.reviewlog\n"
    )
    assert "agent_slo.cli.decisions" in loaded
    assert "rulegen.promql" in loaded
    assert sorted(m for m in loaded if m.startswith(RENDERING) or m == "jinja2") == []


# -- the dependency direction, read from every module's imports (lazy ones included) -----

PACKAGES = ("agent_slo", "rulegen", "exporter", "decisions", "statuspage")
ROOT = Path(__file__).resolve().parent.parent

# Layers, lowest first; a module imports its own layer's area or lower layers, never higher.
LEAVES = (
    "rulegen.burn",
    "rulegen.durations",
    "rulegen.errors",
    "rulegen.names",
    "rulegen.numbers",
    "rulegen.selectors",
    "rulegen.taxonomy",
)
MODEL = ("rulegen.model",)  # the resolved model: dataclasses over the leaves
SPEC = ("rulegen.spec", "rulegen.loader", "rulegen.resolve")  # the v1 format into the model
QUERIES = ("rulegen.promql",)  # PromQL over the model, for the generators and the decisions
GENERATION = (
    "rulegen.artifacts",
    "rulegen.formats",
    "rulegen.generators",
    "rulegen.writer",
    "rulegen.pipeline",
)
# Other tools' specs (Sloth, OpenSLO) into v1 specs: read with the spec's YAML loader and
# checked with its resolver, as `validate` would; they render no rule.
IMPORTERS = ("rulegen.importers",)
# Hooks into agent frameworks and OpenTelemetry: they record through the exporter's
# recorders; nothing else in the exporter imports them (their libraries are optional).
INTEGRATIONS = ("exporter.integrations",)
COMMAND = ("agent_slo",)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, known: Iterable[str]) -> set[str]:
    """The project's modules ``path`` imports, at any depth of its code."""
    known = set(known)
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:  # `from package import module` names the module
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in known else node.module)
    return {m for m in out if m in known}


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _area(module: str) -> str:
    """The area a module belongs to, for the direction checks."""
    for name, prefixes in (
        ("leaves", LEAVES),
        ("model", MODEL),
        ("spec", SPEC),
        ("queries", QUERIES),
        ("generation", GENERATION),
        ("importers", IMPORTERS),
        ("integrations", INTEGRATIONS),
        ("command", COMMAND),
    ):
        if _within(module, prefixes):
            return name
    return module.partition(".")[0]  # exporter, decisions, statuspage or a package's __init__


# What each area may import besides itself.
ALLOWED: dict[str, set[str]] = {
    "leaves": set(),
    "model": {"leaves"},
    "spec": {"leaves", "model"},
    "queries": {"leaves", "model"},
    "generation": {"leaves", "model", "spec", "queries"},
    "exporter": {"leaves", "model", "spec"},
    "decisions": {"leaves", "model", "queries"},
    "importers": {"leaves", "model", "spec"},
    "integrations": {"leaves", "model", "exporter"},
    # The status page: the specs and the recorded series, judged by the decisions' engine.
    "statuspage": {"leaves", "model", "spec", "queries", "decisions"},
    "rulegen": set(),  # the package's __init__: its version
    "command": {
        "leaves",
        "model",
        "spec",
        "queries",
        "generation",
        "exporter",
        "decisions",
        "importers",
        "statuspage",
        "rulegen",
    },
}


def test_every_module_imports_downwards_only() -> None:
    """command → (rule generation | exporter | decisions) → spec/model → leaves, read from
    the imports of every module of every package, the lazy ones inside functions too."""
    modules = _modules()
    assert len(modules) > 40  # the walk found the packages
    wrong = []
    for module, path in modules.items():
        area = _area(module)
        for target in sorted(_imports(path, modules)):
            if _area(target) != area and _area(target) not in ALLOWED[area]:
                wrong.append(f"{module} ({area}) imports {target} ({_area(target)})")
    assert wrong == []


def test_the_layering_check_sees_a_wrong_import(tmp_path: Path) -> None:
    """The import reader finds lazy imports and ``from package import module`` forms."""
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from rulegen import promql\n    import exporter.store\n")
    assert _imports(path, _modules()) == {"rulegen.promql", "exporter.store"}
    assert "queries" not in ALLOWED["model"]
