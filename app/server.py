"""The HTTP server: uvicorn, with the read timeouts it lacks.

uvicorn closes an idle keep-alive connection (`timeout_keep_alive`) but waits for ever for a
request's headers and body, so a client that trickles a byte a second holds its connection (and
its memory) as long as it likes. `TimedHttpToolsProtocol` adds
- a header timeout: a request's headers must be complete within `header_timeout_s` of its first
  byte (for a new connection: of connecting, so a silent one goes too);
- a body timeout: a body may not stall (no byte read) for `body_timeout_s` while the application
  waits for it. A body the application is slow to take (reading paused) is not the client's fault.
Either answers 408 when it can (no response started) and closes the connection.

Cost on the hot path: a request that arrives whole in one read (nearly every GET) arms no timer,
only reads the loop's clock; one whose headers or body are still incomplete after a read gets a
timer until they are. A connection arms one when it is made (a silent one must go too).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
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


def serve(settings: Settings, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Run the service (app.main:create_app) until interrupted, as `uvicorn.run` would; `options`
    are more of uvicorn's (log_config, timeout_graceful_shutdown, ...)."""
    config = ServerConfig(
        "app.main:create_app",
        settings=settings,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,  # app/logs.py writes the access lines, with request ids
        **options,
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
        self._reading_headers = False
        self._headers_began_at = 0.0
        self._reading_body = False
        self._body_read_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        # A connection that sends nothing at all goes too: its first request's clock starts now.
        self._reading_headers, self._headers_began_at = True, self.loop.time()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # A timer only for what is still incomplete once the parser has taken what arrived: a
        # request that comes whole in one read (nearly all) arms none.
        if self._reading_headers and self._header_timer is None:
            deadline = self._headers_began_at + self.header_timeout_s
            self._header_timer = self._watch(deadline, self._headers_too_slow)
        if self._reading_body and self._body_timer is None:
            deadline = self._body_read_at + self.body_timeout_s
            self._body_timer = self._watch(deadline, self._body_stalled)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._reading_headers:  # the next request on a kept-alive connection
            self._reading_headers, self._headers_began_at = True, self.loop.time()

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._reading_body, self._body_read_at = True, self.loop.time()
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

    def _watch(self, deadline: float, expired: Callable[[], None]) -> asyncio.TimerHandle | None:
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return None  # closed, or upgraded to a WebSocket
        return self.loop.call_at(deadline, expired)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        in_flight = self.cycle is not None and not self.cycle.response_complete
        self._give_up(answer=not in_flight)  # a pipelined request's response may be under way

    def _body_stalled(self) -> None:
        self._body_timer = None
        if self.flow.read_paused:
            self._body_read_at = self.loop.time()  # the application is behind, not the client
        deadline = self._body_read_at + self.body_timeout_s
        if self.loop.time() < deadline:  # read since the timer was armed
            self._body_timer = self._watch(deadline, self._body_stalled)
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
