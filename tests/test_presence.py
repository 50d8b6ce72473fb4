"""Presence with accuracy against a brute-force oracle on real PostGIS: a claim counts when
the point lies in the fence and its accuracy circle reaches at most 50 m past the fence's edge
(accuracy_m - distance to the edge <= 50 m).

The oracle knows nothing of PostGIS: for a circle fence it samples the accuracy circle with
pyproj's geodesics and takes the farthest sample's overshoot; for a polygon it samples the
polygon's edges (straight in longitude/latitude, as RFC 7946 draws them) every half metre and
takes the nearest sample's geodesic distance. Cases within the sampling error of the threshold
are left out. Fences sit anywhere from 70 S to 70 N, across the antimeridian too.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries import claims as claims_sql
from spatial import CoordSystem, FenceError, circle_fence, polygon_fence
from tests.factories import create_owner, insert_merchant, insert_offer

GEOD = Geod(ellps="WGS84")
SLACK_M = 50.0
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CENTRES = st.one_of(
    st.sampled_from([(22.5431, 114.0579), (0.0, 179.999), (65.0, -179.998), (-33.9, 18.4)]),
    st.tuples(st.floats(-70, 70), st.floats(-180, 180)),
)
ACCURACIES = st.one_of(st.just(0.0), st.floats(0, 60), st.floats(50, 5000))


@pytest.fixture
async def shop(conn: AsyncConnection) -> Any:
    owner, _ = await create_owner(conn, "Presence owner")
    return await insert_merchant(conn, owner.id, lat=0.0, lng=0.0)


def _wrap(lng: float) -> float:
    return (lng + 180.0) % 360.0 - 180.0


def _near(lng: float, reference: float) -> float:
    """`lng` moved by whole turns to within 180 degrees of `reference` (unwrapped)."""
    return reference + _wrap(lng - reference)


async def counts(conn: AsyncConnection, driver: Any, shop: Any, fence: Any, p: Any) -> bool:
    offer = await insert_offer(conn, shop.id, fence=fence)
    gate = await claims_sql.claim_gate(
        driver, offer_id=offer.id, lat=p[0], lng=_wrap(p[1]), accuracy_m=p[2], now=NOW
    )
    assert gate is not None
    return gate.inside


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    centre=CENTRES,
    radius_m=st.floats(10, 5000),
    azimuth=st.floats(0, 360),
    share=st.floats(0, 1.3),
    accuracy_m=ACCURACIES,
)
async def test_circle_fences_against_sampled_accuracy_circles(
    conn: AsyncConnection,
    driver: Any,
    shop: Any,
    centre: tuple[float, float],
    radius_m: float,
    azimuth: float,
    share: float,
    accuracy_m: float,
) -> None:
    lat0, lng0 = centre
    lng, lat, _ = GEOD.fwd(lng0, lat0, azimuth, share * radius_m)
    d_m = GEOD.inv(lng0, lat0, lng, lat)[2]
    assume(abs(d_m - radius_m) > 0.01)
    inside = d_m <= radius_m
    overshoot = 0.0
    if accuracy_m > 0:
        azimuths = np.linspace(0, 360, 1440, endpoint=False)
        ring_lng, ring_lat, _ = GEOD.fwd(
            np.full(1440, lng), np.full(1440, lat), azimuths, np.full(1440, accuracy_m)
        )
        reach = GEOD.inv(np.full(1440, lng0), np.full(1440, lat0), ring_lng, ring_lat)[2]
        overshoot = float(np.max(reach)) - radius_m
        assume(abs(overshoot - SLACK_M) > 0.5)
    expected = inside and overshoot <= SLACK_M
    fence = circle_fence(lat0, lng0, radius_m)
    assert await counts(conn, driver, shop, fence, (lat, lng, accuracy_m)) == expected


@st.composite
def star_polygons(draw: st.DrawFn) -> tuple[float, float, list[tuple[float, float]]]:
    """A simple polygon around a centre: 3..12 corners at increasing azimuths, 50..3000 m out."""
    lat0, lng0 = draw(st.one_of(CENTRES, st.just((0.0, 180.0)), st.just((-40.0, 179.99))))
    n = draw(st.integers(3, 12))
    gaps = draw(st.lists(st.floats(0.2, 1.0), min_size=n, max_size=n))
    start = draw(st.floats(0, 360))
    azimuths = start + np.cumsum(gaps) / sum(gaps) * 360.0
    largest = draw(st.sampled_from([3000.0, 30_000.0]))
    radii = draw(st.lists(st.floats(50, largest), min_size=n, max_size=n))
    corners = []
    for azimuth, radius in zip(azimuths, radii, strict=True):
        lng, lat, _ = GEOD.fwd(lng0, lat0, float(azimuth), radius)
        corners.append((lat, lng))
    return lat0, lng0, corners


def edge_distance_m(lat: float, lng: float, ring: list[tuple[float, float]]) -> float:
    """Geodesic distance from the point to the ring's edges (unwrapped longitudes, straight in
    lng/lat), sampled every half metre or finer."""
    samples_lat, samples_lng = [], []
    for (a_lat, a_lng), (b_lat, b_lng) in zip(ring, ring[1:], strict=False):
        length = GEOD.inv(a_lng, a_lat, b_lng, b_lat)[2]
        t = np.linspace(0.0, 1.0, max(2, math.ceil(length / 0.5) + 1))
        samples_lat.append(a_lat + (b_lat - a_lat) * t)
        samples_lng.append(a_lng + (b_lng - a_lng) * t)
    s_lat, s_lng = np.concatenate(samples_lat), np.concatenate(samples_lng)
    distances = GEOD.inv(np.full(s_lat.size, lng), np.full(s_lat.size, lat), s_lng, s_lat)[2]
    return float(np.min(distances))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    polygon=star_polygons(),
    azimuth=st.floats(0, 360),
    share=st.floats(0, 1.2),
    accuracy_m=st.one_of(ACCURACIES, st.none()),
    margin_m=st.floats(-100, 100),
)
async def test_polygon_fences_against_sampled_edges(
    conn: AsyncConnection,
    driver: Any,
    shop: Any,
    polygon: tuple[float, float, list[tuple[float, float]]],
    azimuth: float,
    share: float,
    accuracy_m: float,
    margin_m: float,
) -> None:
    """`accuracy_m` None: an accuracy `margin_m` away from the threshold, where a wrong edge
    (a seam, a great circle for a straight edge) would show."""
    lat0, lng0, corners = polygon
    distance_m = share * max(GEOD.inv(lng0, lat0, lng, lat)[2] for lat, lng in corners)
    ring = [(lat, _near(lng, lng0)) for lat, lng in corners]
    ring.append(ring[0])
    try:
        fence = polygon_fence(
            "Polygon", [[[_wrap(lng), lat] for lat, lng in ring]], CoordSystem.WGS84
        )
    except FenceError:
        assume(False)
    lng, lat, _ = GEOD.fwd(lng0, lat0, azimuth, distance_m)
    lng = _near(lng, lng0)
    edge_m = edge_distance_m(lat, lng, ring)
    assume(edge_m > 0.05)  # on the edge itself the sampling cannot tell
    inside = shapely.Polygon([(x, y) for y, x in ring]).covers(shapely.Point(lng, lat))
    if accuracy_m is None:
        accuracy_m = min(5000.0, max(0.0, edge_m + SLACK_M + margin_m))
    if accuracy_m > SLACK_M:
        assume(abs(edge_m - (accuracy_m - SLACK_M)) > 0.5 + 1e-4 * accuracy_m)
    expected = inside and (accuracy_m <= SLACK_M or edge_m >= accuracy_m - SLACK_M)
    assert await counts(conn, driver, shop, fence, (lat, lng, accuracy_m)) == expected


# Fixed cases where a wrong edge would show for certain (the properties above find them too,
# but only by chance).


async def test_the_50_m_slack_of_a_circle_fence_to_the_metre(
    conn: AsyncConnection, driver: Any, shop: Any
) -> None:
    fence = circle_fence(22.5431, 114.0579, 300)
    lng, lat, _ = GEOD.fwd(114.0579, 22.5431, 30, 100)  # 100 m from the centre
    assert await counts(conn, driver, shop, fence, (lat, lng, 249.0))  # reaches 49 m out
    assert not await counts(conn, driver, shop, fence, (lat, lng, 251.0))  # 51 m
    outside = GEOD.fwd(114.0579, 22.5431, 30, 301)[:2]
    assert not await counts(conn, driver, shop, fence, (outside[1], outside[0], 0.0))


async def test_the_antimeridian_cut_of_a_polygon_is_no_edge(
    conn: AsyncConnection, driver: Any, shop: Any
) -> None:
    ring = [[179.99, -0.01], [-179.99, -0.01], [-179.99, 0.01], [179.99, 0.01], [179.99, -0.01]]
    fence = polygon_fence("Polygon", [ring], CoordSystem.WGS84)
    unwrapped = [(lat, _near(lng, 180.0)) for lng, lat in ring]
    # the middle is 1,105.7 m from the northern and southern edges, 1,113.2 m from the others
    assert edge_distance_m(0.0, 180.0, unwrapped) == pytest.approx(1105.74, abs=0.05)
    for lng in (180.0, -179.9995, 179.9995):  # on the cut and either side of it
        edge_m = edge_distance_m(0.0, _near(lng, 180.0), unwrapped)
        assert await counts(conn, driver, shop, fence, (0.0, lng, edge_m + SLACK_M - 1))
        assert not await counts(conn, driver, shop, fence, (0.0, lng, edge_m + SLACK_M + 2))


async def test_a_polygons_edges_are_straight_in_lng_lat_not_great_circles(
    conn: AsyncConnection, driver: Any, shop: Any
) -> None:
    # A 100 km wide rectangle at 60 N: the great circle between its northern corners passes
    # about 340 m north of the edge drawn along the parallel.
    ring = [[24.0, 59.5], [25.8, 59.5], [25.8, 60.0], [24.0, 60.0], [24.0, 59.5]]
    fence = polygon_fence("Polygon", [ring], CoordSystem.WGS84)
    lng, lat, _ = GEOD.fwd(24.45, 60.0, 180, 100)  # 100 m south of the northern edge
    edge_m = edge_distance_m(lat, lng, [(y, x) for x, y in ring])
    assert edge_m == pytest.approx(100.0, abs=0.5)
    assert await counts(conn, driver, shop, fence, (lat, lng, 149.0))
    assert not await counts(conn, driver, shop, fence, (lat, lng, 152.0))
