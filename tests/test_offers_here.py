"""/v1/offers/here: which offers cover a point, when, in what order; against brute-force oracles
(pyproj geodesics for circles, shapely for polygons) anywhere on Earth, and on the real
Shenzhen street polygons (WGS-84) with Amap points (GCJ-02)."""

from __future__ import annotations

import csv
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import shapely
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from sqlalchemy.ext.asyncio import AsyncConnection

from app import offers
from app.schemas.offers import OffersHerePage
from spatial import CoordSystem, circle_fence, from_wgs84, gcj02_to_wgs84, polygon_fence
from tests.factories import create_owner, insert_merchant, insert_offer
from tests.responses import checked_get

GEOD = Geod(ellps="WGS84")
EDGE_M = 1e-3  # points this close to a circle's edge are left out of the comparison
EDGE_DEG = 1e-9  # and this close to a polygon's edge
T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)


def normal(lng: float) -> float:
    return (lng + 180.0) % 360.0 - 180.0


@pytest.fixture
async def owner_id(conn: AsyncConnection) -> uuid.UUID:
    row, _ = await create_owner(conn, "Here owner")
    return row.id


async def here(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return await checked_get(client, "/v1/offers/here", OffersHerePage, params)


async def test_an_offer_is_found_inside_its_fence_with_its_store(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    shop = await insert_merchant(conn, owner_id, lat=22.5431, lng=114.0579, name="Tea 1")
    offer = await insert_offer(
        conn, shop.id, fence=circle_fence(22.5431, 114.0579, 300), quantity=200
    )
    found = await here(client, lat=22.5440, lng=114.0579)
    [hit] = found["results"]
    assert hit["id"] == str(offer.id) and hit["remaining"] == 200 and hit["status"] == "active"
    assert hit["distance_m"] == pytest.approx(GEOD.inv(114.0579, 22.5431, 114.0579, 22.544)[2])
    assert hit["merchant"] == {
        "id": str(shop.id),
        "name": "Tea 1",
        "category": "coffee",
        "address": None,
        "phone": None,
        "location": {"lat": 22.5431, "lng": 114.0579},
    }
    assert hit["geofence"]["radius_m"] == 300 and found["next_cursor"] is None
    assert (await here(client, lat=22.5431, lng=114.0630))["results"] == []  # 520 m east


async def test_offers_are_active_from_starts_at_until_before_ends_at(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    shop = await insert_merchant(conn, owner_id, lat=10.0, lng=10.0)
    ends = T0 + timedelta(hours=3)
    await insert_offer(conn, shop.id, fence=circle_fence(10, 10, 100), starts_at=T0, ends_at=ends)

    async def count(at: datetime) -> int:
        return len((await here(client, lat=10, lng=10, at=at.isoformat()))["results"])

    assert await count(T0 - timedelta(microseconds=1)) == 0
    assert await count(T0) == 1
    assert await count(ends - timedelta(microseconds=1)) == 1
    assert await count(ends) == 0
    assert await count(datetime.now(UTC)) == 0  # the default `at` is now, long after
    assert len((await here(client, lat=10, lng=10))["results"]) == 0


async def test_a_sold_out_offer_is_not_shown(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner_id: uuid.UUID,
    driver: asyncpg.Connection,
) -> None:
    shop = await insert_merchant(conn, owner_id, lat=10.0, lng=20.0)
    offer = await insert_offer(conn, shop.id, fence=circle_fence(10, 20, 100), quantity=2)
    assert len((await here(client, lat=10, lng=20))["results"]) == 1
    await driver.execute("UPDATE offer SET claimed = 2 WHERE id = $1", offer.id)
    assert (await here(client, lat=10, lng=20))["results"] == []


async def test_nearest_store_first_then_offer_id_with_category_and_paging(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    fence = circle_fence(30.0, 30.0, 5_000)
    made = []
    for i, (category, north_m) in enumerate([("tea", 300), ("coffee", 100), ("tea", 200)]):
        lng, lat, _ = GEOD.fwd(30.0, 30.0, 0, north_m)
        shop = await insert_merchant(conn, owner_id, lat=lat, lng=lng, category=category)
        for _ in range(2):
            made.append(
                (north_m, (await insert_offer(conn, shop.id, fence=fence, title=str(i))).id)
            )
    order = [str(i) for _, i in sorted(made)]
    assert [h["id"] for h in (await here(client, lat=30, lng=30))["results"]] == order
    teas = (await here(client, lat=30, lng=30, category="tea"))["results"]
    assert [h["id"] for h in teas] == [i for i in order if i not in order[:2]]
    both = (await here(client, lat=30, lng=30, category=["tea", "coffee"]))["results"]
    assert len(both) == 6
    seen, cursor = [], None
    while True:
        params = {"lat": 30, "lng": 30, "limit": 4} | ({"cursor": cursor} if cursor else {})
        page = await here(client, **params)
        seen += [h["id"] for h in page["results"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == order
    moved = await client.get(
        "/v1/offers/here", params={"lat": 30.001, "lng": 30, "cursor": page_cursor(order)}
    )
    assert moved.status_code == 422


def page_cursor(_: list[str]) -> str:
    import base64

    return base64.urlsafe_b64encode(b'["0000000000000000", 1.0, "x"]').decode()


async def test_positions_go_in_and_out_in_the_clients_coordinate_system(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    shop = await insert_merchant(conn, owner_id, lat=22.5431, lng=114.0579)
    ring = [[114.05, 22.54], [114.07, 22.54], [114.07, 22.55], [114.05, 22.55], [114.05, 22.54]]
    await insert_offer(conn, shop.id, fence=polygon_fence("Polygon", [ring], CoordSystem.WGS84))
    gcj_lat, gcj_lng = from_wgs84(22.545, 114.06, CoordSystem.GCJ02)
    [hit] = (await here(client, lat=gcj_lat, lng=gcj_lng, coord="gcj02"))["results"]
    assert hit["coord"] == "gcj02"
    assert hit["merchant"]["location"] == pytest.approx(
        dict(zip(("lat", "lng"), from_wgs84(22.5431, 114.0579, CoordSystem.GCJ02), strict=True))
    )
    shown = hit["geofence"]["coordinates"][0][0]
    assert shown == pytest.approx(list(from_wgs84(22.54, 114.05, CoordSystem.GCJ02))[::-1])
    # Near the east edge: the GCJ-02 numbers of that point, read as WGS-84, lie outside.
    edge_lat, edge_lng = from_wgs84(22.545, 114.0695, CoordSystem.GCJ02)
    assert len((await here(client, lat=edge_lat, lng=edge_lng, coord="gcj02"))["results"]) == 1
    assert (await here(client, lat=edge_lat, lng=edge_lng))["results"] == []


# ---------------------------------------------------------------------------------- oracles

SPECIAL_CENTRES = [
    (0.0, 179.999),
    (-16.5, -179.95),  # Fiji, across the antimeridian
    (65.0, 180.0),
    (89.95, 30.0),  # near and around the poles
    (-89.99, -100.0),
    (78.22, 15.65),
    (22.54, 114.05),
]
centres = st.one_of(
    st.sampled_from(SPECIAL_CENTRES), st.tuples(st.floats(-85, 85), st.floats(-180, 180))
)


@st.composite
def fence_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    lat0, lng0 = draw(centres)
    circles = draw(
        st.lists(
            st.tuples(st.floats(0, 360), st.floats(0, 3_000), st.floats(10, 5_000)), max_size=5
        )
    )
    probes = draw(
        st.lists(st.tuples(st.floats(0, 360), st.floats(0, 8_000)), min_size=1, max_size=12)
    )
    polygon_radius = draw(st.floats(0.001, 0.05))
    return {
        "centre": (lat0, lng0),
        "circles": circles,
        "probes": probes,
        "polygon": draw(st.booleans()) and abs(lat0) < 89,
        "polygon_radius": polygon_radius,
    }


def polygon_around(lat0: float, lng0: float, radius_deg: float) -> list[list[float]]:
    """An irregular hexagon around the centre, in continuous longitude (may pass 180)."""
    import math

    shape = [1.0, 0.6, 1.0, 0.8, 1.0, 0.4]
    return [
        [
            lng0
            + radius_deg * r * math.cos(k * math.pi / 3) / max(0.05, math.cos(math.radians(lat0))),
            lat0 + radius_deg * r * math.sin(k * math.pi / 3),
        ]
        for k, r in enumerate(shape)
    ]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fence_scenarios())
async def test_offers_here_match_the_geodesic_and_planar_oracles(
    conn: AsyncConnection, driver: Any, owner_id: uuid.UUID, scenario: dict[str, Any]
) -> None:
    lat0, lng0 = scenario["centre"]
    async with conn.begin_nested() as savepoint:
        shop = await insert_merchant(conn, owner_id, lat=lat0, lng=normal(lng0))
        expected_by_fence: list[tuple[uuid.UUID, Any]] = []
        for azimuth, offset_m, radius_m in scenario["circles"]:
            clng, clat, _ = GEOD.fwd(lng0, lat0, azimuth, offset_m)
            offer = await insert_offer(
                conn, shop.id, fence=circle_fence(clat, normal(clng), radius_m)
            )
            expected_by_fence.append((offer.id, ("circle", clat, clng, radius_m)))
        if scenario["polygon"]:
            ring = polygon_around(lat0, lng0, scenario["polygon_radius"])
            oracle = shapely.Polygon(ring)
            given_ring = [[normal(x), y] for x, y in ring] + [[normal(ring[0][0]), ring[0][1]]]
            offer = await insert_offer(
                conn, shop.id, fence=polygon_fence("Polygon", [given_ring], CoordSystem.WGS84)
            )
            expected_by_fence.append((offer.id, ("polygon", oracle)))
        for azimuth, distance_m in scenario["probes"]:
            plng, plat, _ = GEOD.fwd(lng0, lat0, azimuth, distance_m)
            expected = set()
            for offer_id, fence in expected_by_fence:
                if fence[0] == "circle":
                    d = GEOD.inv(fence[2], fence[1], plng, plat)[2]
                    assume(abs(d - fence[3]) > EDGE_M)
                    inside = d <= fence[3]
                else:
                    # the probe in the polygon's continuous longitude
                    x = lng0 + normal(plng - lng0)
                    point = shapely.Point(x, plat)
                    assume(fence[1].exterior.distance(point) > EDGE_DEG)
                    inside = fence[1].covers(point)
                if inside:
                    expected.add(offer_id)
            result = await offers.here(
                driver,
                lat=plat,
                lng=normal(plng),
                coord=CoordSystem.WGS84,
                at=T0,
                categories=[],
                limit=100,
                after_cursor=None,
            )
            assert {h.id for h in result.hits} == expected, (plat, plng)
            event("some offer covers the probe" if expected else "no offer covers the probe")
        await savepoint.rollback()


# --------------------------------------------------------------------------- Shenzhen streets


async def test_shenzhen_street_fences_against_shapely_with_gcj02_amap_points(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID, shared_data: Path
) -> None:
    """The street polygons are WGS-84 and the Amap points GCJ-02 (../shared/data README 3.5):
    with coord=gcj02 every point lands in the street shapely puts its WGS-84 position in."""
    folder = shared_data / "shenzhen_cn"
    streets = json.loads((folder / "street_boundaries.geojson").read_text(encoding="utf-8"))
    with (folder / "amap_pois.csv").open(newline="", encoding="utf-8") as f:
        points = [(float(r["gcj02_lat"]), float(r["gcj02_lng"])) for r in csv.DictReader(f)]
    shop = await insert_merchant(conn, owner_id, lat=22.5431, lng=114.0579)
    street_of: dict[str, Any] = {}
    for feature in streets["features"]:
        response = await client.post(
            f"/v1/merchants/{shop.id}/offers",
            json={"title": feature["properties"]["street_pinyin"], "geofence": feature["geometry"]},
            headers={"Authorization": "Bearer test-admin-key"},
        )
        assert response.status_code == 201, response.text
        street_of[response.json()["id"]] = shapely.geometry.shape(feature["geometry"])
    assert len(street_of) == 78
    hits_per_point = []
    for lat, lng in points:
        found = await here(client, lat=lat, lng=lng, coord="gcj02", limit=100)
        got = {h["id"] for h in found["results"]}
        wgs_lat, wgs_lng = gcj02_to_wgs84(lat, lng)
        expected = {i for i, s in street_of.items() if s.covers(shapely.Point(wgs_lng, wgs_lat))}
        assert got == expected, (lat, lng)
        hits_per_point.append(len(got))
    assert len(points) == 240 and hits_per_point.count(1) == 240  # README 3.5: 240 of 240
    # Read as WGS-84, the raw GCJ-02 numbers put 10 of them in the wrong place or nowhere.
    wrong = 0
    for lat, lng in points:
        got = {h["id"] for h in (await here(client, lat=lat, lng=lng, limit=100))["results"]}
        wgs_lat, wgs_lng = gcj02_to_wgs84(lat, lng)
        right = {i for i, s in street_of.items() if s.covers(shapely.Point(wgs_lng, wgs_lat))}
        wrong += got != right
    assert wrong >= 10


async def test_a_fence_around_the_north_pole_covers_the_pole_in_postgis(
    client: httpx.AsyncClient, conn: AsyncConnection, owner_id: uuid.UUID
) -> None:
    shop = await insert_merchant(conn, owner_id, lat=78.2232, lng=15.6267)  # Longyearbyen
    ring = [[0, 85], [120, 86], [-120, 84], [0, 85]]  # winds eastward around the pole
    offer = await insert_offer(
        conn, shop.id, fence=polygon_fence("Polygon", [ring], CoordSystem.WGS84)
    )
    for lat, lng in [(90, 0), (89.9, -179.5), (86.1, 120), (86.5, 180), (85.5, -60)]:
        got = (await here(client, lat=lat, lng=lng, at=T0.isoformat()))["results"]
        assert [h["id"] for h in got] == [str(offer.id)], (lat, lng)
    for lat, lng in [(84.9, 0), (85.9, 119), (83.9, -120), (-90, 0)]:
        assert (await here(client, lat=lat, lng=lng, at=T0.isoformat()))["results"] == []
