"""The status page over HTTP: the standard library's threading server, read-only (GET and
HEAD), each answer with the page's security headers."""

from __future__ import annotations

import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from statuspage.app import CSP, Response, StatusPage

__all__ = ["make_server"]

log = logging.getLogger("agent_slo.ui")

_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def make_server(page: StatusPage, host: str, port: int, request_timeout: float = 30.0) -> _Server:
    """A server of ``page`` on ``host``:``port`` (0: any free port), not yet serving;
    a client gets ``request_timeout`` seconds to send its request."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "agent-slo-ui"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        timeout = request_timeout

        def do_GET(self) -> None:
            self._answer(page.respond(self.path, self.headers.get("Authorization")))

        def do_HEAD(self) -> None:
            self._answer(page.respond(self.path, self.headers.get("Authorization")), body=False)

        def _refuse_method(self) -> None:
            self._answer(
                Response(
                    405, b"read-only: GET and HEAD only\n", "text/plain", {"Allow": "GET, HEAD"}
                )
            )

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_method  # noqa: N815

        def _answer(self, response: Response, *, body: bool = True) -> None:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in {**_SECURITY_HEADERS, **response.headers}.items():
                self.send_header(name, value)
            if "Cache-Control" not in response.headers:
                self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                self.wfile.write(response.body)

        def log_message(self, format: str, *args: object) -> None:
            log.info("%s %s", self.address_string(), format % args)

    return _Server((host, port), Handler)
