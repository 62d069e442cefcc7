"""agent-slo webhook: Alertmanager's notifications in, one readable line per alert out."""

from __future__ import annotations

import io
import json
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness import running_alertmanager, running_receiver
from realprom import free_port

from rulegen.webhook import PayloadError, make_server, notification_lines


def _alert(status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "ErrorBudgetBurn", **labels},
        "annotations": {"summary": "SLO checkout burns its budget\nfast", "runbook_url": "x"},
        "startsAt": "2026-03-02T10:04:05.123456789Z",
        "endsAt": "2026-03-02T10:09:05.5Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": "f00",
    }


def _payload(*alerts: dict[str, Any], receiver: str = "pager") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": receiver,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
        "alerts": list(alerts),
    }


def test_one_line_per_alert() -> None:
    """Each alert gives status, receiver, name, severity, SLO, tier window, start and summary."""
    body = _payload(
        _alert(severity="page", slo="checkout", long_window="1h", workflow="shop"),
        _alert("resolved", severity="ticket", slo="checkout", long_window="3d"),
    )
    assert notification_lines(json.dumps(body).encode()) == [
        "FIRING [pager] ErrorBudgetBurn severity=page slo=checkout long_window=1h "
        "since 2026-03-02T10:04:05Z: SLO checkout burns its budget fast",
        "RESOLVED [pager] ErrorBudgetBurn severity=ticket slo=checkout long_window=3d "
        "since 2026-03-02T10:04:05Z until 2026-03-02T10:09:05Z: SLO checkout burns its budget "
        "fast",
    ]


def test_description_stands_in_for_a_missing_summary() -> None:
    """Without a summary the description is printed; with neither, the labels alone."""
    described = _alert(severity="page", policy="red_line")
    described["annotations"] = {"description": "over 50%"}
    bare = _alert()
    del bare["annotations"]
    lines = notification_lines(json.dumps(_payload(described, bare, receiver="")).encode())
    assert lines == [
        "FIRING ErrorBudgetBurn severity=page policy=red_line since 2026-03-02T10:04:05Z: over 50%",
        "FIRING ErrorBudgetBurn since 2026-03-02T10:04:05Z",
    ]


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        (b"{not json", "malformed_json", ""),
        (b"\xff", "malformed_json", ""),
        (b"[]", "invalid_payload", ""),
        (json.dumps({**_payload(), "version": "3"}).encode(), "unsupported_version", "version"),
        (json.dumps({"version": "4"}).encode(), "invalid_payload", "alerts"),
        (json.dumps(_payload(_alert(), {"status": "firing"})).encode(), "invalid_payload",
         "alerts[1].labels"),
        (json.dumps(_payload({**_alert(), "status": "silenced"})).encode(), "invalid_payload",
         "alerts[0].status"),
        (json.dumps(_payload({**_alert(), "labels": {"severity": "page"}})).encode(),
         "invalid_payload", "alerts[0].labels"),
        (json.dumps(_payload({**_alert(), "startsAt": 5})).encode(), "invalid_payload",
         "alerts[0].startsAt"),
    ],
)  # fmt: skip
def test_malformed_bodies_are_refused(body: bytes, reason: str, field: str) -> None:
    """What is not an Alertmanager v4 payload is refused with a reason and the field at fault."""
    with pytest.raises(PayloadError) as info:
        notification_lines(body)
    assert (info.value.reason, info.value.field) == (reason, field)


@contextmanager
def _receiver() -> Iterator[tuple[str, io.StringIO, io.StringIO]]:
    out, err = io.StringIO(), io.StringIO()
    server = make_server("127.0.0.1", 0, out, err)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", out, err
    finally:
        server.shutdown()
        server.server_close()


def _post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_http_prints_and_answers_200() -> None:
    """A POSTed notification is printed, a line per alert, and answered 200."""
    with _receiver() as (url, out, _):
        body = json.dumps(_payload(_alert(severity="page", slo="checkout"))).encode()
        assert _post(f"{url}/pager", body) == (200, {"printed": 1})
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as response:
            assert response.status == 200
    assert out.getvalue() == (
        "FIRING [pager] ErrorBudgetBurn severity=page slo=checkout since 2026-03-02T10:04:05Z: "
        "SLO checkout burns its budget fast\n"
    )


def test_http_refuses_malformed_bodies_with_a_json_reason() -> None:
    """A malformed body gets a 400 with a JSON reason, prints no alert, and is logged."""
    with _receiver() as (url, out, err):
        status, reply = _post(f"{url}/tickets", b'{"alerts": "none"}')
    assert status == 400
    assert reply == {"error": "expected a list of alerts", "reason": "invalid_payload",
                     "field": "alerts"}  # fmt: skip
    assert out.getvalue() == ""
    assert "refused a request to /tickets (alerts): expected a list of alerts" in err.getvalue()


def test_alertmanager_delivers_to_the_receiver(tmp_path: Path) -> None:
    """A real Alertmanager with the example routing delivers to `agent-slo webhook`: pages to
    the pager, tickets to tickets, each printed as one line."""
    cli = [str(Path(sys.executable).parent / "agent-slo"), "webhook"]
    receiver_port, am_port = free_port(), free_port()
    with (
        running_receiver(tmp_path, cli, receiver_port) as printed,
        running_alertmanager(tmp_path, am_port, receiver_port) as alertmanager,
    ):
        alerts = [
            {
                "labels": {"alertname": "ErrorBudgetPolicy", "severity": severity, "slo": slo,
                           "policy": policy},
                "annotations": {"summary": f"SLO {slo}: {policy}"},
                "startsAt": "2026-03-02T10:04:05Z",
            }
            for severity, slo, policy in (("page", "a", "red_line"), ("ticket", "b", "warning"))
        ]  # fmt: skip
        request = urllib.request.Request(
            f"{alertmanager}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        page = printed.wait_for("FIRING [pager] ErrorBudgetPolicy", timeout=30)
        ticket = printed.wait_for("FIRING [tickets] ErrorBudgetPolicy", timeout=30)
    assert page == (
        "FIRING [pager] ErrorBudgetPolicy severity=page slo=a policy=red_line "
        "since 2026-03-02T10:04:05Z: SLO a: red_line"
    )
    assert ticket.startswith("FIRING [tickets] ErrorBudgetPolicy severity=ticket slo=b ")
