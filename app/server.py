"""The HTTP server: uvicorn, with the read timeouts it lacks.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`) but waits for ever for a
request's headers and body, so a client that trickles a byte a second holds its connection (and
its memory) as long as it likes. `TimedHttpToolsProtocol` adds
- a header timeout: a request's headers must be complete within `header_timeout_s` of its first
  byte (for a new connection: of connecting, so a silent one goes too);
- a body timeout: a body may not stall (no byte read) for `body_timeout_s` while the application
  waits for it. A body the application is slow to take (reading paused) is not the client's fault.
Either answers 408 when it can (no response started) and closes the connection.

Cost on the hot path: one timer armed and cancelled per request (asyncio's call_later, the same
as uvicorn's own keep-alive timer); a GET arms no body timer.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState
from uvicorn.supervisors import Multiprocess

from app.errors import PROBLEM_JSON
from app.settings import Settings


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration with the read timeouts of Settings, served by the timed protocol."""

    def __init__(self, app: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            app,
            http=TimedHttpToolsProtocol,
            timeout_keep_alive=settings.keep_alive_s,
            **kwargs,
        )
        self.header_timeout_s = settings.header_timeout_s
        self.body_timeout_s = settings.body_timeout_s


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Run the service (app.main:create_app) until interrupted, as `uvicorn.run` would."""
    config = ServerConfig(
        "app.main:create_app",
        settings=settings,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )
    server = uvicorn.Server(config)
    try:
        if workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
    except KeyboardInterrupt:
        pass
    if workers == 1 and not server.started:
        raise SystemExit(os.EX_UNAVAILABLE)


def _timeout_response() -> bytes:
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": "Request Timeout",
            "status": 408,
            "detail": "The request was not received in time",
        }
    )
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


_TIMEOUT_RESPONSE = _timeout_response()


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header timeout and a body idle timeout."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        assert isinstance(config, ServerConfig), "serve with app.server.ServerConfig"
        self.header_timeout_s = config.header_timeout_s
        self.body_timeout_s = config.body_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._reading_body = False
        self._body_read_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # After the parser ran: a body still incomplete at the end of what arrived needs a watch.
        if (
            self._reading_body
            and self._body_timer is None
            and not self.transport.is_closing()
            and self.transport.get_protocol() is self  # not upgraded to a WebSocket
        ):
            self._body_timer = self.loop.call_later(self.body_timeout_s, self._body_stalled)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # the next request on a kept-alive connection
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._reading_body = True
        self._body_read_at = self.loop.time()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_read_at = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._reading_body = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        in_flight = self.cycle is not None and not self.cycle.response_complete
        self._give_up(answer=not in_flight)  # a pipelined request's response may be under way

    def _body_stalled(self) -> None:
        self._body_timer = None
        now = self.loop.time()
        if self.flow.read_paused:
            self._body_read_at = now  # the application is behind, not the client
        idle_s = now - self._body_read_at
        if idle_s < self.body_timeout_s:
            self._body_timer = self.loop.call_later(
                self.body_timeout_s - idle_s, self._body_stalled
            )
            return
        self._give_up(answer=not self.cycle.response_started)

    def _give_up(self, *, answer: bool) -> None:
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the application's receive() hears a disconnect
            self.cycle.message_event.set()
        if answer:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()
