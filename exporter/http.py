"""A bounded HTTP/1.1 server: asyncio holds the connections, h11 parses the protocol.

Every resource a client can hold has a bound, so that no client, slow or many, can lock the
others out:

- **Connections**: at most ``max_connections`` (fewer if the open-file limit is lower).
  When a new connection arrives at the cap, the connection that has kept the server waiting
  longest (idle between requests, or still sending an incomplete request) is closed to make
  room; only when every connection is being answered does the newcomer get 503 with
  ``Retry-After``. Slow clients therefore cannot hold the cap: a normal client, whose
  request arrives in milliseconds, is never the one that waited longest.
- **Time**: a request's headers and body must arrive within ``request_timeout`` of its
  first byte (408, then the connection closes); an idle keep-alive connection is closed
  after ``idle_timeout``; a response the client does not read is dropped after
  ``request_timeout``.
- **Work**: at most ``max_requests`` requests are handled at once (503 with
  ``Retry-After`` past that); headers at most ``max_header_bytes`` (431), bodies at most
  ``max_body_bytes`` (413).
- **Parsing** is h11's: malformed request lines, illegal header names or values and
  conflicting ``Content-Length`` headers are refused with 400 before the application sees
  the request.

The application (:class:`App`) sees whole requests: :meth:`App.head` may answer from the
headers alone (the body is then not read and the connection closes, so the body can never
be read as a request), then :meth:`App.handle` answers the complete request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import resource
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import partial
from http import HTTPStatus
from typing import Final, Protocol

import h11

__all__ = [
    "App",
    "Deferred",
    "HttpLimits",
    "HttpServer",
    "Request",
    "Response",
    "connection_cap",
]

log = logging.getLogger("agent_slo.exporter")
_RESERVED_FILES: Final = 32  # descriptors kept for the state file, logs and the listener
_ACCEPT_BURST: Final = 64  # connections accepted in one go, before any is closed for room
_WRITE_HIGH_WATER: Final = 64 * 1024  # bytes of a response buffered before it counts as unread
_SWEEP_EVERY: Final = 0.25  # seconds: deadlines are kept to within this


@dataclass(frozen=True)
class HttpLimits:
    """The bounds of :class:`HttpServer` (see the module's docstring)."""

    max_connections: int = 1000
    max_requests: int = 256
    request_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 4 * 1024 * 1024
    retry_after: int = 1  # seconds, in the Retry-After of a 503
    drain_timeout: float = 15.0


@dataclass(frozen=True)
class Request:
    """A request as the application sees it; ``body`` is empty until it has been read."""

    method: str
    path: str  # the target without its query
    headers: Mapping[str, str]  # lower-case names; repeated headers joined by ", "
    client: str
    body: bytes = b""
    query: str = ""  # what follows the "?" of the target, undecoded


@dataclass(frozen=True)
class Response:
    """An answer; ``close`` closes the connection once it is sent."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


class Deferred:
    """An answer the application gives later, from the event loop's thread: cheaper than a
    future for the hot path (no task, no callback scheduled through the loop): the
    connection is answered within :meth:`send`."""

    __slots__ = ("_to",)

    def __init__(self) -> None:
        self._to: Callable[[Response | BaseException], None] | None = None

    def send(self, answer: Response | BaseException) -> None:
        """Answer the request (an exception: answered with 500 and logged), once; later
        calls, or a call after the connection closed, do nothing."""
        to, self._to = self._to, None
        if to is not None:
            to(answer)

    def bind(self, to: Callable[[Response | BaseException], None]) -> None:
        """For the server: where the answer goes."""
        self._to = to


class App(Protocol):
    """What the server runs."""

    def head(self, request: Request) -> Response | None:
        """An answer from the request line and headers alone, or None to read the body."""

    def handle(self, request: Request) -> Response | Deferred | asyncio.Future[Response]:
        """The answer to a complete request, or one to come (a task, say)."""

    def refuse(self, client: str, status: int, reason: str, message: str) -> Response:
        """The answer when the server refuses a request itself (protocol error, timeout,
        overload): ``reason`` is a short code, ``message`` a sentence."""


class _State(Enum):
    WAITING = "waiting"  # for the first byte of a request
    READING = "reading"  # a request that is not complete yet
    BUSY = "busy"  # a complete request is being answered
    SENDING = "sending"  # the answer is written, more than the buffer allows is unread


def connection_cap(wanted: int) -> int:
    """``wanted``, or what the open-file limit allows, whichever is lower; the soft limit is
    raised to the hard one first, as servers do."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or hard > soft):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - _RESERVED_FILES - _ACCEPT_BURST))


class HttpServer:
    """The server, bound at construction; :meth:`serve_forever` runs it in the calling
    thread until :meth:`shutdown` (from another thread) has drained it."""

    def __init__(self, app: App, host: str, port: int, limits: HttpLimits) -> None:
        self.app = app
        self.limits = limits
        self.max_connections = connection_cap(limits.max_connections)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, backlog=1024)
        self.server_address: tuple[str, int] = self._socket.getsockname()[:2]
        self.connections: dict[_Connection, None] = {}  # open, and not being closed
        self.sockets = 0  # accepted and not yet released: what counts against the file limit
        # WAITING or READING, the one that has kept the server waiting longest first
        self.waiting: OrderedDict[_Connection, None] = OrderedDict()
        self.requests = 0  # being handled now
        self.draining = False
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_asked = False
        self._done = threading.Event()
        self._served = False
        self._accepting = False

    # -- running -------------------------------------------------------------------------

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown`; then answer what is in flight and return."""
        self._served = True
        try:
            asyncio.run(self._serve())
        finally:
            self._done.set()

    def shutdown(self) -> None:
        """Stop accepting connections, let requests in flight finish (up to the drain
        timeout), close everything; return once :meth:`serve_forever` has returned."""
        with self._lock:
            self._stop_asked = True
            loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already ended
                loop.call_soon_threadsafe(stop.set)
        if self._served:
            self._done.wait()

    def server_close(self) -> None:
        """Close the listening socket (once served, it is already closed)."""
        self._socket.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        with self._lock:
            self._loop, self._stop = loop, stop
            if self._stop_asked:
                stop.set()
        self._socket.setblocking(False)
        self._accept_from(loop)
        sweep = loop.create_task(self._sweep())
        try:
            await stop.wait()
        finally:
            self._pause_accepting(loop)
            self._socket.close()  # new connections are refused from here on, not left waiting
            await self._drain(loop)  # deadlines still hold while draining
            sweep.cancel()

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        self.draining = True
        for conn in list(self.connections):
            if conn.state is _State.WAITING:
                conn.close()
        deadline = loop.time() + self.limits.drain_timeout
        while self._in_flight() and loop.time() < deadline:
            await asyncio.sleep(0.02)
        if left := self._in_flight():
            log.warning(
                "%d request(s) still in flight after %.0f s are dropped",
                left,
                self.limits.drain_timeout,
            )
        for conn in list(self.connections):
            conn.abort()

    async def _sweep(self) -> None:
        """Act on passed deadlines, a few times a second: one timer for every connection
        instead of one per request."""
        while True:
            now = time.monotonic()
            for conn in [c for c in self.connections if c.deadline <= now]:
                conn.expired()
            await asyncio.sleep(_SWEEP_EVERY)

    def _in_flight(self) -> int:
        return sum(conn.state is not _State.WAITING for conn in self.connections)

    # -- accepting, within bounds --------------------------------------------------------

    def _accept_from(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._accepting and self._socket.fileno() != -1:
            self._accepting = True
            loop.add_reader(self._socket.fileno(), self._accept, loop)

    def _pause_accepting(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._accepting:
            self._accepting = False
            loop.remove_reader(self._socket.fileno())

    def _accept(self, loop: asyncio.AbstractEventLoop) -> None:
        """Accept what is waiting, a burst at a time. Descriptors are counted here, as they
        are taken: past the cap plus one burst, accepting pauses until some are released
        (the connections closed for room release theirs on the loop's next turn)."""
        for _ in range(_ACCEPT_BURST):
            if self.sockets >= self.max_connections + _ACCEPT_BURST:
                self._pause_accepting(loop)
                return
            try:
                sock, _ = self._socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors or memory: wait a little
                log.warning("cannot accept a connection: %s; retrying in 1 s", exc.strerror)
                self._pause_accepting(loop)
                loop.call_later(1.0, self._accept_from, loop)
                return
            self._admit(loop, sock)

    def _admit(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        """Make room for a new connection, closing the one that has kept the server waiting
        longest; if every connection is being answered, refuse the newcomer."""
        if len(self.connections) >= self.max_connections and self.waiting:
            oldest = next(iter(self.waiting))
            oldest.shed("evicted", "the server is at its connection cap: retry")
        if len(self.connections) >= self.max_connections:
            with contextlib.suppress(OSError):  # the client may be gone already
                client = str(sock.getpeername()[0])
                refusal = self.app.refuse(
                    client, 503, "full", "every connection is busy: retry shortly"
                )
                sock.setblocking(False)
                sock.send(_raw(refusal, self.limits.retry_after))
            sock.close()
            return
        self.sockets += 1
        conn = _Connection(self)
        self.connections[conn] = None
        sock.setblocking(False)
        task = loop.create_task(loop.connect_accepted_socket(lambda: conn, sock))
        task.add_done_callback(partial(self._connected, loop, conn, sock))

    def _connected(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: _Connection,
        sock: socket.socket,
        task: asyncio.Task[tuple[asyncio.Transport, _Connection]],
    ) -> None:
        if task.cancelled() or task.exception() is not None:  # the client left at once
            sock.close()
            self.connections.pop(conn, None)
            self.released(loop)

    def released(self, loop: asyncio.AbstractEventLoop) -> None:
        """A connection's descriptor is closed (or about to be, once it returns)."""
        self.sockets -= 1
        if not self.draining:
            self._accept_from(loop)


class _Connection(asyncio.Protocol):
    """One client connection: h11's state machine, a deadline, and the answer in progress."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.limits = server.limits
        self.h11 = h11.Connection(
            h11.SERVER, max_incomplete_event_size=server.limits.max_header_bytes
        )
        self.transport: asyncio.Transport | None = None
        self.client = "-"
        self.state = _State.WAITING
        self.deadline = math.inf  # loop time; the server's sweep acts on it
        self.request: Request | None = None
        self.body = bytearray()
        self.paused = False  # writing: the client is not reading fast enough
        self.eof = False  # the client ended its side after a complete request
        self.closed = False  # by us: no longer counted against the cap

    # -- asyncio callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if peer else "-"
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Without it, Nagle's algorithm can hold a response until the client's delayed
            # ACK (40 ms) on keep-alive connections.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)
        if self.closed:  # closed for room before its transport was made
            transport.abort()
            return
        self._wait()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed and (exc is not None or self.state is not _State.WAITING):
            # The client left first (a reset, or `curl ... | head -1`): routine, one line.
            log.debug(
                "client %s left while the server was %s: %s",
                self.client,
                self.state.value,
                exc or "connection closed",
            )
        self._detach()
        self.server.released(asyncio.get_running_loop())

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if self.state is _State.WAITING:
            self.state = _State.READING
            self.server.waiting.move_to_end(self)  # the request's time starts now
            self._deadline(self.limits.request_timeout)
        self.h11.receive_data(data)
        if self.state is _State.READING:
            self._read_events()
        elif len(self.h11.trailing_data[0]) > self.limits.max_header_bytes:
            # Pipelined requests wait in h11 while one is answered, up to a bound.
            assert self.transport is not None
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        if self.state in (_State.BUSY, _State.SENDING):
            self.eof = True  # answer, then close
            return True
        return None  # nothing more can arrive: close (an incomplete request is dropped)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.state is _State.SENDING:
            self._next_cycle()

    # -- reading -------------------------------------------------------------------------

    def _read_events(self) -> None:
        while not self.closed and self.state is _State.READING:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                status, reason, message = _protocol_refusal(exc)
                self._answer(self.server.app.refuse(self.client, status, reason, message))
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self._headers(event)
            elif isinstance(event, h11.Data):
                if len(self.body) + len(event.data) > self.limits.max_body_bytes:
                    message = f"the body may hold at most {self.limits.max_body_bytes} bytes"
                    refusal = self.server.app.refuse(self.client, 413, "too_large", message)
                    self._answer(refusal, close=True)
                    return
                self.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self._complete()
            elif isinstance(event, h11.ConnectionClosed):
                self.close()

    def _headers(self, event: h11.Request) -> None:
        size = len(event.target) + sum(len(n) + len(v) + 4 for n, v in event.headers)
        if size > self.limits.max_header_bytes:  # h11 bounds only what is incomplete
            message = f"the request line and headers exceed {self.limits.max_header_bytes} bytes"
            refusal = self.server.app.refuse(self.client, 431, "headers_too_large", message)
            self._answer(refusal, close=True)
            return
        headers: dict[str, str] = {}
        for name, value in event.headers:
            key, text = name.decode("ascii"), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        path, _, query = event.target.decode("ascii", "replace").partition("?")
        self.request = Request(
            event.method.decode("ascii", "replace"), path, headers, self.client, query=query
        )
        answer = self.server.app.head(self.request)
        if answer is not None:
            self._answer(answer, close=True)  # the body is not read: close after answering

    def _complete(self) -> None:
        assert self.request is not None
        request = Request(
            self.request.method,
            self.request.path,
            self.request.headers,
            self.client,
            bytes(self.body),
            self.request.query,
        )
        self.body = bytearray()
        self._cancel_timer()
        self.server.waiting.pop(self, None)
        self.state = _State.BUSY
        if self.server.requests >= self.limits.max_requests:
            self._answer(
                self.server.app.refuse(
                    self.client, 503, "busy", "too many requests in progress: retry shortly"
                )
            )
            return
        try:
            answer = self.server.app.handle(request)
        except Exception as exc:  # noqa: BLE001 - one request fails, not the server
            answer = self._failed(request, exc)
        if isinstance(answer, Response):
            self._answer(answer)
            return
        self.server.requests += 1
        if isinstance(answer, Deferred):
            answer.bind(partial(self._deferred, request))
        else:
            answer.add_done_callback(partial(self._answered, request))

    def _deferred(self, request: Request, answer: Response | BaseException) -> None:
        self.server.requests -= 1
        if isinstance(answer, BaseException):
            answer = self._failed(request, answer)
        self._answer(answer)

    def _answered(self, request: Request, answer: asyncio.Future[Response]) -> None:
        self.server.requests -= 1
        if answer.cancelled():  # the server is stopping
            self.abort()
        elif (exc := answer.exception()) is not None:
            self._answer(self._failed(request, exc))
        else:
            self._answer(answer.result())

    def _failed(self, request: Request, exc: BaseException) -> Response:
        log.error(
            "error answering %s %s from %s", request.method, request.path, self.client, exc_info=exc
        )
        return self.server.app.refuse(
            self.client, 500, "internal", "the server failed: see its log"
        )

    # -- answering -----------------------------------------------------------------------

    def _answer(self, response: Response, *, close: bool = False) -> None:
        """Send ``response`` through h11 and go on with the next request, or close."""
        if self.closed:
            return
        if self.h11.our_state is not h11.SEND_RESPONSE:  # no request line was parsed
            self._send_raw(response)
            self.close()
            return
        close = close or response.close or self.eof or self.server.draining
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            *response.headers,
        ]
        if response.status == 503:
            headers.append(("Retry-After", str(self.limits.retry_after)))
        if close:
            headers.append(("Connection", "close"))
        try:
            data = self.h11.send(h11.Response(status_code=response.status, headers=headers))
            data += self.h11.send(h11.Data(data=response.body))
            data += self.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError:  # e.g. a 1xx the client cannot take: give up
            self.abort()
            return
        assert self.transport is not None
        self.transport.write(data)
        if close or self.h11.states[h11.SERVER] is not h11.DONE:
            self.close()
            return
        self.state = _State.SENDING
        if not self.paused:
            self._next_cycle()
        else:
            self._deadline(self.limits.request_timeout)

    def _next_cycle(self) -> None:
        """The answer is out: wait for the next request (h11 may already hold it)."""
        if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
            self.close()  # the client ended its side, or sent what h11 will not continue
            return
        self.h11.start_next_cycle()
        self.request = None
        self._wait()
        if self.closed:
            return
        assert self.transport is not None
        if not self.transport.is_reading():
            self.transport.resume_reading()
        if self.h11.trailing_data[0]:  # a pipelined request already arrived
            self.state = _State.READING
            self.server.waiting.move_to_end(self)
            self._deadline(self.limits.request_timeout)
            self._read_events()

    def _send_raw(self, response: Response) -> None:
        """An answer outside h11 (no request was parsed), then the connection closes."""
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(_raw(response, self.limits.retry_after))

    # -- deadlines and closing -----------------------------------------------------------

    def _wait(self) -> None:
        self.state = _State.WAITING
        if self.server.draining:
            self.close()
            return
        self.server.waiting[self] = None
        self._deadline(self.limits.idle_timeout)

    def _deadline(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def _cancel_timer(self) -> None:
        self.deadline = math.inf

    def expired(self) -> None:
        """The deadline has passed: drop what the client is too slow to do."""
        self.deadline = math.inf
        if self.state is _State.WAITING:
            self.close()
        elif self.state is _State.READING:
            limit = self.limits.request_timeout
            self.shed("timeout", f"the request did not arrive within {limit:g} s")
        elif self.state is _State.SENDING:
            self.abort()  # the client does not read its answer

    def shed(self, reason: str, message: str) -> None:
        """Refuse what this connection is sending and close it."""
        status = 408 if reason == "timeout" else 503
        if self.state is _State.READING and self.h11.our_state is h11.SEND_RESPONSE:
            self._answer(self.server.app.refuse(self.client, status, reason, message), close=True)
        elif self.state is _State.READING:
            self._send_raw(self.server.app.refuse(self.client, status, reason, message))
            self.close()
        else:
            self.close()

    def close(self) -> None:
        """Close once what was written is sent."""
        self._detach()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close now, dropping anything unsent."""
        self._detach()
        if self.transport is not None:
            self.transport.abort()

    def _detach(self) -> None:
        self.closed = True
        self._cancel_timer()
        self.server.waiting.pop(self, None)
        self.server.connections.pop(self, None)


def _raw(response: Response, retry_after: int) -> bytes:
    """A whole answer, closing the connection, for when no request was parsed."""
    head = (
        f"HTTP/1.1 {response.status} {_reason(response.status)}\r\n"
        f"Content-Type: {response.content_type}\r\n"
        f"Content-Length: {len(response.body)}\r\n"
    )
    if response.status == 503:
        head += f"Retry-After: {retry_after}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + response.body


def _protocol_refusal(exc: h11.RemoteProtocolError) -> tuple[int, str, str]:
    """Status, reason and message for a request h11 could not parse."""
    if exc.error_status_hint == 431:
        return 431, "headers_too_large", "the request line and headers are too large"
    if exc.error_status_hint == 501:  # a transfer coding: bodies need a Content-Length
        return 411, "length_required", "send the body with one Content-Length header alone"
    return 400, "bad_request", f"malformed HTTP request: {exc}"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
