"""The status page over HTTP: the standard library's threading server, read-only (GET and
HEAD), each answer with the page's security headers, and a cap on the connections it holds
(a thread each): past it a newcomer gets 503 with ``Retry-After`` and is closed, so that
idle or slow clients cost a bounded number of threads."""

from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from statuspage.app import CSP, Response, StatusPage

__all__ = ["make_server"]

log = logging.getLogger("agent_slo.ui")

_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


#: What a connection past the cap reads before it is closed.
_FULL: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 22\r\nConnection: close\r\n\r\ntoo many connections\r\n"
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: Any, max_connections: int) -> None:
        super().__init__(address, handler)
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread for the connection while there are fewer than ``max_connections``;
        else 503 and close."""
        if not self._slots.acquire(blocking=False):
            log.warning("refused %s: %d connections open", client_address[0], self.max_connections)
            try:
                request.sendall(_FULL)
                request.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the client left first
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def make_server(
    page: StatusPage,
    host: str,
    port: int,
    request_timeout: float = 30.0,
    max_connections: int = 64,
) -> _Server:
    """A server of ``page`` on ``host``:``port`` (0: any free port), not yet serving;
    a client gets ``request_timeout`` seconds for each read of its request, and at most
    ``max_connections`` connections are open at once."""

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

    return _Server((host, port), Handler, max_connections)
