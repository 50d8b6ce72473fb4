"""Case `home`: a mini program's home screen, as one call against the two it replaces.

Target (issue 13): /v1/search/nearby?include=offers costs less than /v1/search/nearby followed
by /v1/offers/here at the same point: more screens/s, lower p50 and p99 per screen.

Both sides run against the same service process, on the points of the `offers` case (nine in
ten inside an offer's fence, so there are offers to list) and its 100,000 offers (loaded once
by bench/offers.py). Each of `connections` clients shows screens one after another on its own
keep-alive connection: the one call, or the two calls in turn; a screen's time runs from its
first request's send to its last response's end. wrk cannot time a pair of requests, so the
clients are this module's own minimal HTTP/1.1 ones (asyncio streams, tens of microseconds a
request), the same for both sides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import urlencode

import numpy as np

from bench import offers
from bench.harness import Load, Row, Runs, server, versus

SIDES = ("one call", "two calls")
SCENARIOS = {"radius 1 km": "1000", "radius auto": "auto"}


def screen(side: str, lat: float, lng: float, radius: str) -> list[str]:
    """The requests of one home screen at the point, in order."""
    near = {"lat": lat, "lng": lng, "radius": radius, "limit": 20}
    if side == "one call":
        return [f"/v1/search/nearby?{urlencode(near | {'include': 'offers'})}"]
    return [
        f"/v1/search/nearby?{urlencode(near)}",
        f"/v1/offers/here?{urlencode({'lat': lat, 'lng': lng})}",
    ]


def run(database_url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    asyncio.run(offers.ensure_offers(database_url))
    points = asyncio.run(offers.query_points(database_url, 5000, seed=3))
    rows: list[Row] = []
    with server("app.main:create_app", database_url, factory=True) as port:
        for scenario, radius in SCENARIOS.items():
            paths = {
                side: [screen(side, lat, lng, radius) for lat, lng in points] for side in SIDES
            }
            one, two = _alternate(port, paths, seconds=seconds, rounds=rounds, clients=connections)
            if one.errors or two.errors:
                raise SystemExit(f"bench: {one.errors} and {two.errors} errors in {scenario}")
            rows += versus("home screens", scenario, one, two, min_rate=1.0, max_p99=1.0)
    return rows


def _alternate(
    port: int, paths: dict[str, list[list[str]]], *, seconds: float, rounds: int, clients: int
) -> tuple[Runs, ...]:
    """Each side in turn, `rounds` times after a warm-up, neither always first (as
    harness.alternate does for wrk)."""

    def measure(side: str, seconds: float) -> Load:
        return asyncio.run(screens(port, paths[side], seconds=seconds, clients=clients))

    for side in SIDES:
        measure(side, min(3.0, seconds))
    loads: dict[str, list[Load]] = {side: [] for side in SIDES}
    for round_number in range(rounds):
        for side in SIDES[:: -1 if round_number % 2 else 1]:
            loads[side].append(measure(side, seconds))
    return tuple(Runs(tuple(loads[side])) for side in SIDES)


async def screens(
    port: int, paths: Sequence[Sequence[str]], *, seconds: float, clients: int
) -> Load:
    """`clients` clients showing the screens in turn for `seconds`: screens/s, p50, p99."""
    deadline = time.monotonic() + seconds
    times: list[float] = []
    errors = 0

    async def client(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = offset * 7919
        try:
            while time.monotonic() < deadline:
                i += 1
                started = time.perf_counter()
                for path in paths[i % len(paths)]:
                    if await _get(reader, writer, path) != 200:
                        errors += 1
                times.append(time.perf_counter() - started)
        finally:
            writer.close()

    began = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.monotonic() - began
    p50, p99 = np.percentile(np.array(times) * 1000, [50, 99])
    return Load(len(times) / elapsed, float(p50), float(p99), errors)


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    """One GET on the keep-alive connection; its status (the body is read and dropped)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    await reader.readexactly(length)
    return int(lines[0].split()[1])
