"""The Helsinki demo's offers: one in each mall, department store and market hall, fenced by
its OpenStreetMap outline; reloading keeps them (and their claims) as they are."""

from __future__ import annotations

import json

import httpx
import shapely
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import demo


async def test_the_demo_has_an_offer_in_each_mall_and_keeps_them_on_reload(
    conn: AsyncConnection, client: httpx.AsyncClient
) -> None:
    first = await demo.load(conn)
    assert first.offers == [
        "Forum: 10% off today",
        "Kauppakeskus Citycenter: 10% off today",
        "Kauppakeskus Kluuvi: 10% off today",
        "Sokos: 10% off today",
        "Stockmann: 10% off today",
        "Vanha Kauppahalli: 10% off today",
    ]
    count = text(
        "SELECT count(*), min(o.created_at) FROM offer o JOIN merchant m ON m.id = o.merchant_id"
        " WHERE m.owner_id = :o"
    )
    before = (await conn.execute(count, {"o": first.owner_id})).one()
    assert before[0] == 6
    again = await demo.load(conn)
    assert (await conn.execute(count, {"o": again.owner_id})).one() == before
    # Inside Forum: its offer.
    with demo.HELSINKI_FENCES.open(encoding="utf-8") as f:
        features = json.load(f)["features"]
    [forum] = [f for f in features if f["properties"]["name"] == "Forum"]
    inside = shapely.geometry.shape(forum["geometry"]).representative_point()
    found = (await client.get("/v1/offers/here", params={"lat": inside.y, "lng": inside.x})).json()
    assert [hit["title"] for hit in found["results"]] == ["Forum: 10% off today"]
    assert found["results"][0]["geofence"]["type"] == "MultiPolygon"
