"""`agent-slo record` and `agent-slo serve` from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from exporters import TRIAGE, catalog_of, serving
from realprom import free_port

from agent_slo.cli import main
from exporter.store import Store


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """A running exporter's URL and store."""
    store = Store(tmp_path / "state.db", catalog_of(TRIAGE))
    with serving(store) as url:
        yield url, store
    store.close()


def test_record_posts_one_event(exporter: tuple[str, Store]) -> None:
    """record sends the event with its dimensions and count, and says so."""
    url, store = exporter
    args = ["record", "--url", url, "--workflow", "triage", "--outcome", "rejected"]
    result = CliRunner().invoke(main, [*args, "--dim", "model=m1", "--count", "2"])
    assert result.exit_code == 0, result.output
    assert "recorded: 1 event(s), 0 duplicate(s)" in result.output
    assert store.snapshot().counters[("triage", "rejected", (("model", "m1"),))] == 2


def test_record_reports_a_refusal(exporter: tuple[str, Store]) -> None:
    """A refused event exits 1 with the field and the exporter's reason."""
    url, _ = exporter
    args = ["record", "--url", url, "--workflow", "triage", "--outcome", "ghost"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "refused with HTTP 400 (outcome): unknown outcome 'ghost'" in result.output


def test_record_reports_an_unreachable_exporter() -> None:
    """Nothing listening: exit 1 with the address."""
    url = f"http://127.0.0.1:{free_port()}"
    args = ["record", "--url", url, "--workflow", "triage", "--outcome", "success"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert f"could not reach the exporter at {url}" in result.output


def test_record_rejects_a_malformed_dimension() -> None:
    """--dim without '=' is a usage error (exit 2)."""
    args = ["record", "--workflow", "triage", "--outcome", "success", "--dim", "model"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "expected NAME=VALUE" in result.output


def test_serve_refuses_a_wide_address_without_the_flag(tmp_path: Path) -> None:
    """Listening beyond loopback needs --listen-wide."""
    (tmp_path / "spec.yaml").write_text(TRIAGE)
    args = [
        "serve",
        "--specs",
        str(tmp_path),
        "--host",
        "0.0.0.0",  # noqa: S104 - the address is refused, never bound
        "--state",
        str(tmp_path / "s.db"),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "add --listen-wide" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--count", "0"], "--count: must be between 1 and 1000000, got 0"),
        (["--dim", 'model=say "hi"'], "--dim model: must not contain quotes"),
        (["--duration", "-2"], "--duration: must be between 0 and 2592000 seconds"),
    ],
)
def test_record_checks_the_event_before_sending_it(extra: list[str], message: str) -> None:
    """An event the exporter would refuse for its own fields is a usage error (exit 2),
    found without reaching the exporter (nothing listens at the URL)."""
    url = f"http://127.0.0.1:{free_port()}"
    args = ["record", "--url", url, "--workflow", "triage", "--outcome", "success", *extra]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
