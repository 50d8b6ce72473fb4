"""Database outages over real HTTP: 503 problems while PostgreSQL is away, then nothing.

The test runs its own PostgreSQL 15 + PostGIS cluster (ports 26040-26041 here), restarts it
under 16 keep-alive clients of the real service (`nearby serve`), then stops it for 20 s.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app import migrate
from app.errors import RETRY_AFTER_S
from app.imports import jobs
from tests.cluster import Cluster, own_cluster
from tests.service import nearby_serve

PG_PORT = 26040
SERVICE_PORT = 26041
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "outage"
CLIENTS = 16
HELSINKI = {"lat": "60.1699", "lng": "24.9384"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with own_cluster(PG_PORT, prefix="outage") as cluster:
        migrate.upgrade(cluster.url)
        yield cluster


@dataclass(frozen=True)
class Outcome:
    started: float  # time.monotonic() when the request was sent
    path: str
    status: int | None  # None: no response (reset, refused, timed out)
    error: str = ""
    content_type: str = ""
    problem_type: str = ""
    retry_after: str | None = None


async def _client(base: str, paths: list[str], stop: asyncio.Event, into: list[Outcome]) -> None:
    """One keep-alive client asking for `paths` in turn until `stop`; a short pause after a 503."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as client:
        turn = 0
        while not stop.is_set():
            path, turn = paths[turn % len(paths)], turn + 1
            started = time.monotonic()
            try:
                response = await client.get(path)
            except httpx.TransportError as exc:
                into.append(Outcome(started, path, None, error=repr(exc)))
                await asyncio.sleep(0.05)
                continue
            problem = response.json().get("type", "") if response.status_code != 200 else ""
            into.append(
                Outcome(
                    started,
                    path,
                    response.status_code,
                    content_type=response.headers.get("content-type", ""),
                    problem_type=problem,
                    retry_after=response.headers.get("retry-after"),
                )
            )
            if response.status_code != 200:
                await asyncio.sleep(0.05)


async def test_database_outages_are_503_problems_and_recovery_is_within_two_seconds(
    cluster: Cluster,
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "service.log"
    base = f"http://127.0.0.1:{SERVICE_PORT}"
    with nearby_serve(database_url=cluster.url, port=SERVICE_PORT, log=log, demo=True):
        async with httpx.AsyncClient(base_url=base, timeout=10) as probe:
            found = await probe.get("/v1/search/nearby", params={**HELSINKI, "radius": 2000})
            assert found.status_code == 200, found.text
            merchant_id = found.json()["results"][0]["id"]
            paths = [
                f"/v1/search/nearby?lat={HELSINKI['lat']}&lng={HELSINKI['lng']}&radius=1500",
                f"/v1/offers/here?lat={HELSINKI['lat']}&lng={HELSINKI['lng']}",
                f"/v1/merchants/{merchant_id}",
            ]
            lines_before = _lines(log)
            outcomes: list[Outcome] = []
            stop = asyncio.Event()
            clients = [
                asyncio.create_task(_client(base, paths[i % 3 :] + paths[: i % 3], stop, outcomes))
                for i in range(CLIENTS)
            ]
            try:
                await asyncio.sleep(2)
                await asyncio.to_thread(cluster.restart)
                restarted_at = time.monotonic()
                await asyncio.sleep(5)
                stopping_at = time.monotonic()
                await asyncio.to_thread(cluster.stop)
                stopped_at = time.monotonic()
                await asyncio.sleep(10)
                readyz = await probe.get("/readyz")
                await asyncio.sleep(10)
                starting_at = time.monotonic()
                await asyncio.to_thread(cluster.start)
                started_at = time.monotonic()
                await asyncio.sleep(4)
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(*clients), timeout=30)
            log_lines = _lines(log)[len(lines_before) :]

    summary = _summary(outcomes, restarted_at, stopping_at, started_at, log_lines)
    (ARTIFACTS / "summary.txt").write_text(summary)

    assert readyz.status_code == 503, readyz.text
    assert readyz.json()["type"] == "/problems/unavailable"
    assert [o for o in outcomes if o.status is None] == [], summary  # no reset or refused
    assert [o for o in outcomes if o.status == 500] == [], summary
    refusals = [o for o in outcomes if o.status != 200]
    for o in refusals:
        assert (o.status, o.problem_type) == (503, "/problems/unavailable"), o
        assert o.content_type == "application/problem+json", o
        assert o.retry_after == str(RETRY_AFTER_S), o
    # From 2 s after each return until 1 s before the next stop (a request sent just before
    # may reach the database as it goes).
    for back_at, until in ((restarted_at, stopping_at - 1), (started_at, float("inf"))):
        late = [o for o in outcomes if back_at + 2 <= o.started < until and o.status != 200]
        first = [(o.path, round(o.started - back_at, 2)) for o in late[:5]]
        assert late == [], f"{first}\n{summary}"
    while_down = [o for o in outcomes if stopped_at + 0.5 <= o.started <= starting_at]
    assert len(while_down) > CLIENTS and all(o.status == 503 for o in while_down), summary
    after = [o for o in outcomes if o.started >= started_at + 2]
    assert {o.path for o in after if o.status == 200} == set(paths), summary
    # One line per refused request, no traceback, nothing else.
    assert not [line for line in log_lines if "Traceback" in line], summary
    unreachable = [line for line in log_lines if "the database is unreachable" in line]
    assert len(unreachable) == len(refusals) + 1, summary  # and the /readyz probe
    # Besides, the webhook delivery loop says once per outage that it paused (and resumed).
    delivery = [line for line in log_lines if '"logger":"nearby.delivery"' in line]
    assert len(delivery) <= 4, "\n".join(delivery)
    assert len(log_lines) == len(unreachable) + len(delivery), "\n".join(log_lines[:50])


def _lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines()


def _summary(
    outcomes: list[Outcome],
    restarted_at: float,
    stopping_at: float,
    started_at: float,
    log_lines: list[str],
) -> str:
    def counts(first: float, last: float) -> str:
        window = [o for o in outcomes if first <= o.started < last]
        by_status: dict[str, int] = {}
        for o in window:
            key = str(o.status) if o.status is not None else "no response"
            by_status[key] = by_status.get(key, 0) + 1
        return ", ".join(f"{k}: {v}" for k, v in sorted(by_status.items())) or "none"

    never = float("inf")
    errors = sorted({re.sub(r"0x[0-9a-f]+", "", o.error) for o in outcomes if o.error})
    return "\n".join(
        [
            f"fast restart (from 2 s before to the stop): {counts(0, stopping_at)}",
            f"20 s stop (until 2 s after the start): {counts(stopping_at, started_at + 2)}",
            f"after (from 2 s after the start): {counts(started_at + 2, never)}",
            f"until 2 s after the restart: {counts(restarted_at - 1, restarted_at + 2)}",
            f"log lines: {len(log_lines)}",
            *errors,
            *log_lines[:20],
        ]
    )


async def test_an_import_cut_off_by_an_outage_fails_with_a_reason_naming_the_database(
    cluster: Cluster, tmp_path: Path
) -> None:
    rows = ["external_id,name,category,lat,lng"]
    rows += [
        f"K{n},Store {n},shop,{60 + n % 1000 / 5000},{24 + n % 997 / 5000}" for n in range(150_000)
    ]
    base = f"http://127.0.0.1:{SERVICE_PORT}"
    admin = {"Authorization": "Bearer outage-admin"}
    log = ARTIFACTS / "service-import.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with nearby_serve(
        database_url=cluster.url,
        port=SERVICE_PORT,
        log=log,
        env={"NEARBY_ADMIN_KEY": "outage-admin"},
    ):
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            owner = await client.post("/v1/owners", json={"name": "Outage"}, headers=admin)
            key = {"Authorization": f"Bearer {owner.json()['api_key']}"}
            accepted = await client.post(
                "/v1/imports",
                content="\n".join(rows).encode(),
                params={"format": "csv"},
                headers=key,
            )
            assert accepted.status_code == 202, accepted.text
            job = f"/v1/imports/{accepted.json()['id']}"
            deadline = time.monotonic() + 30
            while (seen := (await client.get(job, headers=key)).json())["rows_total"] == 0:
                assert time.monotonic() < deadline, seen
                await asyncio.sleep(0.02)
            assert seen["status"] == "running"
            await asyncio.to_thread(cluster.stop)
            await asyncio.sleep(1)
            await asyncio.to_thread(cluster.start)
            deadline = time.monotonic() + 15
            while (seen := (await client.get(job, headers=key)).json())["reason"] in (
                None,
                jobs.ORPHANED,
            ):
                assert time.monotonic() < deadline, seen
                await asyncio.sleep(0.1)
    assert seen["status"] == "failed"
    assert seen["reason"].startswith("the database connection was lost: "), seen
    assert "Traceback" not in log.read_text()
