"""Shared fixtures: the real Prometheus tools, found on PATH (installed by scripts/setup)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool; the suite fails (never skips) without it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not on PATH: run scripts/setup (it installs Debian's prometheus)")
    return path
