"""Case `track`: single-point POST /v1/track against GET /v1/offers/here at the same points.

Target (issue 13): tracking keeps >= 0.5x the requests/s of offers/here, p99 <= 2x. A tracking
call does what offers/here does (its response carries the offers at the point, read in the same
statement) plus counting the call against the user's rate limit, reading the fences near the
point and the user's open visits, and, when something changed, writing the visits, the user's
newest point and the events in one statement (and its commit).

Both sides run against the same service process (one worker), on the points of the `offers`
case (nine in ten inside an offer's fence) and its 100,000 offers, 16 wrk connections, in
alternating rounds. Two scenarios of who reports the points:
- "users stay": each point always reported by the same user (5,000 users), each user known
  before the runs (one call each): nothing changes but the user's newest point (its time is
  now; the user's row alone is written), the common case of a user who stands or walks inside
  one area;
- "users move": 1,000 users take the points in turn, so nearly every call moves its user out of
  the fences at one point, often in a city far away, and into those at another: about 20
  events written (and their visits) on a call, the worst case. It has no target: it measures
  the cost of durable writes (a WAL flush a call), and shows how many events it writes.
The target is the issue's case, "users stay". The rate limit is set out of reach (the counters
are still written on every call).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx

from bench import offers
from bench.harness import Load, Row, Runs, server, versus, wrk, wrk_script

TRACK_LUA = Path(__file__).with_name("track.lua")
ADMIN_KEY = "bench-admin-key"
SERVICE_ENV = {"NEARBY_ADMIN_KEY": ADMIN_KEY, "NEARBY_TRACK_PER_MINUTE": "1000000000"}
SCENARIOS = {"users stay": ("stay", 5000), "users move": ("move", 1000)}


def run(database_url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    asyncio.run(offers.ensure_offers(database_url))
    points = asyncio.run(offers.query_points(database_url, 5000, seed=3))
    rows: list[Row] = []
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.writelines(f"{lat:.7f},{lng:.7f}\n" for lat, lng in points)
    try:
        with server("app.main:create_app", database_url, factory=True, env=SERVICE_ENV) as port:
            app_key = _new_app(port)
            for scenario, (mode, users) in SCENARIOS.items():
                env = {
                    "BENCH_POINTS": f.name,
                    "BENCH_APP_KEY": app_key,
                    "BENCH_MODE": mode,
                    "BENCH_USERS": str(users),
                    "BENCH_RUN": uuid.uuid4().hex[:8],
                }

                calls = [0.0]

                def tracking(
                    seconds: float, env: dict[str, str] = env, calls: list[float] = calls
                ) -> Load:
                    load = wrk_script(
                        port, TRACK_LUA, env, seconds=seconds, connections=connections
                    )
                    calls[0] += load.requests_per_s * seconds
                    return load

                def here(seconds: float) -> Load:
                    return wrk(
                        port,
                        "/v1/offers/here",
                        points,
                        seconds=seconds,
                        connections=connections,
                        query="&limit=20",
                    )

                if mode == "stay":
                    asyncio.run(_introduce(port, app_key, env["BENCH_RUN"], points, connections))
                track_runs, here_runs = _alternate(tracking, here, seconds=seconds, rounds=rounds)
                if track_runs.errors or here_runs.errors:
                    raise SystemExit(
                        f"bench: {track_runs.errors} and {here_runs.errors} errors in {scenario}"
                    )
                rows += versus(
                    "track",
                    f"{scenario}, vs offers/here",
                    track_runs,
                    here_runs,
                    targets=mode == "stay",
                    min_rate=0.5,
                    max_p99=2.0,
                )
                if mode == "move":
                    written = asyncio.run(_events_of(database_url, env["BENCH_RUN"])) / calls[0]
                    rate = written * track_runs.requests_per_s
                    for what, value in (
                        ("events per call", f"{written:.1f}"),
                        ("events/s written", f"{rate:,.0f}"),
                    ):
                        rows.append(Row("track", scenario, what, value, "", "", "", None))
    finally:
        os.unlink(f.name)
    return rows


def _alternate(
    a: Callable[[float], Load], b: Callable[[float], Load], *, seconds: float, rounds: int
) -> tuple[Runs, Runs]:
    """Each side in turn, `rounds` times after a warm-up (which also makes the users of "stay"
    known), neither always first."""
    a(min(3.0, seconds))
    b(min(3.0, seconds))
    loads: dict[str, list[Load]] = {"a": [], "b": []}
    for round_number in range(rounds):
        order = [("a", a), ("b", b)]
        if round_number % 2:
            order.reverse()
        for name, side in order:
            loads[name].append(side(seconds))
    return Runs(tuple(loads["a"])), Runs(tuple(loads["b"]))


async def _introduce(
    port: int, app_key: str, run: str, points: list[tuple[float, float]], connections: int
) -> None:
    """Each user of "users stay" reports its point once (track.lua: user k stays at point k),
    so that every call measured is a user's later call, as the scenario says. A timed warm-up
    did not reach them all: first calls enter up to 150 fences each and write their events."""
    queue = list(enumerate(points))
    headers = {"Authorization": f"Bearer {app_key}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

        async def worker() -> None:
            while queue:
                user, (lat, lng) = queue.pop()
                # as track.lua sends it
                point = {"lat": round(lat, 7), "lng": round(lng, 7), "accuracy_m": 10}
                made = await client.post(
                    "/v1/track",
                    json={"user_id": f"{run}-{user}", "points": [point]},
                    headers=headers,
                )
                made.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(connections)))


async def _events_of(database_url: str, run: str) -> int:
    """The events the users of a scenario's run caused."""
    conn = await asyncpg.connect(database_url)
    try:
        found = await conn.fetchval("SELECT count(*) FROM event WHERE user_id LIKE $1", f"{run}-%")
    finally:
        await conn.close()
    return int(found)


def _new_app(port: int) -> str:
    """A new app of the service for the walkers: its key."""
    made = httpx.post(
        f"http://127.0.0.1:{port}/v1/apps",
        json={"name": "bench tracking"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    made.raise_for_status()
    return str(made.json()["app_key"])
