"""Layering: the exporter reads the spec model but never imports rule rendering."""

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
