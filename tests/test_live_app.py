"""The real app with its own engine and pool (no dependency overrides), over committed data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from app.db import DriverConnections, make_engine
from app.settings import Settings
from tests.conftest import ADMIN_KEY


async def test_a_store_registered_through_the_api_is_found_by_search(
    live: httpx.AsyncClient,
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    owner = (await live.post("/v1/owners", json={"name": "Live test"}, headers=admin)).json()
    key = {"Authorization": f"Bearer {owner['api_key']}"}
    store = {
        "name": "Live café",
        "category": "coffee",
        "location": {"lat": -41.2865, "lng": 174.7762},
    }
    created = (await live.post("/v1/merchants", json=store, headers=key)).json()
    try:
        assert created["timezone"] == "Pacific/Auckland"
        found = (
            await live.get(
                "/v1/search/nearby", params={"lat": -41.2866, "lng": 174.7762, "radius": 50}
            )
        ).json()
        assert [r["id"] for r in found["results"]] == [created["id"]]
        box = (
            await live.get(
                "/v1/search/bbox",
                params={"min_lat": -41.3, "min_lng": 174.7, "max_lat": -41.2, "max_lng": 174.8},
            )
        ).json()
        assert created["id"] in {r["id"] for r in box["results"]}
        cells = (
            await live.get(
                "/v1/search/clusters",
                params={"min_lat": -41.3, "min_lng": 174.7, "max_lat": -41.2, "max_lng": 174.8},
            )
        ).json()
        assert sum(c["count"] for c in cells["clusters"]) >= 1
        assert (await live.get("/readyz")).status_code == 200
    finally:
        assert (await live.delete(f"/v1/merchants/{created['id']}", headers=key)).status_code == 204
    assert (await live.get(f"/v1/merchants/{created['id']}")).status_code == 404


async def test_a_failed_write_commits_nothing(live: httpx.AsyncClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    owner = (await live.post("/v1/owners", json={"name": "Live test 2"}, headers=admin)).json()
    key = {"Authorization": f"Bearer {owner['api_key']}"}
    store = {"external_id": "dup", "name": "A", "category": "c", "location": {"lat": 1, "lng": 1}}
    first = (await live.post("/v1/merchants", json=store, headers=key)).json()
    assert (await live.post("/v1/merchants", json=store, headers=key)).status_code == 409
    listed = (await live.get("/v1/merchants", headers=key)).json()["results"]
    assert [m["id"] for m in listed] == [first["id"]]
    await live.delete(f"/v1/merchants/{first['id']}", headers=key)


async def test_a_cancelled_request_gives_its_driver_connection_back_in_working_order(
    settings: Settings,
) -> None:
    """The hot paths open their connection in the handler (db.driver_connection), without
    FastAPI's shielded exit: a request cancelled mid-query must still give it back, and the
    next request must find it usable, not busy with the cancelled query."""
    engine = make_engine(settings.model_copy(update={"pool_size": 1, "pool_overflow": 0}))
    connect = DriverConnections(engine, keep=1)
    started = asyncio.Event()
    used: list[asyncpg.Connection] = []

    async def slow_request() -> None:
        async with connect() as conn:
            used.append(conn)
            started.set()
            await conn.fetchval("SELECT pg_sleep(30)")

    try:
        task = asyncio.create_task(slow_request())
        await started.wait()
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert connect.idle == 1  # back, waiting for the next hot request
        async with connect() as conn:  # the pool's only connection
            assert conn is used[0]
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await connect.close()
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        await engine.dispose()


@asynccontextmanager
async def driver_stack(
    settings: Settings, *, pool_size: int, keep: int
) -> AsyncIterator[tuple[DriverConnections, Any]]:
    """A DriverConnections over an engine of `pool_size` connections, and the engine's pool;
    everything closed and given back afterwards."""
    engine = make_engine(settings.model_copy(update={"pool_size": pool_size, "pool_overflow": 0}))
    connect = DriverConnections(engine, keep=keep)
    try:
        yield connect, engine.pool
    finally:
        await connect.close()
        await engine.dispose()


async def test_driver_connections_wait_up_to_keep_and_go_back_to_the_engine(
    settings: Settings,
) -> None:
    async with driver_stack(settings, pool_size=3, keep=2) as (connect, pool):
        async with connect() as a, connect() as b, connect() as c:
            assert pool.checkedout() == 3
            assert len({id(a), id(b), id(c)}) == 3
        assert (connect.idle, pool.checkedout()) == (2, 2)  # the third went back to the pool
        async with connect() as conn:  # a waiting one, no checkout
            assert pool.checkedout() == 2
            assert conn in (a, b)
        await connect.close()
        assert pool.checkedout() == 0


async def test_a_connection_left_in_a_transaction_or_closed_is_not_kept(settings: Settings) -> None:
    async with driver_stack(settings, pool_size=2, keep=2) as (connect, pool):
        async with connect() as conn:
            await conn.execute("BEGIN")
        async with connect() as conn:
            await conn.close()
        assert (connect.idle, pool.checkedout()) == (0, 0)
        async with connect() as conn:  # the pool replaces what was invalidated
            assert await conn.fetchval("SELECT 1") == 1


async def test_an_old_connection_goes_back_to_the_engine(settings: Settings) -> None:
    engine = make_engine(settings)
    connect = DriverConnections(engine, keep=2, recycle_s=0.0)
    pool: Any = engine.pool
    try:
        async with connect() as conn:
            assert await conn.fetchval("SELECT 1") == 1
        assert (connect.idle, pool.checkedout()) == (0, 0)
    finally:
        await engine.dispose()
