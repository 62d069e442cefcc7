"""A receiver for Alertmanager's webhook notifications that prints one line per alert.

The example routing (``alertmanager/alertmanager.yml``) sends every notification to
``http://127.0.0.1:9095/<receiver>``; ``agent-slo webhook`` listens there, so the alerts
agent-slo generates are seen from the first run, before a real pager or chat is wired in.

- ``POST`` (any path): an Alertmanager webhook payload (version 4); 200 once printed, 4xx
  with a JSON reason (nothing printed) for anything else.
- ``GET /healthz``: the receiver answers.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Final, TextIO

__all__ = ["MAX_BODY_BYTES", "PayloadError", "make_server", "notification_lines"]

MAX_BODY_BYTES: Final = 16 * 1024 * 1024
READ_TIMEOUT: Final = 10.0
#: Labels shown after the alert name, when present: what tells one agent-slo alert from another.
SHOWN_LABELS: Final = ("severity", "slo", "long_window", "policy", "outcome")
_FRACTION = re.compile(r"\.\d+(?=Z|[+-]\d\d:\d\d$)")


class PayloadError(ValueError):
    """A body that is not an Alertmanager webhook notification."""

    def __init__(self, reason: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


def notification_lines(body: bytes) -> list[str]:
    """One readable line per alert of an Alertmanager notification; raise ``PayloadError``.

    ``FIRING [pager] ErrorBudgetBurn severity=page slo=checkout long_window=1h since
    2026-03-02T10:04:05Z: <summary>``; a resolved alert ends ``since ... until ...``. The
    whole body is checked before any line is made.
    """
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("malformed_json", f"the body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PayloadError("invalid_payload", "expected a JSON object (an Alertmanager payload)")
    version = payload.get("version", "4")
    if version != "4":
        raise PayloadError(
            "unsupported_version", f"expected webhook payload version 4, got {version!r}", "version"
        )
    receiver = payload.get("receiver", "")
    if not isinstance(receiver, str):
        raise PayloadError("invalid_payload", "expected a string", "receiver")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("invalid_payload", "expected a list of alerts", "alerts")
    return [_line(receiver, alert, f"alerts[{i}]") for i, alert in enumerate(alerts)]


def _line(receiver: str, alert: Any, where: str) -> str:
    if not isinstance(alert, dict):
        raise PayloadError("invalid_payload", "expected an alert object", where)
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError(
            "invalid_payload", f"expected 'firing' or 'resolved', got {status!r}", f"{where}.status"
        )
    labels = _strings(alert.get("labels"), f"{where}.labels")
    annotations = _strings(alert.get("annotations", {}), f"{where}.annotations")
    if "alertname" not in labels:
        raise PayloadError("invalid_payload", "the alert has no alertname", f"{where}.labels")
    starts = alert.get("startsAt")
    if not isinstance(starts, str):
        raise PayloadError("invalid_payload", "expected a timestamp", f"{where}.startsAt")
    ends = alert.get("endsAt", "")
    shown = " ".join(f"{name}={labels[name]}" for name in SHOWN_LABELS if name in labels)
    when = f"since {_time(starts)}"
    if status == "resolved" and isinstance(ends, str) and ends:
        when += f" until {_time(ends)}"
    text = annotations.get("summary") or annotations.get("description") or ""
    parts = [status.upper(), f"[{receiver}]" if receiver else "", labels["alertname"], shown, when]
    head = " ".join(p for p in parts if p)
    return _one_line(f"{head}: {text}" if text else head)


def _strings(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise PayloadError("invalid_payload", "expected a mapping of strings", where)
    return value


def _time(stamp: str) -> str:
    """``2026-03-02T10:04:05.123456789Z`` → ``2026-03-02T10:04:05Z``."""
    return _FRACTION.sub("", stamp)


def _one_line(text: str) -> str:
    """Whitespace runs become one space and other control characters '?': one line, always."""
    return "".join(c if c.isprintable() else "?" for c in " ".join(text.split()))


@dataclass(frozen=True)
class _Output:
    """Where lines go, one writer at a time."""

    out: TextIO
    err: TextIO
    lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    server_version = "agent-slo-webhook"
    protocol_version = "HTTP/1.1"
    output: ClassVar[_Output]

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(READ_TIMEOUT)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _json(self, status: int, payload: Mapping[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, status: int, reason: str, message: str, field: str = "") -> None:
        payload = {"error": message, "reason": reason, **({"field": field} if field else {})}
        self._json(status, payload)
        with self.output.lock:
            where = f" ({field})" if field else ""
            self.output.err.write(f"refused a request to {self.path}{where}: {message}\n")
            self.output.err.flush()

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/healthz":
            self._json(200, {"status": "ok"})
        else:
            self._json(405, {"error": "POST Alertmanager notifications here", "reason": "method"})

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._refuse(411, "length_required", "send the body with a Content-Length header")
            return
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            self._refuse(413, "too_large", f"the body may hold at most {MAX_BODY_BYTES} bytes")
            return
        try:
            body = self.rfile.read(int(length))
        except TimeoutError:
            self.close_connection = True
            self._refuse(408, "timeout", "the request body arrived too slowly")
            return
        try:
            lines = notification_lines(body)
        except PayloadError as exc:
            self._refuse(400, exc.reason, str(exc), exc.field)
            return
        with self.output.lock:
            for line in lines:
                self.output.out.write(line + "\n")
            self.output.out.flush()
        self._json(200, {"printed": len(lines)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def make_server(host: str, port: int, out: TextIO, err: TextIO) -> ThreadingHTTPServer:
    """A receiver bound to ``host:port`` (port 0: any free port), not yet serving.

    Alert lines go to ``out``, refused requests to ``err``, each written whole and flushed.
    """
    handler = type("Handler", (_Handler,), {"output": _Output(out, err, threading.Lock())})
    server_class = _Server6 if ":" in host else _Server
    return server_class((host, port), handler)
