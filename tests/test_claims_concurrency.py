"""Claims under real concurrency: the real app with its own pool over committed data, many
requests at once. No offer hands out more than its quantity, no user more than the per-user
limit, and repeats of one Idempotency-Key all get the first answer."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import ADMIN_KEY

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SHOP = {"lat": 31.2304, "lng": 121.4737}


@pytest.fixture
async def shop(live: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    """A committed store; deleting it afterwards deletes its offers and their codes."""
    owner = (await live.post("/v1/owners", json={"name": "Storm"}, headers=ADMIN)).json()
    store = {"name": "Storm café", "category": "coffee", "location": SHOP, "owner_id": owner["id"]}
    created = await live.post("/v1/merchants", json=store, headers=ADMIN)
    assert created.status_code == 201, created.text
    yield created.json()
    assert (
        await live.delete(f"/v1/merchants/{created.json()['id']}", headers=ADMIN)
    ).status_code == 204


async def new_offer(live: httpx.AsyncClient, shop: dict[str, Any], **body: Any) -> str:
    response = await live.post(
        f"/v1/merchants/{shop['id']}/offers", json={"title": "storm"} | body, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def storm(
    live: httpx.AsyncClient, offer_id: str, users: list[str], keys: list[str] | None = None
) -> list[httpx.Response]:
    async def one(i: int) -> httpx.Response:
        headers = {"Idempotency-Key": keys[i]} if keys else {}
        return await live.post(
            f"/v1/offers/{offer_id}/claims", json={"user_id": users[i]} | SHOP, headers=headers
        )

    return list(await asyncio.gather(*(one(i) for i in range(len(users)))))


async def codes_in_database(database_url: str, offer_id: str) -> tuple[int, int]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM claim WHERE offer_id = $1), claimed FROM offer"
            " WHERE id = $1",
            uuid.UUID(offer_id),
        )
        return int(row[0]), int(row[1])
    finally:
        await conn.close()


async def test_200_concurrent_claims_on_50_codes_give_exactly_50(
    live: httpx.AsyncClient, shop: dict[str, Any], database_url: str
) -> None:
    offer_id = await new_offer(live, shop, quantity=50)
    responses = await storm(live, offer_id, [f"user-{i}" for i in range(200)])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 50, 409: 150}
    assert {r.json()["detail"] for r in responses if r.status_code == 409} == {
        "This offer is sold out: all 50 codes have been claimed"
    }
    codes = {r.json()["code"] for r in responses if r.status_code == 201}
    assert len(codes) == 50
    offer = (await live.get(f"/v1/offers/{offer_id}")).json()
    assert (offer["claimed"], offer["remaining"], offer["status"]) == (50, 0, "sold_out")
    assert await codes_in_database(database_url, offer_id) == (50, 50)


async def test_concurrent_claims_never_pass_the_per_user_limit(
    live: httpx.AsyncClient, shop: dict[str, Any], database_url: str
) -> None:
    offer_id = await new_offer(live, shop, quantity=None, per_user_limit=3)
    users = [f"user-{i % 10}" for i in range(200)]  # 20 attempts each
    responses = await storm(live, offer_id, users)
    assert Counter(r.status_code for r in responses) == {201: 30, 409: 170}
    per_user = Counter(r.json()["user_id"] for r in responses if r.status_code == 201)
    assert per_user == {f"user-{i}": 3 for i in range(10)}
    assert await codes_in_database(database_url, offer_id) == (30, 30)


async def test_both_limits_at_once(
    live: httpx.AsyncClient, shop: dict[str, Any], database_url: str
) -> None:
    offer_id = await new_offer(live, shop, quantity=25, per_user_limit=2)
    users = [f"user-{i % 40}" for i in range(200)]
    responses = await storm(live, offer_id, users)
    assert Counter(r.status_code for r in responses) == {201: 25, 409: 175}
    assert (
        max(Counter(r.json()["user_id"] for r in responses if r.status_code == 201).values()) <= 2
    )
    assert await codes_in_database(database_url, offer_id) == (25, 25)


async def test_simultaneous_repeats_of_a_key_all_get_the_first_answer(
    live: httpx.AsyncClient, shop: dict[str, Any], database_url: str
) -> None:
    offer_id = await new_offer(live, shop, quantity=10, per_user_limit=10)
    responses = await storm(live, offer_id, ["tapper"] * 60, keys=["one-tap"] * 60)
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 59
    assert await codes_in_database(database_url, offer_id) == (1, 1)


async def test_a_storm_of_keyed_claims_still_never_oversells(
    live: httpx.AsyncClient, shop: dict[str, Any], database_url: str
) -> None:
    offer_id = await new_offer(live, shop, quantity=20, per_user_limit=None)
    keys = [f"key-{i % 75}" for i in range(150)]  # each key sent twice, by the same user
    users = [f"user-{(i % 75) % 50}" for i in range(150)]
    responses = await storm(live, offer_id, users, keys)
    by_key: dict[str, set[bytes]] = {}
    for key, response in zip(keys, responses, strict=True):
        by_key.setdefault(key, set()).add(response.content)
    assert all(len(bodies) == 1 for bodies in by_key.values())  # every repeat, the same answer
    first_answers = Counter(
        r.status_code for r in responses if r.headers.get("Idempotent-Replayed") != "true"
    )
    assert first_answers == {201: 20, 409: 55}
    assert await codes_in_database(database_url, offer_id) == (20, 20)
