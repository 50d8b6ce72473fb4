"""Nearby search against a brute-force geodesic oracle (pyproj, WGS-84): membership, order and
distances, page by page with cursors, anywhere on Earth: the antimeridian, near the poles, with
duplicate points and radii from 1 m to 50 km."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from sqlalchemy.ext.asyncio import AsyncConnection

from app import search
from app.queries.search import Filters
from spatial import CoordSystem, cell_of
from tests.factories import create_owner

GEOD = Geod(ellps="WGS84")
TIE_M = 1e-6  # distances this close are ties: the order among them is by id
EDGE_M = 1e-3  # points this close to the radius are left out of the comparison

SPECIAL_CENTRES = [
    (0.0, 179.995),  # straddling the antimeridian
    (0.0, -179.995),
    (65.0, 180.0),
    (89.99, 0.0),  # at the poles
    (-89.99, 120.0),
    (89.9999, -45.0),
    (31.2304, 121.4737),
]
centres = st.one_of(
    st.sampled_from(SPECIAL_CENTRES),
    st.tuples(st.floats(-85, 85), st.floats(-180, 180)),
)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    lat0, lng0 = draw(centres)
    radius = draw(st.one_of(st.floats(1, 200), st.floats(200, 50_000)))
    offsets = draw(st.lists(st.tuples(st.floats(0, 360), st.floats(0, 1.5)), max_size=40))
    points = []
    for azimuth, fraction in offsets:
        lng, lat, _ = GEOD.fwd(lng0, lat0, azimuth, fraction * radius)
        points.append((lat, (lng + 180) % 360 - 180))
    if points:  # shops stacked on one spot, as in a mall
        points += [points[i] for i in draw(st.lists(st.integers(0, len(points) - 1), max_size=6))]
    return {
        "lat": lat0,
        "lng": lng0,
        "radius": radius,
        "points": points,
        "limit": draw(st.integers(1, 12)),
        # a client may change the page size between pages: a cursor does not pin it
        "later_limits": draw(st.lists(st.integers(1, 12), max_size=8)),
    }


async def insert_points(
    driver: Any, owner_id: uuid.UUID, points: list[tuple[float, float]]
) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in points]
    await driver.executemany(
        """INSERT INTO merchant (id, owner_id, name, category, location, h3, timezone) VALUES
           ($1, $2, 'm', 'shop', ST_SetSRID(ST_MakePoint($3, $4), 4326)::geography, $5, 'UTC')""",
        [
            (i, owner_id, lng, lat, cell_of(lat, lng))
            for i, (lat, lng) in zip(ids, points, strict=True)
        ],
    )
    return ids


def oracle(
    lat0: float, lng0: float, radius: float, ids: list[uuid.UUID], points: list[tuple[float, float]]
) -> dict[uuid.UUID, float]:
    """Every point within the radius and its geodesic distance; examples on the edge are dropped."""
    distances = {}
    for merchant_id, (lat, lng) in zip(ids, points, strict=True):
        d = float(GEOD.inv(lng0, lat0, lng, lat)[2])
        assume(abs(d - radius) > EDGE_M)
        if d <= radius:
            distances[merchant_id] = d
    return distances


def canonical(ids: list[uuid.UUID], distance: dict[uuid.UUID, float]) -> list[uuid.UUID]:
    """Order by distance with ties (within TIE_M) broken by id, the contract's order."""
    ordered = sorted(ids, key=lambda i: (distance[i], i))
    out: list[uuid.UUID] = []
    group: list[uuid.UUID] = []
    for i in ordered:
        if group and distance[i] - distance[group[0]] > TIE_M:
            out += sorted(group)
            group = []
        group.append(i)
    return out + sorted(group)


@asynccontextmanager
async def placed(
    conn: AsyncConnection, driver: Any, scenario: dict[str, Any]
) -> AsyncIterator[dict[uuid.UUID, float]]:
    """The scenario's points stored until the block ends, and the oracle's answer for them."""
    owner, _ = await create_owner(conn)
    async with conn.begin_nested() as savepoint:
        ids = await insert_points(driver, owner.id, scenario["points"])
        yield oracle(scenario["lat"], scenario["lng"], scenario["radius"], ids, scenario["points"])
        await savepoint.rollback()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenarios())
async def test_nearby_pages_match_the_geodesic_oracle(
    conn: AsyncConnection, driver: Any, scenario: dict[str, Any]
) -> None:
    async with placed(conn, driver, scenario) as expected:
        got: list[uuid.UUID] = []
        got_distance: dict[uuid.UUID, float] = {}
        cursor = None
        limits = [scenario["limit"], *scenario["later_limits"]]
        for page_number in range(10_000):
            limit = limits[min(page_number, len(limits) - 1)]
            result = await search.nearby(
                driver,
                lat=scenario["lat"],
                lng=scenario["lng"],
                coord=CoordSystem.WGS84,
                radius_m=scenario["radius"],
                filters=Filters(),
                limit=limit,
                after_cursor=cursor,
                open_now=False,
            )
            assert len(result.hits) <= limit
            for hit in result.hits:
                got.append(hit.id)
                got_distance[hit.id] = hit.distance_m
            cursor = result.next_cursor
            if cursor is None:
                break
            assert len(result.hits) == limit
    assert len(got) == len(set(got)), "a merchant came twice"
    assert set(got) == set(expected)
    for merchant_id in got:
        assert got_distance[merchant_id] == pytest.approx(expected[merchant_id], abs=1e-6, rel=1e-9)
    # The pages, one after another, are in the service's own (distance, id) order ...
    assert got == sorted(got, key=lambda i: (got_distance[i], i))
    # ... which is the oracle's order, up to ties within a micrometre.
    assert canonical(got, expected) == canonical(list(expected), expected)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenarios())
async def test_nearby_over_http_pages_every_match_once(
    conn: AsyncConnection, driver: Any, client: httpx.AsyncClient, scenario: dict[str, Any]
) -> None:
    async with placed(conn, driver, scenario) as expected:
        got: list[uuid.UUID] = []
        params: dict[str, Any] = {
            "lat": scenario["lat"],
            "lng": scenario["lng"],
            "radius": scenario["radius"],
            "limit": scenario["limit"],
        }
        while True:
            response = await client.get("/v1/search/nearby", params=params)
            assert response.status_code == 200, response.text
            body = response.json()
            got += [uuid.UUID(r["id"]) for r in body["results"]]
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]
    assert len(got) == len(set(got)) and set(got) == set(expected)
    assert canonical(got, expected) == canonical(list(expected), expected)


@pytest.mark.parametrize(
    ("lat", "lng", "azimuth", "radius"),
    [
        (60.17, 24.94, 37.0, 1000.0),
        (0.0, 179.9995, 90.0, 500.0),
        (89.99, 10.0, 200.0, 3000.0),
        (-33.9, 151.2, 300.0, 50_000.0),
        (31.23, 121.47, 0.0, 1.0),
    ],
)
async def test_the_radius_edge_is_exact_to_a_millimetre(
    conn: AsyncConnection, driver: Any, lat: float, lng: float, azimuth: float, radius: float
) -> None:
    owner, _ = await create_owner(conn)
    points = []
    for d in (radius - 0.001, radius + 0.001):
        plng, plat, _ = GEOD.fwd(lng, lat, azimuth, d)
        points.append((plat, (plng + 180) % 360 - 180))
    inside, outside = await insert_points(driver, owner.id, points)
    result = await search.nearby(
        driver,
        lat=lat,
        lng=lng,
        coord=CoordSystem.WGS84,
        radius_m=radius,
        filters=Filters(),
        limit=10,
        after_cursor=None,
        open_now=False,
    )
    assert [h.id for h in result.hits] == [inside]
    assert result.hits[0].distance_m == pytest.approx(radius - 0.001, abs=1e-6)


async def test_stacked_points_a_hair_from_the_origin_page_once_each(
    conn: AsyncConnection, driver: Any
) -> None:
    """ST_Distance rounds to 1e-8 m: at 0.1 um that is a 1% error, more than the relative slack
    between sphere and spheroid; a cursor must still find the second of two stacked points."""
    owner, _ = await create_owner(conn)
    ids = await insert_points(driver, owner.id, [(83.00000000000101, 2.98e-12)] * 2)
    got, cursor = [], None
    while True:
        result = await search.nearby(
            driver,
            lat=83.0,
            lng=0.0,
            coord=CoordSystem.WGS84,
            radius_m=2.0,
            filters=Filters(),
            limit=1,
            after_cursor=cursor,
            open_now=False,
        )
        got += [hit.id for hit in result.hits]
        if (cursor := result.next_cursor) is None:
            break
    assert got == sorted(ids)
