"""Replay (GET /v1/events) in commit order, through the real app over committed data, and the
property that makes it safe: a reader paging with its cursor never passes an event that is
committed later, whatever order concurrent transactions write and commit in."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import events
from app.queries import events as events_sql
from app.queries.events import EventRow
from tests.conftest import (
    ADMIN_KEY,
    create_database,
    database_url_for,
    drop_database,
    server_url,
)

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SHOP = {"lat": 31.2304, "lng": 121.4737}
# Replay waits for the oldest writing transaction of the whole server to end (other test runs
# share it), so a test that expects its events waits this long at most.
VISIBLE_WITHIN_S = 120.0


@pytest.fixture
async def cleanup(engine: AsyncEngine) -> AsyncIterator[list[uuid.UUID]]:
    """Owners a test commits events (and maybe an owner row) for; removed afterwards."""
    made: list[uuid.UUID] = []
    yield made
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM event WHERE owner_id = ANY(:ids)"), {"ids": made})
        await conn.execute(text("DELETE FROM owner WHERE id = ANY(:ids)"), {"ids": made})


async def replay_all(
    live: httpx.AsyncClient, headers: dict[str, str], expect: int, **params: Any
) -> list[dict[str, Any]]:
    """Every event replay returns, page by page, once `expect` are visible."""
    deadline = asyncio.get_running_loop().time() + VISIBLE_WITHIN_S
    while True:
        seen: list[dict[str, Any]] = []
        after = None
        while True:
            query = params | ({"after": after} if after else {})
            page = await live.get("/v1/events", params=query, headers=headers)
            assert page.status_code == 200, page.text
            body = page.json()
            seen += body["results"]
            if not body["results"]:
                break
            assert body["next_cursor"] == body["results"][-1]["id"]
            after = body["next_cursor"]
        if len(seen) >= expect or asyncio.get_running_loop().time() > deadline:
            return seen
        await asyncio.sleep(0.2)


async def test_an_owner_replays_its_claims_and_redemptions_in_order(
    live: httpx.AsyncClient, cleanup: list[uuid.UUID]
) -> None:
    owner = (await live.post("/v1/owners", json={"name": "Replayer"}, headers=ADMIN)).json()
    cleanup.append(uuid.UUID(owner["id"]))
    key = {"Authorization": f"Bearer {owner['api_key']}"}
    store = {"name": "Replay café", "category": "coffee", "location": SHOP}
    shop = (await live.post("/v1/merchants", json=store, headers=key)).json()
    offer = (
        await live.post(
            f"/v1/merchants/{shop['id']}/offers",
            json={"title": "t", "quantity": 3, "per_user_limit": 1},
            headers=key,
        )
    ).json()
    made_app = (await live.post("/v1/apps", json={"name": "Replay app"}, headers=ADMIN)).json()
    as_app = {"Authorization": f"Bearer {made_app['app_key']}"}
    codes = []
    for user in ("a", "b", "c"):
        made = await live.post(
            f"/v1/offers/{offer['id']}/claims", json={"user_id": user} | SHOP, headers=as_app
        )
        assert made.status_code == 201, made.text
        codes.append(made.json()["code"])
    assert (await live.post(f"/v1/claims/{codes[1]}/redeem", headers=key)).status_code == 200

    seen = await replay_all(live, key, 5, limit=2)
    assert [(e["type"], e["user_id"]) for e in seen] == [
        ("offer.claimed", "a"),
        ("offer.claimed", "b"),
        ("offer.claimed", "c"),
        ("offer.sold_out", "c"),
        ("claim.redeemed", "b"),
    ]
    assert {e["offer_id"] for e in seen} == {offer["id"]}
    assert {e["merchant_id"] for e in seen} == {shop["id"]}
    assert set(seen[0]) == {
        "id",
        "type",
        "at",
        "owner_id",
        "offer_id",
        "merchant_id",
        "user_id",
        "app_id",
        "data",
    }
    only = await replay_all(live, key, 1, type="claim.redeemed")
    assert [e["data"]["code"] for e in only] == [codes[1]]
    tail = await live.get("/v1/events", params={"after": seen[2]["id"]}, headers=key)
    assert [e["id"] for e in tail.json()["results"]] == [e["id"] for e in seen[3:]]
    empty = await live.get("/v1/events", params={"after": seen[-1]["id"]}, headers=key)
    assert empty.json() == {"results": [], "next_cursor": seen[-1]["id"]}
    # tail=true: the last `limit` (a live view starts there), still in commit order.
    for params in ({}, {"after": seen[0]["id"]}, {"type": "offer.claimed"}):
        expected = [e for e in seen if e["type"] == params.get("type", e["type"])]
        expected = expected[1:] if "after" in params else expected
        for limit in (1, 2, 10):
            last = await live.get(
                "/v1/events", params=params | {"tail": "true", "limit": limit}, headers=key
            )
            assert last.status_code == 200, last.text
            ids = [e["id"] for e in last.json()["results"]]
            assert ids == [e["id"] for e in expected[-limit:]]
            assert last.json()["next_cursor"] == expected[-1]["id"]

    as_admin = await live.get("/v1/events", params={"owner_id": owner["id"]}, headers=ADMIN)
    assert [e["id"] for e in as_admin.json()["results"]] == [e["id"] for e in seen]
    other = (await live.post("/v1/owners", json={"name": "Nosy"}, headers=ADMIN)).json()
    cleanup.append(uuid.UUID(other["id"]))
    nosy = {"Authorization": f"Bearer {other['api_key']}"}
    assert (await live.get("/v1/events", headers=nosy)).json()["results"] == []
    foreign = await live.get("/v1/events", params={"after": seen[0]["id"]}, headers=nosy)
    assert foreign.status_code == 422
    await live.delete(f"/v1/merchants/{shop['id']}", headers=key)


@pytest.mark.parametrize(
    "params",
    [
        {"after": "nope"},
        {"after": "99999999999"},
        {"type": "offer.stolen"},
        {"limit": "0"},
        {"limit": "1001"},
        {"colour": "red"},
        {"after": "1" * 30},
        {"tail": "maybe"},
    ],
)
async def test_bad_replay_parameters_are_422(
    live: httpx.AsyncClient, cleanup: list[uuid.UUID], params: dict[str, str]
) -> None:
    owner = (await live.post("/v1/owners", json={"name": "Bad params"}, headers=ADMIN)).json()
    cleanup.append(uuid.UUID(owner["id"]))
    key = {"Authorization": f"Bearer {owner['api_key']}"}
    refused = await live.get("/v1/events", params=params, headers=key)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "/problems/invalid-input"


async def test_replay_needs_an_owner(live: httpx.AsyncClient) -> None:
    assert (await live.get("/v1/events")).status_code == 401
    assert (await live.get("/v1/events", headers=ADMIN)).status_code == 422


def _event(owner_id: uuid.UUID, n: int) -> Any:
    return events.new("fence.entered", owner_id=owner_id, at=datetime.now(UTC), data={"n": n})


async def _read(
    engine: AsyncEngine, owner_id: uuid.UUID, after: tuple[int, int] | None
) -> list[EventRow]:
    async with engine.connect() as conn:
        rows = await events_sql.replay(conn, owner_id=owner_id, after=after, types=None, limit=1000)
        await conn.rollback()
    return rows


async def test_a_long_transaction_that_commits_later_is_not_skipped(
    engine: AsyncEngine, cleanup: list[uuid.UUID]
) -> None:
    """The lower id commits last: a reader must not see the newer event before it."""
    owner_id = uuid.uuid4()
    cleanup.append(owner_id)
    async with engine.connect() as long, engine.connect() as short:
        await long.begin()
        (first,) = await events.emit(long, _event(owner_id, 1))
        await short.begin()
        (second,) = await events.emit(short, _event(owner_id, 2))
        await short.commit()
        assert first < second
        # Committed, but behind a transaction still open: not yet replayed.
        assert await _read(engine, owner_id, None) == []
        await long.commit()
    seen = await _wait_for(engine, owner_id, None, 2)
    assert [r.id for r in seen] == [first, second]


async def test_cursors_never_skip_an_event_under_random_interleavings(
    engine: AsyncEngine, cleanup: list[uuid.UUID]
) -> None:
    """Writers begin, write, commit or roll back in a random order while a reader pages with its
    cursor; at the end the reader has seen every committed event exactly once and nothing else."""
    rng = random.Random(13)
    for round_ in range(30):
        owner_id = uuid.uuid4()
        cleanup.append(owner_id)
        writers: list[tuple[AsyncConnection, list[int]]] = []
        committed: list[int] = []
        seen: list[int] = []
        cursor: tuple[int, int] | None = None
        steps = ["open"] * 6 + ["write"] * 12 + ["read"] * 10
        rng.shuffle(steps)
        async with _connections(engine, 6) as conns:
            idle = list(conns)
            for step in [*steps, "end"]:
                if step == "open" and idle:
                    conn = idle.pop()
                    await conn.begin()
                    writers.append((conn, []))
                elif step == "write" and writers:
                    conn, ids = rng.choice(writers)
                    ids += await events.emit(conn, _event(owner_id, len(ids)))
                elif step == "read":
                    for row in await _read(engine, owner_id, cursor):
                        seen.append(row.id)
                        cursor = (row.txid, row.id)
                if step == "end" or (writers and rng.random() < 0.2):
                    for conn, ids in (
                        writers if step == "end" else [writers.pop(rng.randrange(len(writers)))]
                    ):
                        if rng.random() < 0.25:
                            await conn.rollback()
                        else:
                            await conn.commit()
                            committed += ids
                    if step == "end":
                        writers.clear()
            tail = await _wait_for(engine, owner_id, cursor, len(committed) - len(seen))
            seen += [row.id for row in tail]
        assert sorted(seen) == sorted(committed), f"round {round_}"
        assert len(seen) == len(set(seen))


async def _wait_for(
    engine: AsyncEngine, owner_id: uuid.UUID, after: tuple[int, int] | None, count: int
) -> list[EventRow]:
    deadline = asyncio.get_running_loop().time() + VISIBLE_WITHIN_S
    while True:
        rows = await _read(engine, owner_id, after)
        if len(rows) >= count or asyncio.get_running_loop().time() > deadline:
            return rows
        await asyncio.sleep(0.1)


class _connections:
    def __init__(self, engine: AsyncEngine, n: int) -> None:
        self.engine, self.n = engine, n
        self.conns: list[AsyncConnection] = []

    async def __aenter__(self) -> list[AsyncConnection]:
        self.conns = [await self.engine.connect() for _ in range(self.n)]
        return self.conns

    async def __aexit__(self, *exc: object) -> None:
        for conn in self.conns:
            await conn.close()


async def test_an_import_that_ends_either_way_writes_import_finished(
    live: httpx.AsyncClient, cleanup: list[uuid.UUID]
) -> None:
    owner = (await live.post("/v1/owners", json={"name": "Importer"}, headers=ADMIN)).json()
    cleanup.append(uuid.UUID(owner["id"]))
    key = {"Authorization": f"Bearer {owner['api_key']}"}
    good = b"external_id,name,category,lat,lng\nA,Cafe,coffee,60.17,24.94\nB,Bad,coffee,95,24.9\n"
    jobs = []
    for body in (good, b""):
        accepted = await live.post("/v1/imports?format=csv", content=body, headers=key)
        assert accepted.status_code == 202, accepted.text
        jobs.append(accepted.json()["id"])
    seen = await replay_all(live, key, 2, type="import.finished")
    by_job = {e["data"]["import_id"]: e for e in seen}
    assert set(by_job) == set(jobs)
    done, failed = by_job[jobs[0]]["data"], by_job[jobs[1]]["data"]
    assert (done["status"], done["rows_total"], done["rows_ok"], done["rows_failed"]) == (
        "done",
        2,
        1,
        1,
    )
    assert (done["rows_inserted"], done["reason"]) == (1, None)
    assert failed["status"] == "failed" and "empty" in failed["reason"]
    assert {e["offer_id"] for e in seen} == {None}


async def test_a_long_transaction_in_another_database_does_not_hold_replay_back(
    engine: AsyncEngine, cleanup: list[uuid.UUID]
) -> None:
    server, name = server_url(), f"nearby_other_{uuid.uuid4().hex[:8]}"
    await create_database(server, name)
    try:
        elsewhere = await asyncpg.connect(database_url_for(server, name))
        try:
            async with elsewhere.transaction():
                await elsewhere.fetchval("SELECT pg_current_xact_id()")  # takes an xid, stays open
                owner_id = uuid.uuid4()
                cleanup.append(owner_id)
                async with engine.begin() as conn:
                    (written,) = await events.emit(conn, _event(owner_id, 1))
                seen = await _wait_for(engine, owner_id, None, 1)
                assert [r.id for r in seen] == [written]
        finally:
            await elsewhere.close()
    finally:
        await drop_database(server, name)
