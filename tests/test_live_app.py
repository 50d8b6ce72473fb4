"""The real app with its own engine and pool (no dependency overrides), over committed data."""

from __future__ import annotations

import asyncio

import pytest

from app.db import driver_connector, make_engine
from tests.conftest import ADMIN_KEY


async def test_a_store_registered_through_the_api_is_found_by_search(live):
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


async def test_a_failed_write_commits_nothing(live):
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    owner = (await live.post("/v1/owners", json={"name": "Live test 2"}, headers=admin)).json()
    key = {"Authorization": f"Bearer {owner['api_key']}"}
    store = {"external_id": "dup", "name": "A", "category": "c", "location": {"lat": 1, "lng": 1}}
    first = (await live.post("/v1/merchants", json=store, headers=key)).json()
    assert (await live.post("/v1/merchants", json=store, headers=key)).status_code == 409
    listed = (await live.get("/v1/merchants", headers=key)).json()["results"]
    assert [m["id"] for m in listed] == [first["id"]]
    await live.delete(f"/v1/merchants/{first['id']}", headers=key)


async def test_a_cancelled_request_gives_its_driver_connection_back_in_working_order(settings):
    """The hot paths open their connection in the handler (db.driver_connection), without
    FastAPI's shielded exit: a request cancelled mid-query must still return it to the pool,
    and the next request must find it usable, not busy with the cancelled query."""
    engine = make_engine(settings.model_copy(update={"pool_size": 1, "pool_overflow": 0}))
    connect = driver_connector(engine)
    started = asyncio.Event()

    async def slow_request() -> None:
        async with connect() as conn:
            started.set()
            await conn.fetchval("SELECT pg_sleep(30)")

    try:
        task = asyncio.create_task(slow_request())
        await started.wait()
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        async with connect() as conn:  # the pool's only connection
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await engine.dispose()
