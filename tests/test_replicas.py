"""Read replicas on PostgreSQL's own streaming replication, over real HTTP (app/replicas.py).

A primary cluster (wal_level replica, its default) and a hot standby made of it with
`pg_basebackup -R`, both run as the `postgres` user on ports 27600-27699; `nearby serve` with
NEARBY_REPLICA_URLS naming the standby. The tests write on the primary, search through the
standby, pause its replay (it lags, and is skipped), and stop it under 16 searching clients
(no request fails), then start it again (it serves again).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from app import migrate
from tests.cluster import Cluster, hot_standby, own_cluster
from tests.service import free_port, nearby_serve

PORTS = range(27600, 27700)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "replicas"
ADMIN = "replicas-admin"
CLIENTS = 16
MAX_LAG_S = 2
HELSINKI = (60.1699, 24.9384)


@dataclass(frozen=True)
class Setup:
    primary: Cluster
    standby: Cluster
    base: str  # the service's address
    replica: str  # the standby's name in metric labels


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    primary_port = free_port(PORTS)
    with own_cluster(primary_port, prefix="primary") as primary:
        migrate.upgrade(primary.url)
        standby_port = free_port(range(primary_port + 1, PORTS.stop))
        with hot_standby(primary, standby_port) as standby:
            service_port = free_port(range(standby_port + 1, PORTS.stop))
            with nearby_serve(
                database_url=primary.url,
                port=service_port,
                log=ARTIFACTS / "service.log",
                env={
                    "NEARBY_ADMIN_KEY": ADMIN,
                    "NEARBY_REPLICA_URLS": standby.url,
                    "NEARBY_REPLICA_MAX_LAG_S": str(MAX_LAG_S),
                },
            ):
                yield Setup(
                    primary,
                    standby,
                    f"http://127.0.0.1:{service_port}",
                    f"127.0.0.1:{standby_port}/nearby",
                )


@pytest.fixture
async def client(setup: Setup) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=setup.base, timeout=10) as client:
        yield client


async def _reads(client: httpx.AsyncClient, pool: str, server: str) -> float:
    """nearby_db_reads_total{pool, server} from /metrics (0 before the first)."""
    text = (await client.get("/metrics")).text
    found = re.search(
        rf'^nearby_db_reads_total\{{pool="{pool}",server="{re.escape(server)}"\}} (\S+)$',
        text,
        re.M,
    )
    return float(found.group(1)) if found else 0.0


async def _healthy(client: httpx.AsyncClient, replica: str) -> float | None:
    text = (await client.get("/metrics")).text
    found = re.search(
        rf'^nearby_replica_healthy\{{server="{re.escape(replica)}"\}} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else None


async def _until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{what} did not happen within {seconds} s")


async def _owner(client: httpx.AsyncClient) -> dict[str, str]:
    made = await client.post(
        "/v1/owners", json={"name": "Replica owner"}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['api_key']}"}


async def _store(client: httpx.AsyncClient, key: dict[str, str], name: str) -> str:
    made = await client.post(
        "/v1/merchants",
        json={
            "external_id": name,
            "name": name,
            "category": "cafe",
            "location": {"lat": HELSINKI[0], "lng": HELSINKI[1]},
        },
        headers=key,
    )
    assert made.status_code == 201, made.text
    merchant_id: str = made.json()["id"]
    return merchant_id


async def _search_ids(client: httpx.AsyncClient) -> set[str]:
    found = await client.get(
        "/v1/search/nearby",
        params={"lat": HELSINKI[0], "lng": HELSINKI[1], "radius": 500, "limit": 100},
    )
    assert found.status_code == 200, found.text
    return {hit["id"] for hit in found.json()["results"]}


async def _on_standby(standby: Cluster, sql: str) -> object:
    conn = await asyncpg.connect(standby.url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_a_store_written_on_the_primary_is_found_by_a_search_served_by_the_replica(
    setup: Setup, client: httpx.AsyncClient
) -> None:
    await _until(
        lambda: _healthy_is(client, setup.replica, 1), 15, "the replica's first good check"
    )
    key = await _owner(client)
    merchant_id = await _store(client, key, "Written on the primary")
    before = await _reads(client, "replica", setup.replica)

    async def found() -> bool:
        return merchant_id in await _search_ids(client)

    await _until(found, 15, "the new store in a search")
    assert await _reads(client, "replica", setup.replica) > before
    # The search's own statement ran on the standby (asked there, on another connection).
    assert await _on_standby(
        setup.standby,
        """SELECT count(*) FROM pg_stat_activity
           WHERE datname = 'nearby' AND pid <> pg_backend_pid() AND query ILIKE '%merchant%'""",
    )
    assert await _on_standby(setup.standby, "SELECT pg_is_in_recovery()") is True
    # The public look-up of it, anonymous, is read there too.
    replica_reads = await _reads(client, "replica", setup.replica)
    assert (await client.get(f"/v1/merchants/{merchant_id}")).status_code == 200
    assert await _reads(client, "replica", setup.replica) == replica_reads + 1


def _more_than(outcomes: list[str], n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(outcomes) > n

    return check


async def _healthy_is(client: httpx.AsyncClient, replica: str, value: float) -> bool:
    return await _healthy(client, replica) == value


async def test_a_lagging_replica_is_skipped_and_a_writer_reads_back_from_the_primary(
    setup: Setup, client: httpx.AsyncClient
) -> None:
    await _until(lambda: _healthy_is(client, setup.replica, 1), 15, "a healthy replica")
    key = await _owner(client)
    await _on_standby(setup.standby, "SELECT pg_wal_replay_pause()")
    try:
        merchant_id = await _store(client, key, "Written while replay is paused")
        # Read-your-writes: the writer's own look-up goes to the primary, which has it; the
        # standby, replaying nothing, cannot have it yet.
        primary_reads = await _reads(client, "primary", "primary")
        mine = await client.get(f"/v1/merchants/{merchant_id}", headers=key)
        assert mine.status_code == 200, mine.text
        assert await _reads(client, "primary", "primary") == primary_reads + 1
        # Once the standby lags more than NEARBY_REPLICA_MAX_LAG_S it is skipped: anonymous
        # searches find the store, on the primary.
        await _until(lambda: _healthy_is(client, setup.replica, 0), 20, "the lag being seen")
        replica_reads = await _reads(client, "replica", setup.replica)
        assert merchant_id in await _search_ids(client)
        assert await _reads(client, "replica", setup.replica) == replica_reads
    finally:
        await _on_standby(setup.standby, "SELECT pg_wal_replay_resume()")
    await _until(lambda: _healthy_is(client, setup.replica, 1), 20, "the replica catching up")
    replica_reads = await _reads(client, "replica", setup.replica)
    assert merchant_id in await _search_ids(client)
    assert await _reads(client, "replica", setup.replica) == replica_reads + 1


async def test_stopping_the_replica_under_load_fails_no_request_and_it_serves_again_when_back(
    setup: Setup, client: httpx.AsyncClient
) -> None:
    await _until(lambda: _healthy_is(client, setup.replica, 1), 15, "a healthy replica")
    stop = asyncio.Event()
    outcomes: list[str] = []  # "200", another status with its body, or the error

    async def searching() -> None:
        async with httpx.AsyncClient(base_url=setup.base, timeout=10) as own:
            while not stop.is_set():
                try:
                    response = await own.get(
                        "/v1/search/nearby",
                        params={"lat": HELSINKI[0], "lng": HELSINKI[1], "radius": 1000},
                    )
                    outcomes.append(
                        "200"
                        if response.status_code == 200
                        else f"{response.status_code} {response.text}"
                    )
                except httpx.HTTPError as exc:
                    outcomes.append(repr(exc))

    clients = [asyncio.create_task(searching()) for _ in range(CLIENTS)]
    try:
        before = await _reads(client, "replica", setup.replica)

        async def replica_serving() -> bool:
            return await _reads(client, "replica", setup.replica) > before + CLIENTS

        await _until(replica_serving, 20, "searches on the replica")
        await asyncio.to_thread(setup.standby.kill)  # pg_ctl stop -m immediate: no goodbye
        stopped_at = len(outcomes)
        await _until(lambda: _healthy_is(client, setup.replica, 0), 10, "the stop being seen")
        await _until(_more_than(outcomes, stopped_at + 10 * CLIENTS), 20, "searches meanwhile")
        await asyncio.to_thread(setup.standby.start)
        await _until(lambda: _healthy_is(client, setup.replica, 1), 60, "the replica's return")
        before = await _reads(client, "replica", setup.replica)
        await _until(replica_serving, 20, "searches on the replica again")
    finally:
        stop.set()
        await asyncio.gather(*clients)
    failed = [outcome for outcome in outcomes if outcome != "200"]
    assert failed == [], f"{len(failed)} of {len(outcomes)} failed: {failed[:5]}"
