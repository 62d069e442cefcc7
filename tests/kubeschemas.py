"""Kubernetes objects checked against their published schemas, offline: tests/k8s/ holds the
npm packages (installed by scripts/setup with `npm ci`) and the Node script that validates.
Fails, never skips, when Node or the packages are missing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

K8S = Path(__file__).parent / "k8s"
PACKAGES = ("kubernetes-models", "@kubernetes-models/prometheus-operator")


def load_objects(text: str) -> list[dict[str, Any]]:
    """Every object of a YAML stream, empty documents left out."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def validate(objects: list[dict[str, Any]]) -> list[str]:
    """Validate ``objects`` with tests/k8s/validate.mjs; fail the test on any invalid one.
    Returns the script's lines, one per object."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the Kubernetes schema checks need Node.js 20 or newer")
    missing = [p for p in PACKAGES if not (K8S / "node_modules" / p / "package.json").is_file()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed in {K8S}: run scripts/setup (npm ci)")
    result = subprocess.run(
        [node, str(K8S / "validate.mjs")],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=False,
        cwd=K8S,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(objects), result.stdout
    return lines
