"""Events are written with what they report: claims, sold-out offers, redemptions and finished
imports each write theirs in the same statement or transaction, with a pending delivery for
every webhook of the owner that wants them; a refusal or a rollback writes none."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from spatial import circle_fence
from tests.factories import create_app, create_owner, insert_merchant, insert_offer

SHOP = (22.5431, 114.0579)
INSIDE = {"lat": 22.5440, "lng": 114.0579}
OUTSIDE = {"lat": 22.5500, "lng": 114.0579}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def owner(conn: AsyncConnection) -> tuple[uuid.UUID, dict[str, str]]:
    row, key = await create_owner(conn, "Events owner")
    return row.id, bearer(key)


@pytest.fixture
async def shop(conn: AsyncConnection, owner: tuple[uuid.UUID, dict[str, str]]) -> Any:
    return await insert_merchant(conn, owner[0], lat=SHOP[0], lng=SHOP[1])


async def events_of(conn: AsyncConnection, owner_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            """SELECT id, type, owner_id, offer_id, merchant_id, user_id, app_id, data::text
               FROM event WHERE owner_id = :o ORDER BY id"""
        ),
        {"o": owner_id},
    )
    return [dict(r._mapping) | {"data": orjson.loads(r.data)} for r in rows]


@pytest.fixture
async def client(client: httpx.AsyncClient, conn: AsyncConnection) -> httpx.AsyncClient:
    """Claims come from an app's users: every request carries a new app's key unless it names
    its own credential (the owner's routes do)."""
    made = await create_app(conn)
    client.headers["Authorization"] = f"Bearer {made.app_key}"
    return client


async def claim(
    client: httpx.AsyncClient,
    offer_id: Any,
    user: str,
    where: dict[str, float] = INSIDE,
    key: str | None = None,
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await client.post(
        f"/v1/offers/{offer_id}/claims", json={"user_id": user} | where, headers=headers
    )


async def test_claims_write_offer_claimed_and_the_last_code_offer_sold_out(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner: tuple[uuid.UUID, dict[str, str]],
    shop: Any,
) -> None:
    offer = await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 300), quantity=2)
    first = await claim(client, offer.id, "u1")
    second = await claim(client, offer.id, "u2", key="k-2")
    assert (first.status_code, second.status_code) == (201, 201)
    assert (await claim(client, offer.id, "u3")).status_code == 409  # sold out: no event
    assert (await claim(client, offer.id, "u4", OUTSIDE)).status_code == 403
    written = await events_of(conn, owner[0])
    assert [(e["type"], e["user_id"], e["data"]) for e in written] == [
        ("offer.claimed", "u1", {"code": first.json()["code"], "claimed": 1, "quantity": 2}),
        ("offer.claimed", "u2", {"code": second.json()["code"], "claimed": 2, "quantity": 2}),
        ("offer.sold_out", "u2", {"claimed": 2, "quantity": 2}),
    ]
    (app_id,) = (
        await conn.execute(
            text("SELECT DISTINCT app_id FROM claim WHERE offer_id = :o"), {"o": offer.id}
        )
    ).one()
    assert {(e["offer_id"], e["merchant_id"], e["app_id"]) for e in written} == {
        (offer.id, shop.id, app_id)  # the app whose users claimed
    }


async def test_an_unlimited_offer_never_sells_out(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner: tuple[uuid.UUID, dict[str, str]],
    shop: Any,
) -> None:
    offer = await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 300), quantity=None)
    assert (await claim(client, offer.id, "u1")).status_code == 201
    assert [e["type"] for e in await events_of(conn, owner[0])] == ["offer.claimed"]


async def test_redeeming_writes_claim_redeemed_once(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner: tuple[uuid.UUID, dict[str, str]],
    shop: Any,
) -> None:
    offer = await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 300))
    code = (await claim(client, offer.id, "u1")).json()["code"]
    done = await client.post(f"/v1/claims/{code}/redeem", headers=owner[1])
    assert done.status_code == 200
    assert (await client.post(f"/v1/claims/{code}/redeem", headers=owner[1])).status_code == 409
    redeemed = [e for e in await events_of(conn, owner[0]) if e["type"] == "claim.redeemed"]
    assert len(redeemed) == 1
    app_id = (
        await conn.execute(text("SELECT app_id FROM claim WHERE code = :c"), {"c": code})
    ).scalar_one()
    assert (
        redeemed[0]["offer_id"],
        redeemed[0]["merchant_id"],
        redeemed[0]["user_id"],
        redeemed[0]["app_id"],
    ) == (offer.id, shop.id, "u1", app_id)
    assert redeemed[0]["data"]["code"] == code
    assert redeemed[0]["data"]["redeemed_at"] == done.json()["redeemed_at"].replace("Z", "+00:00")


async def test_events_fan_out_to_the_webhooks_that_want_them(
    app: FastAPI,
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner: tuple[uuid.UUID, dict[str, str]],
    shop: Any,
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"webhook_allow_private": True})
    hooks = {}
    for name, types in {
        "claims": ["offer.claimed"],
        "both": ["offer.claimed", "offer.sold_out"],
    }.items():
        made = await client.post(
            "/v1/webhooks",
            json={"url": f"http://127.0.0.1:26499/{name}", "events": types},
            headers=owner[1],
        )
        assert made.status_code == 201, made.text
        hooks[name] = made.json()["id"]
    other, other_key = await create_owner(conn, "Someone else")
    theirs = await client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:26499/theirs", "events": ["offer.claimed"]},
        headers=bearer(other_key),
    )
    offer = await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 300), quantity=1)
    assert (await claim(client, offer.id, "u1")).status_code == 201
    rows = await conn.execute(
        text(
            """SELECT d.webhook_id::text, e.type, d.status, d.attempts FROM delivery d
               JOIN event e ON e.id = d.event_id ORDER BY e.id, d.webhook_id"""
        )
    )
    assert sorted(tuple(r) for r in rows) == sorted(
        [
            (hooks["claims"], "offer.claimed", "pending", 0),
            (hooks["both"], "offer.claimed", "pending", 0),
            (hooks["both"], "offer.sold_out", "pending", 0),
        ]
    )
    listed = await client.get(f"/v1/webhooks/{hooks['both']}/deliveries", headers=owner[1])
    assert [(d["event_type"], d["status"], d["attempts"]) for d in listed.json()["results"]] == [
        ("offer.sold_out", "pending", 0),
        ("offer.claimed", "pending", 0),
    ]
    pending = await client.get(
        f"/v1/webhooks/{hooks['both']}/deliveries?status=delivered", headers=owner[1]
    )
    assert pending.json() == {"results": [], "next_cursor": None}
    forbidden = await client.get(f"/v1/webhooks/{theirs.json()['id']}/deliveries", headers=owner[1])
    assert forbidden.status_code == 403


async def test_a_rolled_back_transaction_leaves_no_event(engine: AsyncEngine) -> None:
    from app import events

    owner_id = uuid.uuid4()
    async with engine.connect() as conn:
        async with conn.begin() as transaction:
            await events.emit(conn, _event(owner_id))
            await transaction.rollback()
        rows = await conn.execute(
            text("SELECT count(*) FROM event WHERE owner_id = :o"), {"o": owner_id}
        )
        assert rows.scalar() == 0


def _event(owner_id: uuid.UUID, n: int = 0) -> Any:
    from datetime import UTC, datetime

    from app import events

    return events.new("fence.entered", owner_id=owner_id, at=datetime.now(UTC), data={"n": n})
