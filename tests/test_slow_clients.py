"""Slow clients against the real server (`nearby serve`, port 26030): they are cut off after the
header, body and keep-alive timeouts, and everyone else is served meanwhile.

The timeouts are set low here (5 s, 3 s, 2 s) to keep the test short; the defaults are checked
against what the documentation says.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import httpx
import pytest

from app.server import ServerConfig, TimedHttpToolsProtocol
from app.settings import Settings
from tests.service import free_port, nearby_serve

PORT = free_port(range(26030, 26040))
HEADER_TIMEOUT_S, BODY_TIMEOUT_S, KEEP_ALIVE_S = 5, 3, 2
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "slow-clients"
SEARCH = "/v1/search/nearby?lat=60.1699&lng=24.9384&radius=1000"


@pytest.fixture(scope="module")
def service(database_url: str) -> Iterator[str]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {
        "NEARBY_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
        "NEARBY_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "NEARBY_KEEP_ALIVE_S": str(KEEP_ALIVE_S),
    }
    log = ARTIFACTS / "service.log"
    with nearby_serve(database_url=database_url, port=PORT, log=log, env=env):
        yield f"http://127.0.0.1:{PORT}"
    assert "Traceback" not in log.read_text(), log.read_text()


@dataclass
class Cut:
    """How the server ended a connection: after how long, and what it said first."""

    after_s: float
    said: bytes


async def _trickle(request: bytes, *, every_s: float, give_up_s: float) -> Cut:
    """Send `request` a byte every `every_s` (nothing at all if empty) until the server closes
    the connection; fail after `give_up_s`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    started = time.monotonic()
    said = bytearray()

    async def read_all() -> None:
        while chunk := await reader.read(4096):
            said.extend(chunk)

    reading = asyncio.create_task(read_all())
    try:
        for byte in request:
            if reading.done():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.wait({reading}, timeout=every_s)
        await asyncio.wait_for(reading, timeout=max(0.0, give_up_s - (time.monotonic() - started)))
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server closed while a byte was on its way
    finally:
        reading.cancel()
        writer.close()
    return Cut(time.monotonic() - started, bytes(said))


async def _served_meanwhile(base: str, stop: asyncio.Event) -> list[float]:
    """Latencies of a client searching and checking health while the slow ones hang on."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while not stop.is_set():
            for path in (SEARCH, "/healthz"):
                started = time.monotonic()
                response = await client.get(path)
                assert response.status_code == 200, response.text
                latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.02)
    return latencies


async def test_clients_trickling_headers_are_cut_off_and_others_are_served_meanwhile(
    service: str,
) -> None:
    request = f"GET {SEARCH} HTTP/1.1\r\nHost: nearby\r\nUser-Agent: slow\r\n\r\n".encode()
    stop = asyncio.Event()
    others = asyncio.create_task(_served_meanwhile(service, stop))
    try:
        trickling = [_trickle(request, every_s=1.0, give_up_s=30) for _ in range(100)]
        silent = [_trickle(b"", every_s=1.0, give_up_s=30) for _ in range(10)]
        cuts = await asyncio.gather(*trickling, *silent)
    finally:
        stop.set()
    latencies = await others

    for cut in cuts:
        assert HEADER_TIMEOUT_S - 0.5 <= cut.after_s <= HEADER_TIMEOUT_S + 3, cut
        assert cut.said.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), cut
        assert b"connection: close" in cut.said, cut
    assert len(latencies) >= 20
    assert median(latencies) < 0.25, sorted(latencies)
    assert max(latencies) < 2.0, sorted(latencies)[-5:]  # a shared CI machine has its moments


async def test_a_stalled_body_is_cut_off_but_a_slow_steady_one_is_read(service: str) -> None:
    body = b'{"name": "Slow store", "lat": 60.17, "lng": 24.94}'
    head = (
        f"POST /v1/merchants HTTP/1.1\r\nHost: nearby\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()

    async def stalled() -> Cut:
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
        started = time.monotonic()
        writer.write(head + body[:10])
        await writer.drain()
        said = await asyncio.wait_for(reader.read(), timeout=BODY_TIMEOUT_S + 10)
        writer.close()
        return Cut(time.monotonic() - started, said)

    async def steady() -> Cut:
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
        started = time.monotonic()
        writer.write(head)
        for i in range(0, len(body), 10):  # a chunk a second: slower overall than the timeout
            writer.write(body[i : i + 10])
            await writer.drain()
            await asyncio.sleep(1.0)
        said = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        writer.close()
        return Cut(time.monotonic() - started, said)

    cut, read = await asyncio.gather(stalled(), steady())
    assert BODY_TIMEOUT_S - 0.5 <= cut.after_s <= BODY_TIMEOUT_S + 3, cut
    assert cut.said.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), cut
    assert read.after_s > BODY_TIMEOUT_S
    assert read.said.startswith(b"HTTP/1.1 401 "), read  # read whole, then refused: no key


async def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(
    service: str,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: nearby\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    assert head.startswith(b"HTTP/1.1 200 ")
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE)[1])  # type: ignore[index]
    await reader.readexactly(length)
    answered = time.monotonic()
    assert await asyncio.wait_for(reader.read(), timeout=KEEP_ALIVE_S + 5) == b""
    assert KEEP_ALIVE_S - 0.5 <= time.monotonic() - answered <= KEEP_ALIVE_S + 2
    writer.close()


def test_the_defaults_are_the_documented_ones(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    config = ServerConfig("app.main:create_app", settings=settings, factory=True)
    assert (config.header_timeout_s, config.body_timeout_s, config.timeout_keep_alive) == (
        10.0,
        30.0,
        65,
    )
    assert config.http is TimedHttpToolsProtocol
    documented = (ROOT / "README.md").read_text()
    for name, default in (
        ("NEARBY_HEADER_TIMEOUT_S", "10"),
        ("NEARBY_BODY_TIMEOUT_S", "30"),
        ("NEARBY_KEEP_ALIVE_S", "65"),
    ):
        assert re.search(rf"`{name}`\s*\|\s*{default}\s*\|", documented), name
