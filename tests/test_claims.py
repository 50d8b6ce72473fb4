"""Claims and redeeming over HTTP: who gets a code and when, the 403s and 409s, Idempotency-Key
replays, and redeeming a code exactly once. Every claim here comes from an app, with its key
(`client` carries it unless a request says otherwise)."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from pyproj import Geod
from sqlalchemy.ext.asyncio import AsyncConnection

from app import claims
from app.queries.merchants import MerchantRow
from app.schemas.offers import ClaimOut, RedeemedOut
from spatial import CoordSystem, circle_fence, from_wgs84
from tests.factories import (
    bearer,
    create_app,
    create_owner,
    insert_merchant,
    insert_offer,
    owner_with_headers,
)

SHOP = (22.5431, 114.0579)
INSIDE = {"lat": 22.5440, "lng": 114.0579}
OUTSIDE = {"lat": 22.5500, "lng": 114.0579}  # 766 m north of a 300 m fence
CODE = re.compile(r"^[A-Z2-7]{26}$")
GEOD = Geod(ellps="WGS84")


@pytest.fixture
async def client(client: httpx.AsyncClient, conn: AsyncConnection) -> httpx.AsyncClient:
    """The app's client: every request carries the key of a new app."""
    made = await create_app(conn)
    client.headers["Authorization"] = f"Bearer {made.app_key}"
    return client


@pytest.fixture
async def owner(conn: AsyncConnection) -> tuple[uuid.UUID, dict[str, str]]:
    return await owner_with_headers(conn, "Claims owner")


@pytest.fixture
async def shop(conn: AsyncConnection, owner: tuple[uuid.UUID, dict[str, str]]) -> MerchantRow:
    return await insert_merchant(conn, owner[0], lat=SHOP[0], lng=SHOP[1])


async def make_offer(conn: AsyncConnection, shop: Any, **fields: Any) -> Any:
    return await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 300), **fields)


async def claim(
    client: httpx.AsyncClient,
    offer_id: Any,
    user: str,
    where: dict[str, Any] = INSIDE,
    /,
    **headers: str,
) -> httpx.Response:
    return await client.post(
        f"/v1/offers/{offer_id}/claims", json={"user_id": user} | where, headers=headers
    )


async def offer_counts(client: httpx.AsyncClient, offer_id: Any) -> tuple[int, int, int | None]:
    body = (await client.get(f"/v1/offers/{offer_id}")).json()
    return body["claimed"], body["redeemed"], body["remaining"]


async def test_a_user_inside_the_fence_gets_an_unguessable_code(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop, quantity=10)
    response = await claim(client, offer.id, "openid-1")
    assert response.status_code == 201, response.text
    body = ClaimOut.model_validate(response.json())
    assert CODE.match(body.code) and body.offer_id == offer.id and body.user_id == "openid-1"
    assert set(response.json()) == {"code", "offer_id", "user_id", "claimed_at", "offer", "share"}
    assert response.json()["share"] is None  # no share named
    assert response.json()["offer"] == {
        "id": str(offer.id),
        "title": "Test offer",
        "ends_at": None,
        "merchant": {
            "id": str(shop.id),
            "name": shop.name,
            "category": "coffee",
            "address": None,
            "phone": None,
            "location": {"lat": SHOP[0], "lng": SHOP[1]},
        },
    }
    assert "Idempotent-Replayed" not in response.headers
    assert await offer_counts(client, offer.id) == (1, 0, 9)


async def test_codes_are_128_random_bits_and_never_repeat(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop, per_user_limit=None)
    codes = {(await claim(client, offer.id, f"u{i}")).json()["code"] for i in range(200)}
    assert len(codes) == 200 and all(CODE.match(c) for c in codes)


async def test_a_user_outside_the_fence_is_403(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop)
    response = await claim(client, offer.id, "far", OUTSIDE)
    assert response.status_code == 403
    assert response.json()["detail"] == "The user is not inside this offer's geofence"
    assert response.headers["content-type"] == "application/problem+json"
    assert await offer_counts(client, offer.id) == (0, 0, None)


async def test_the_point_is_read_in_the_claims_coordinate_system(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 100))
    # 90 m east of the shop: inside. Its GCJ-02 numbers are ~500 m off when read as WGS-84.
    lat, lng = from_wgs84(22.5431, 114.05877, CoordSystem.GCJ02)
    assert (await claim(client, offer.id, "a", {"lat": lat, "lng": lng})).status_code == 403
    gcj = {"lat": lat, "lng": lng, "coord": "gcj02"}
    assert (await claim(client, offer.id, "a", gcj)).status_code == 201


async def test_an_unknown_offer_is_404_and_a_malformed_id_422(client: httpx.AsyncClient) -> None:
    assert (await claim(client, uuid.uuid4(), "u")).status_code == 404
    assert (await claim(client, uuid.uuid4(), "u", **{"Idempotency-Key": "k"})).status_code == 404
    assert (await claim(client, "not-an-id", "u")).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"lat": 1, "lng": 1},
        {"user_id": "", "lat": 1, "lng": 1},
        {"user_id": "x" * 201, "lat": 1, "lng": 1},
        {"user_id": "a\x00", "lat": 1, "lng": 1},
        {"user_id": "u", "lat": 91, "lng": 1},
        {"user_id": "u", "lat": 1},
        {"user_id": "u", "lat": 1, "lng": 1, "coord": "mars"},
        {"user_id": "u", "lat": 1, "lng": 1, "extra": True},
    ],
)
async def test_bad_claim_bodies_are_422(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow, body: dict[str, Any]
) -> None:
    offer = await make_offer(conn, shop)
    response = await client.post(f"/v1/offers/{offer.id}/claims", json=body)
    assert response.status_code == 422, response.text


async def test_a_bad_idempotency_key_is_422(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop)
    for key in ("", "k" * 201):
        response = await claim(client, offer.id, "u", **{"Idempotency-Key": key})
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]


async def test_an_offer_is_claimable_only_inside_its_window(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    now = datetime.now(UTC)
    later = await make_offer(conn, shop, starts_at=now + timedelta(hours=1))
    response = await claim(client, later.id, "u")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("This offer is not active now: it starts at ")
    over = await make_offer(
        conn, shop, starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1)
    )
    response = await claim(client, over.id, "u")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("This offer is not active now: it ended at ")


async def test_the_per_user_limit_holds_and_other_users_still_claim(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop, per_user_limit=2, quantity=10)
    assert [(await claim(client, offer.id, "same")).status_code for _ in range(3)] == [
        201,
        201,
        409,
    ]
    refused = await claim(client, offer.id, "same")
    assert refused.json()["detail"] == (
        "The user 'same' already holds the 2 code(s) per user this offer allows"
    )
    assert (await claim(client, offer.id, "other")).status_code == 201
    assert await offer_counts(client, offer.id) == (3, 0, 7)
    keyed = await claim(client, offer.id, "same", **{"Idempotency-Key": "again"})
    assert keyed.status_code == 409 and keyed.content == refused.content
    assert await offer_counts(client, offer.id) == (3, 0, 7)  # the refusal left no count


async def test_a_sold_out_offer_is_409_and_hands_out_nothing_more(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop, quantity=2, per_user_limit=None)
    statuses = [(await claim(client, offer.id, f"u{i}")).status_code for i in range(4)]
    assert statuses == [201, 201, 409, 409]
    refused = await claim(client, offer.id, "late")
    assert refused.json()["detail"] == "This offer is sold out: all 2 codes have been claimed"
    assert await offer_counts(client, offer.id) == (2, 0, 0)
    assert (await client.get(f"/v1/offers/{offer.id}")).json()["status"] == "sold_out"


# ----------------------------------------------------------------------------- Idempotency-Key


async def test_a_repeated_key_returns_the_first_claim_byte_for_byte(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop, quantity=5, per_user_limit=5)
    first = await claim(client, offer.id, "u", **{"Idempotency-Key": "tap-1"})
    again = await claim(client, offer.id, "u", **{"Idempotency-Key": "tap-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await offer_counts(client, offer.id) == (1, 0, 4)
    # a repeat is answered from the key even when the user has walked out since
    moved = await claim(client, offer.id, "u", OUTSIDE, **{"Idempotency-Key": "tap-1"})
    assert moved.content == first.content
    other = await claim(client, offer.id, "u", **{"Idempotency-Key": "tap-2"})
    assert other.status_code == 201 and other.json()["code"] != first.json()["code"]


async def test_a_repeated_key_replays_a_refusal_too(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop)
    first = await claim(client, offer.id, "u", OUTSIDE, **{"Idempotency-Key": "k"})
    assert first.status_code == 403
    again = await claim(client, offer.id, "u", INSIDE, **{"Idempotency-Key": "k"})
    assert again.status_code == 403 and again.content == first.content
    assert again.headers["content-type"] == "application/problem+json"
    assert (await claim(client, offer.id, "u", **{"Idempotency-Key": "k2"})).status_code == 201


async def test_a_key_used_by_another_user_is_422_and_shows_no_code(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop)
    first = await claim(client, offer.id, "alice", **{"Idempotency-Key": "shared"})
    assert first.status_code == 201
    stolen = await claim(client, offer.id, "mallory", **{"Idempotency-Key": "shared"})
    assert stolen.status_code == 422
    assert first.json()["code"] not in stolen.text
    assert stolen.json()["errors"] == [
        {
            "loc": ["header", "Idempotency-Key"],
            "msg": "was already used for this offer by another user_id",
        }
    ]


async def test_keys_are_scoped_to_the_offer(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    one, two = await make_offer(conn, shop), await make_offer(conn, shop)
    a = await claim(client, one.id, "u", **{"Idempotency-Key": "same"})
    b = await claim(client, two.id, "u", **{"Idempotency-Key": "same"})
    assert (a.status_code, b.status_code) == (201, 201) and a.json()["code"] != b.json()["code"]


async def test_a_key_is_kept_24_hours_then_reusable_and_purged(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    driver: asyncpg.Connection,
    shop: MerchantRow,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every 16th keyed claim of the process purges: count from 1 here, so that the keyed claims
    # of earlier tests cannot make one of these three purge before the explicit purge below.
    monkeypatch.setattr(claims, "_keyed_claims", itertools.count(1))
    offer = await make_offer(conn, shop, per_user_limit=None)
    first = await claim(client, offer.id, "u", **{"Idempotency-Key": "old"})
    await claim(client, offer.id, "u", **{"Idempotency-Key": "older"})
    await driver.execute(
        "UPDATE claim_request SET created_at = now() - interval '23 hours 59 minutes'"
        " WHERE key = 'old'"
    )
    assert (
        await claim(client, offer.id, "u", **{"Idempotency-Key": "old"})
    ).content == first.content
    await driver.execute(
        "UPDATE claim_request SET created_at = now() - interval '25 hours' WHERE key = 'old'"
    )
    await driver.execute(
        "UPDATE claim_request SET created_at = now() - interval '26 hours' WHERE key = 'older'"
    )
    fresh = await claim(client, offer.id, "u", **{"Idempotency-Key": "old"})
    assert fresh.status_code == 201 and fresh.json()["code"] != first.json()["code"]
    assert "Idempotent-Replayed" not in fresh.headers
    assert await claims.purge_expired(driver) == 1
    keys = {r["key"] for r in await driver.fetch("SELECT key FROM claim_request")}
    assert keys == {"old"}  # "older" expired and was purged; "old" was taken again


# ------------------------------------------------------------------------------------ redeem


async def test_the_owner_redeems_a_code_once(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner: tuple[uuid.UUID, dict[str, str]],
    shop: MerchantRow,
) -> None:
    offer = await make_offer(conn, shop)
    code = (await claim(client, offer.id, "u")).json()["code"]
    response = await client.post(f"/v1/claims/{code}/redeem", headers=owner[1])
    assert response.status_code == 200, response.text
    body = RedeemedOut.model_validate(response.json())
    assert (body.code, body.offer_id, body.user_id) == (code, offer.id, "u")
    assert body.redeemed_at >= body.claimed_at
    again = await client.post(f"/v1/claims/{code}/redeem", headers=owner[1])
    assert again.status_code == 409
    assert again.json()["detail"] == f"The code {code} has already been redeemed"
    assert await offer_counts(client, offer.id) == (1, 1, None)


async def test_a_code_is_redeemed_in_any_letter_case(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner: tuple[uuid.UUID, dict[str, str]],
    shop: MerchantRow,
) -> None:
    offer = await make_offer(conn, shop)
    code = (await claim(client, offer.id, "u")).json()["code"]
    response = await client.post(f"/v1/claims/{code.lower()}/redeem", headers=owner[1])
    assert response.status_code == 200 and response.json()["code"] == code


async def test_only_the_offers_owner_or_the_admin_redeems(
    client: httpx.AsyncClient, conn: AsyncConnection, admin: dict[str, str], shop: MerchantRow
) -> None:
    offer = await make_offer(conn, shop, per_user_limit=None)
    _, other_key = await create_owner(conn, "Rival")
    code = (await claim(client, offer.id, "u")).json()["code"]
    no_key = {"Authorization": ""}  # instead of the app key `client` sends
    assert (await client.post(f"/v1/claims/{code}/redeem", headers=no_key)).status_code == 401
    rival = await client.post(f"/v1/claims/{code}/redeem", headers=bearer(other_key))
    assert rival.status_code == 403
    assert (await client.post(f"/v1/claims/{code}/redeem", headers=admin)).status_code == 200


async def test_unknown_and_malformed_codes(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    unknown = await client.post(f"/v1/claims/{'A' * 26}/redeem", headers=owner[1])
    assert unknown.status_code == 404
    for bad in ("short", "A" * 27, "0" * 26, "A" * 25 + "-"):
        response = await client.post(f"/v1/claims/{bad}/redeem", headers=owner[1])
        assert response.status_code == 422, bad


async def test_deleting_an_offer_deletes_its_codes(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner: tuple[uuid.UUID, dict[str, str]],
    shop: MerchantRow,
    driver: asyncpg.Connection,
) -> None:
    offer = await make_offer(conn, shop)
    code = (await claim(client, offer.id, "u", **{"Idempotency-Key": "k"})).json()["code"]
    assert (await client.delete(f"/v1/offers/{offer.id}", headers=owner[1])).status_code == 204
    assert (await client.post(f"/v1/claims/{code}/redeem", headers=owner[1])).status_code == 404
    for table in ("claim", "offer_claimant", "claim_request"):
        assert (
            await driver.fetchval(f"SELECT count(*) FROM {table} WHERE offer_id = $1", offer.id)
            == 0
        )


# ------------------------------------------------------------- refusals a client can switch on


async def test_each_refusal_has_its_own_problem_type(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner: tuple[uuid.UUID, dict[str, str]],
    shop: Any,
) -> None:
    now = datetime.now(UTC)
    later = await make_offer(conn, shop, starts_at=now + timedelta(hours=1))
    one = await make_offer(conn, shop, quantity=1, per_user_limit=None)
    mine = await make_offer(conn, shop, per_user_limit=1)
    await claim(client, one.id, "first")
    code = (await claim(client, mine.id, "u")).json()["code"]
    await client.post(f"/v1/claims/{code}/redeem", headers=owner[1])
    refusals = [
        (await claim(client, later.id, "u"), 409, "not-active", "Offer not active"),
        (await claim(client, one.id, "u"), 409, "sold-out", "Sold out"),
        (await claim(client, mine.id, "u"), 409, "limit-reached", "Per-user limit reached"),
        (await claim(client, mine.id, "v", OUTSIDE), 403, "outside-fence", "Outside the geofence"),
        (
            await client.post(f"/v1/claims/{code}/redeem", headers=owner[1]),
            409,
            "already-redeemed",
            "Already redeemed",
        ),
    ]
    for response, status, slug, title in refusals:
        assert response.status_code == status, response.text
        body = response.json()
        assert (body["type"], body["title"], body["status"]) == (f"/problems/{slug}", title, status)
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_accuracy_circle_may_reach_50_m_past_the_fence(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: Any
) -> None:
    offer = await make_offer(conn, shop, per_user_limit=None)  # 300 m around the shop
    inside_m = GEOD.inv(SHOP[1], SHOP[0], INSIDE["lng"], INSIDE["lat"])[2]  # 99.6 m out
    fits = 300 + 50 - inside_m
    ok = await claim(client, offer.id, "u", INSIDE | {"accuracy_m": fits - 0.5})
    assert ok.status_code == 201, ok.text
    wide = await claim(client, offer.id, "u", INSIDE | {"accuracy_m": fits + 0.5})
    assert wide.status_code == 403 and wide.json()["type"] == "/problems/outside-fence"
    assert wide.json()["detail"] == (
        "The user is not inside this offer's geofence, or the position's accuracy circle"
        f" ({fits + 0.5:g} m) reaches more than 50 m outside it"
    )
    for bad in (-1, 5000.5, "near", None):
        response = await claim(client, offer.id, "u", INSIDE | {"accuracy_m": bad})
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["loc"] == ["body", "accuracy_m"]
