"""Layering: command → (rulegen | exporter | decisions) → spec/model → leaves. Only the
generators render rules; the exporter reads the spec model alone, and the decisions build
their queries with rulegen.promql, which imports jinja2 only to render a rule."""

from __future__ import annotations

import subprocess
import sys


def test_exporter_does_not_import_rule_rendering() -> None:
    """Importing every exporter module loads no generator, template or writer module."""
    code = (
        "import sys\n"
        "import exporter.catalog, exporter.client, exporter.events, exporter.inprocess\n"
        "import exporter.metrics, exporter.server, exporter.store, exporter.testing\n"
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


RENDERING = ("rulegen.generators", "rulegen.writer", "rulegen.pipeline")


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
        "import decisions.backfill, decisions.gate, decisions.promapi, decisions.report\n"
        "import decisions.reviewlog\n"
    )
    assert "agent_slo.cli.decisions" in loaded
    assert "rulegen.promql" in loaded
    assert sorted(m for m in loaded if m.startswith(RENDERING) or m == "jinja2") == []
