"""Offers over HTTP: create, read, patch, delete and list, their geofences and windows, and the
clear 422 of every invalid fence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries.merchants import MerchantRow
from app.schemas.offers import OfferList, OfferOut
from spatial import CoordSystem, from_wgs84
from tests.factories import bearer, create_owner, insert_merchant

SHOP = (22.5431, 114.0579)  # Shenzhen: GCJ-02 applies here


@pytest.fixture
async def owner(conn: AsyncConnection) -> dict[str, str]:
    _, key = await create_owner(conn, "Offer owner")
    return bearer(key)


@pytest.fixture
async def shop(conn: AsyncConnection, owner: dict[str, str]) -> MerchantRow:
    row = await conn.execute(
        text("SELECT id FROM owner WHERE name = 'Offer owner' ORDER BY created_at DESC LIMIT 1")
    )
    return await insert_merchant(conn, row.scalar_one(), lat=SHOP[0], lng=SHOP[1])


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], merchant_id: Any, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/merchants/{merchant_id}/offers", json={"title": "10% off"} | body, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def square(lat: float, lng: float, half: float) -> dict[str, Any]:
    ring = [
        [lng - half, lat - half],
        [lng + half, lat - half],
        [lng + half, lat + half],
        [lng - half, lat + half],
        [lng - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


async def test_an_owner_creates_an_offer_with_a_default_fence_around_the_store(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    before = datetime.now(UTC)
    body = await create(client, owner, shop.id, quantity=200, description="first 200")
    offer = OfferOut.model_validate(body)
    assert offer.merchant_id == shop.id and offer.title == "10% off"
    assert body["geofence"] == {
        "type": "circle",
        "center": {"lat": SHOP[0], "lng": SHOP[1]},
        "radius_m": 500.0,
    }
    assert before <= offer.starts_at <= datetime.now(UTC) and offer.ends_at is None
    assert (offer.quantity, offer.per_user_limit) == (200, 1)
    assert (offer.claimed, offer.redeemed, offer.remaining, offer.status) == (0, 0, 200, "active")
    fetched = (await client.get(f"/v1/offers/{offer.id}")).json()
    assert fetched == body | {"status": "active"}


async def test_an_unlimited_offer_has_no_remaining_count(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    body = await create(client, owner, shop.id, quantity=None, per_user_limit=None)
    assert (body["quantity"], body["remaining"], body["per_user_limit"]) == (None, None, None)


async def test_fences_come_back_in_the_coordinate_system_asked_for(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    fence = square(22.54, 114.05, 0.01)
    body = await create(client, owner, shop.id, geofence=fence, coord="gcj02")
    assert body["coord"] == "gcj02"
    got = body["geofence"]["coordinates"][0]
    for (lng, lat), (want_lng, want_lat) in zip(got, fence["coordinates"][0], strict=True):
        assert (lng, lat) == (pytest.approx(want_lng, abs=1e-8), pytest.approx(want_lat, abs=1e-8))
    wgs = (await client.get(f"/v1/offers/{body['id']}")).json()["geofence"]["coordinates"][0]
    assert abs(wgs[0][0] - fence["coordinates"][0][0][0]) > 0.001  # shifted back by ~500 m
    circle = {"type": "circle", "center": {"lat": 22.55, "lng": 114.06}, "radius_m": 300}
    body = await create(client, owner, shop.id, geofence=circle, coord="bd09")
    assert body["geofence"]["center"] == {
        "lat": pytest.approx(22.55, abs=1e-8),
        "lng": pytest.approx(114.06, abs=1e-8),
    }
    stored = (await client.get(f"/v1/offers/{body['id']}", params={"coord": "wgs84"})).json()
    lat, lng = stored["geofence"]["center"]["lat"], stored["geofence"]["center"]["lng"]
    assert from_wgs84(lat, lng, CoordSystem.BD09) == pytest.approx((22.55, 114.06), abs=1e-8)


async def test_a_multipolygon_fence_is_kept_as_given(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    first, second = square(22.54, 114.05, 0.01), square(22.60, 114.10, 0.01)
    fence = {
        "type": "MultiPolygon",
        "coordinates": [first["coordinates"], second["coordinates"]],
    }
    body = await create(client, owner, shop.id, geofence=fence)
    assert body["geofence"] == fence


async def test_only_the_owner_creates_changes_and_deletes_offers(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: dict[str, str], shop: MerchantRow
) -> None:
    _, other_key = await create_owner(conn, "Someone else")
    other = bearer(other_key)
    response = await client.post(
        f"/v1/merchants/{shop.id}/offers", json={"title": "x"}, headers=other
    )
    assert response.status_code == 403
    assert (
        await client.post(f"/v1/merchants/{shop.id}/offers", json={"title": "x"})
    ).status_code == 401
    offer = await create(client, owner, shop.id)
    assert (
        await client.patch(f"/v1/offers/{offer['id']}", json={"title": "y"}, headers=other)
    ).status_code == 403
    assert (await client.delete(f"/v1/offers/{offer['id']}", headers=other)).status_code == 403
    assert (await client.get(f"/v1/merchants/{shop.id}/offers", headers=other)).status_code == 403
    assert (await client.delete(f"/v1/offers/{offer['id']}", headers=owner)).status_code == 204
    assert (await client.get(f"/v1/offers/{offer['id']}")).status_code == 404
    assert (await client.delete(f"/v1/offers/{offer['id']}", headers=owner)).status_code == 404


async def test_the_admin_manages_any_offer(
    client: httpx.AsyncClient, admin: dict[str, str], shop: MerchantRow
) -> None:
    offer = await create(client, admin, shop.id)
    patched = await client.patch(f"/v1/offers/{offer['id']}", json={"quantity": 5}, headers=admin)
    assert patched.status_code == 200 and patched.json()["remaining"] == 5


async def test_offers_of_an_unknown_merchant_or_offer_are_404(
    client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    missing = uuid.uuid4()
    response = await client.post(
        f"/v1/merchants/{missing}/offers", json={"title": "x"}, headers=owner
    )
    assert response.status_code == 404
    assert (await client.get(f"/v1/offers/{missing}")).status_code == 404
    assert (
        await client.patch(f"/v1/offers/{missing}", json={"title": "x"}, headers=owner)
    ).status_code == 404


async def test_a_patch_changes_only_the_fields_given(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    offer = await create(
        client, owner, shop.id, description="d", quantity=10, geofence=square(22.54, 114.05, 0.01)
    )
    ends = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = await client.patch(
        f"/v1/offers/{offer['id']}", json={"title": "20% off", "ends_at": ends}, headers=owner
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["title"] == "20% off" and patched["ends_at"] is not None
    unchanged = {"description", "geofence", "quantity", "per_user_limit", "starts_at"}
    assert {k: patched[k] for k in unchanged} == {k: offer[k] for k in unchanged}
    assert patched["updated_at"] >= offer["updated_at"]
    cleared = (
        await client.patch(
            f"/v1/offers/{offer['id']}",
            json={"description": None, "quantity": None, "geofence": None, "ends_at": None},
            headers=owner,
        )
    ).json()
    assert (cleared["description"], cleared["quantity"], cleared["ends_at"]) == (None, None, None)
    assert cleared["geofence"]["type"] == "circle" and cleared["geofence"]["radius_m"] == 500


async def test_a_patch_may_not_lower_the_quantity_below_the_codes_claimed(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    offer = await create(client, owner, shop.id, quantity=10, per_user_limit=None)
    for n in range(3):
        claim = {"user_id": f"u{n}", "lat": SHOP[0], "lng": SHOP[1]}
        assert (
            await client.post(f"/v1/offers/{offer['id']}/claims", json=claim)
        ).status_code == 201
    response = await client.patch(f"/v1/offers/{offer['id']}", json={"quantity": 2}, headers=owner)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["body", "quantity"], "msg": "may not be below the 3 codes already claimed"}
    ]
    response = await client.patch(f"/v1/offers/{offer['id']}", json={"quantity": 3}, headers=owner)
    assert response.json()["status"] == "sold_out" and response.json()["remaining"] == 0


async def test_the_owner_lists_a_merchants_offers_newest_first_page_by_page(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    made = [await create(client, owner, shop.id, title=f"offer {i}") for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await client.get(f"/v1/merchants/{shop.id}/offers", params=params, headers=owner)
        assert response.status_code == 200, response.text
        page = OfferList.model_validate(response.json())
        seen += [str(o.id) for o in page.results]
        cursor = page.next_cursor
        if cursor is None:
            break
    # created_at is the transaction's start, the same for all of them inside a test: then by id
    newest_first = sorted(made, key=lambda o: (o["created_at"], o["id"]), reverse=True)
    assert seen == [o["id"] for o in newest_first]


async def test_status_reads_scheduled_active_sold_out_and_ended(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    now = datetime.now(UTC)
    later = await create(client, owner, shop.id, starts_at=(now + timedelta(hours=1)).isoformat())
    assert later["status"] == "scheduled"
    past = await create(
        client,
        owner,
        shop.id,
        starts_at=(now - timedelta(hours=2)).isoformat(),
        ends_at=(now - timedelta(hours=1)).isoformat(),
    )
    assert past["status"] == "ended"


# ------------------------------------------------------------------------------ invalid fences

RING = [[114.0, 22.5], [114.1, 22.5], [114.1, 22.6], [114.0, 22.6], [114.0, 22.5]]
BOWTIE = [[114.0, 22.5], [114.1, 22.6], [114.1, 22.5], [114.0, 22.6], [114.0, 22.5]]


def many_vertices(n: int) -> list[list[float]]:
    import math

    ring = [
        [
            114.05 + 0.01 * math.cos(2 * math.pi * i / n),
            22.55 + 0.01 * math.sin(2 * math.pi * i / n),
        ]
        for i in range(n)
    ]
    return ring + [ring[0]]


@pytest.mark.parametrize(
    ("body", "loc", "msg"),
    [
        (
            {"geofence": {"type": "Polygon", "coordinates": [RING[:-1]]}},
            ["body", "geofence", "coordinates", 0],
            "the ring is not closed: its last position must repeat its first",
        ),
        (
            {"geofence": {"type": "Polygon", "coordinates": [RING[:2] + RING[:1]]}},
            ["body", "geofence", "coordinates", 0],
            "a ring needs at least 4 positions (3 corners and the first one repeated), got 3",
        ),
        (
            {"geofence": {"type": "Polygon", "coordinates": [BOWTIE]}},
            ["body", "geofence", "coordinates"],
            "self-intersection at [114.0500000, 22.5500000]",
        ),
        (
            {"geofence": {"type": "MultiPolygon", "coordinates": [[RING], [BOWTIE]]}},
            ["body", "geofence", "coordinates", 1],
            "self-intersection at [114.0500000, 22.5500000]",
        ),
        (
            {"geofence": {"type": "Polygon", "coordinates": [many_vertices(2001)]}},
            ["body", "geofence", "coordinates"],
            "has 2,001 vertices; at most 2,000 are allowed",
        ),
        (
            {"geofence": {"type": "Polygon", "coordinates": []}},
            ["body", "geofence", "coordinates"],
            "a polygon needs an outer ring",
        ),
        (
            {
                "geofence": {
                    "type": "Polygon",
                    "coordinates": [
                        RING,
                        [[114.2, 22.5], [114.3, 22.5], [114.3, 22.6], [114.2, 22.5]],
                    ],
                }
            },
            ["body", "geofence", "coordinates"],
            "hole lies outside shell at [114.2000000, 22.5000000]",
        ),
        (
            {"starts_at": "2026-12-01T10:00:00+08:00", "ends_at": "2026-12-01T09:00:00+08:00"},
            ["body", "ends_at"],
            "must be after starts_at (2026-12-01T10:00:00+08:00): the window is"
            " [starts_at, ends_at)",
        ),
    ],
)
async def test_invalid_offers_are_422_with_the_reason(
    client: httpx.AsyncClient,
    owner: dict[str, str],
    shop: MerchantRow,
    body: dict[str, Any],
    loc: list[str | int],
    msg: str,
) -> None:
    response = await client.post(
        f"/v1/merchants/{shop.id}/offers", json={"title": "x"} | body, headers=owner
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"loc": loc, "msg": msg}]


async def test_a_polygon_of_2000_vertices_is_accepted(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    body = await create(
        client,
        owner,
        shop.id,
        geofence={"type": "Polygon", "coordinates": [many_vertices(2000)]},
    )
    assert len(body["geofence"]["coordinates"][0]) == 2001


@pytest.mark.parametrize(
    "geofence",
    [
        {"type": "circle", "center": {"lat": 22.5, "lng": 114.0}, "radius_m": 9.99},
        {"type": "circle", "center": {"lat": 22.5, "lng": 114.0}, "radius_m": 50_000.1},
        {"type": "circle", "center": {"lat": 91, "lng": 114.0}, "radius_m": 100},
        {"type": "circle", "center": {"lat": 22.5}, "radius_m": 100},
        {"type": "Point", "coordinates": [114.0, 22.5]},
        {
            "type": "Polygon",
            "coordinates": [[[114.0, 22.5], [181, 22.5], [114.1, 22.6], [114.0, 22.5]]],
        },
        {
            "type": "Polygon",
            "coordinates": [[[114.0, 22.5], [114.1, 91], [114.1, 22.6], [114.0, 22.5]]],
        },
        {"type": "Polygon", "coordinates": [[[114.0], [114.1, 22.5], [114.1, 22.6], [114.0]]]},
        {"type": "Polygon", "coordinates": [[["a", 1], [114.1, 22.5], [114.1, 22.6], ["a", 1]]]},
        {"type": "Polygon", "coordinates": [[114.0, 22.5]]},
        {"type": "Polygon"},
    ],
)
async def test_malformed_fences_are_422(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow, geofence: dict[str, Any]
) -> None:
    response = await client.post(
        f"/v1/merchants/{shop.id}/offers", json={"title": "x", "geofence": geofence}, headers=owner
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][:2] == ["body", "geofence"]


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"title": "x", "description": "d" * 201},
        {"title": "x", "quantity": 0},
        {"title": "x", "quantity": -1},
        {"title": "x", "per_user_limit": 0},
        {"title": "x", "starts_at": "tomorrow"},
        {"title": "x", "starts_at": "2026-12-01T10:00:00"},
        {"title": "x", "coord": "mars"},
        {"title": "x", "surprise": 1},
    ],
)
async def test_invalid_offer_fields_are_422(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow, body: dict[str, Any]
) -> None:
    response = await client.post(f"/v1/merchants/{shop.id}/offers", json=body, headers=owner)
    assert response.status_code == 422, response.text


async def test_a_patch_may_not_null_the_title_or_end_before_the_start(
    client: httpx.AsyncClient, owner: dict[str, str], shop: MerchantRow
) -> None:
    offer = await create(client, owner, shop.id)
    url = f"/v1/offers/{offer['id']}"
    response = await client.patch(url, json={"title": None}, headers=owner)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "title"]
    response = await client.patch(url, json={"ends_at": offer["starts_at"]}, headers=owner)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "ends_at"]
