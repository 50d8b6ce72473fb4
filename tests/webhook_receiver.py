"""A real HTTP receiver for webhook tests: an asyncio server on 127.0.0.1 that records every
request and answers as its `mode` says (ok, error: 500, hang: never answers, redirect: 302)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from contextlib import suppress
from dataclasses import dataclass, field


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    mode: str = "ok"
    received: list[Received] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # mode -> requests answered so
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        """Stop listening and drop every open connection (the receiver is 'down')."""
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            with suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.received.append(Received(headers, body))
                mode = self.mode
                self.answers[mode] = self.answers.get(mode, 0) + 1
                if mode == "hang":
                    await asyncio.sleep(3600)
                status = {"ok": "200 OK", "error": "500 Internal Server Error"}.get(
                    mode, "302 Found"
                )
                extra = "Location: http://127.0.0.1:9/elsewhere\r\n" if mode == "redirect" else ""
                writer.write(f"HTTP/1.1 {status}\r\n{extra}Content-Length: 2\r\n\r\nok".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()


def verify(secret: str, received: Received) -> bool:
    """Check Nearby-Signature the way a receiver would, with the standard library only."""
    fields = dict(part.split("=", 1) for part in received.headers["nearby-signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{fields['t']}.".encode() + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])
