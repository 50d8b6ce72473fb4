"""Geofences against brute-force oracles: circles against pyproj's geodesics on WGS-84, polygons
against shapely in one continuous longitude, anywhere: across the antimeridian and around the
poles."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pytest
import shapely
import shapely.affinity
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from spatial import CoordSystem, FenceError, circle_fence, geojson_in, polygon_fence
from spatial.geofence import MAX_VERTICES, circle_bounds, covering_cells, stored_fence
from spatial.h3cells import cell_of

GEOD = Geod(ellps="WGS84")
EDGE_DEG = 1e-9  # points this close to an edge are left out of comparisons

SPECIAL_CENTRES = [
    (0.0, 179.99),
    (0.0, -179.99),
    (-16.5, 179.9),  # Fiji
    (65.0, 180.0),
    (89.9, 0.0),
    (89.999, -120.0),
    (-89.95, 45.0),
    (78.22, 15.65),  # Longyearbyen
    (22.54, 114.05),
]
centres = st.one_of(
    st.sampled_from(SPECIAL_CENTRES), st.tuples(st.floats(-89.9, 89.9), st.floats(-180, 180))
)


def normal(lng: float) -> float:
    """The service's spelling of a longitude: -180 <= lng < 180."""
    return (lng + 180.0) % 360.0 - 180.0


def covers(shape: shapely.Geometry, lat: float, lng: float) -> bool:
    return bool(shapely.covers(shape, shapely.Point(normal(lng), lat)))


# ------------------------------------------------------------------------------------- circles


@settings(max_examples=400, deadline=None)
@given(
    centres,
    st.floats(10, 50_000),
    st.lists(st.tuples(st.floats(0, 360), st.floats(0, 1)), min_size=1, max_size=20),
)
def test_a_circles_box_holds_every_point_of_its_geodesic_disc(
    centre: tuple[float, float], radius_m: float, offsets: list[tuple[float, float]]
) -> None:
    lat0, lng0 = centre
    fence = circle_fence(lat0, lng0, radius_m)
    for azimuth, fraction in offsets + [(a, 1.0) for a in (0, 90, 180, 270)]:
        lng, lat, _ = GEOD.fwd(lng0, lat0, azimuth, fraction * radius_m)
        assert covers(fence.shape, lat, lng), (lat, lng)


def test_a_circle_around_a_pole_is_indexed_as_a_cap() -> None:
    fence = circle_fence(89.9, 0.0, 20_000)
    assert fence.shape.bounds[0] == -180 and fence.shape.bounds[2] == 180
    assert fence.shape.bounds[3] == 90
    assert covers(fence.shape, 90.0, 123.0) and covers(fence.shape, 89.8, -170.0)


def test_a_circle_on_the_antimeridian_is_cut_into_two_boxes() -> None:
    fence = circle_fence(-16.5, 179.999, 1_000)
    assert len(fence.shape.geoms) == 2
    assert covers(fence.shape, -16.5, -179.999) and covers(fence.shape, -16.5, 180.0)
    assert not covers(fence.shape, -16.5, 0.0)


@settings(max_examples=400, deadline=None)
@given(centres, st.floats(0, 50_000))
def test_a_circles_bounds_are_its_box_folded_into_one_world(
    centre: tuple[float, float], radius_m: float
) -> None:
    """circle_bounds (plain arithmetic) against shapely: the one box in continuous longitude,
    cut by the worlds to its west, on and to its east and moved into -180..180."""
    lat0, lng0 = centre
    boxes = circle_bounds(lat0, lng0, radius_m)
    min_lng, min_lat, max_lng, max_lat = (
        min(b[0] for b in boxes), min(b[1] for b in boxes),
        max(b[2] for b in boxes), max(b[3] for b in boxes),
    )  # fmt: skip
    assert min_lng >= -180 and max_lng <= 180 and min_lat >= -90 and max_lat <= 90
    assert len(boxes) <= 2
    if len(boxes) == 2:  # disjoint, each side of the antimeridian
        assert boxes[0][0] == -180 and boxes[1][2] == 180 and boxes[0][2] < boxes[1][0]
    shape = shapely.MultiPolygon([shapely.box(*b) for b in boxes])
    if max_lat == 90 or min_lat == -90:  # a cap: every longitude
        assert (min_lng, max_lng) == (-180, 180)
        return
    width = sum(b[2] - b[0] for b in boxes)
    if width >= 360:
        assert boxes == ((-180, min_lat, 180, max_lat),)
        return
    # the box in continuous longitude, centred on the centre's
    continuous = shapely.box(lng0 - width / 2, min_lat, lng0 + width / 2, max_lat)
    folded = shapely.union_all([
        shapely.intersection(shapely.affinity.translate(continuous, xoff=turn), world)
        for turn in (-360, 0, 360)
        for world in [shapely.box(-180, -90, 180, 90)]
    ])  # fmt: skip
    assert shapely.symmetric_difference(shape, folded).area < 1e-9 * shape.area


def test_a_circles_box_is_tight() -> None:
    fence = circle_fence(22.54, 114.05, 1_000)
    min_lng, min_lat, max_lng, max_lat = fence.shape.bounds
    height_m = GEOD.inv(114.05, min_lat, 114.05, max_lat)[2]
    assert 2_000 < height_m < 2_000 * 1.01 + 3


@pytest.mark.parametrize("radius_m", [9.99, 50_000.01, -1.0, math.nan])
def test_a_radius_out_of_range_is_refused(radius_m: float) -> None:
    with pytest.raises(FenceError) as caught:
        circle_fence(0.0, 0.0, radius_m)
    assert caught.value.loc == ("radius_m",)
    assert caught.value.msg == "must be between 10 and 50,000 metres"


# ------------------------------------------------------------------------------------ polygons


@st.composite
def star_polygons(draw: st.DrawFn) -> tuple[list[list[float]], float, float]:
    """A star-shaped ring around a centre in continuous longitude, maybe across 180."""
    lat0 = draw(st.floats(-80, 80))
    lng0 = draw(st.sampled_from([179.5, -179.5, 180.0, 0.0])) + draw(st.floats(-1, 1))
    n = draw(st.integers(3, 40))
    angles = sorted(draw(st.lists(st.floats(0, 2 * math.pi - 1e-3), min_size=n, max_size=n)))
    assume(len(set(angles)) == n)
    ring = []
    for angle in angles:
        r = draw(st.floats(0.05, 2.0))
        ring.append([lng0 + r * math.cos(angle), lat0 + r * math.sin(angle) * 0.5])
    return ring + [ring[0]], lat0, lng0


@settings(max_examples=200, deadline=None)
@given(
    star_polygons(), st.lists(st.tuples(st.floats(-2.5, 2.5), st.floats(-1.5, 1.5)), max_size=60)
)
def test_a_polygon_across_the_antimeridian_covers_what_it_covers_unwrapped(
    polygon: tuple[list[list[float]], float, float], offsets: list[tuple[float, float]]
) -> None:
    ring, lat0, lng0 = polygon
    oracle = shapely.Polygon(ring)
    assume(oracle.is_valid and oracle.area > 0)
    fence = polygon_fence("Polygon", [[[normal(x), y] for x, y in ring]], CoordSystem.WGS84)
    for dx, dy in offsets:
        point = shapely.Point(lng0 + dx, lat0 + dy)
        if oracle.exterior.distance(point) < EDGE_DEG:
            continue
        assert covers(fence.shape, point.y, point.x) == oracle.covers(point), (point, ring)


@st.composite
def polar_rings(draw: st.DrawFn) -> tuple[list[list[float]], list[float], list[float], float]:
    """A ring winding once around a pole, eastward: (ring, unwrapped lngs, lats, pole)."""
    pole = draw(st.sampled_from([90.0, -90.0]))
    start = draw(st.floats(-180, 179.99))
    weights = draw(st.lists(st.floats(1, 2), min_size=4, max_size=30))  # every edge < 180 deg
    steps = np.array(weights) * 360.0 / sum(weights)
    lngs = [start + float(x) for x in np.concatenate([[0.0], np.cumsum(steps)[:-1]])]
    lats = [pole - math.copysign(draw(st.floats(1, 30)), pole) for _ in lngs]
    return [[normal(x), y] for x, y in zip(lngs, lats, strict=True)], lngs, lats, pole


@settings(max_examples=150, deadline=None)
@given(
    polar_rings(),
    st.booleans(),
    st.lists(st.tuples(st.floats(-180, 180), st.floats(0, 40)), max_size=60),
)
def test_a_ring_around_a_pole_encloses_that_pole(
    polar: tuple[list[list[float]], list[float], list[float], float],
    westward: bool,
    samples: list[tuple[float, float]],
) -> None:
    ring, lngs, lats, pole = polar
    if westward:  # the pole is still the one on the ring's side
        ring = ring[::-1]
    fence = polygon_fence("Polygon", [ring + [ring[0]]], CoordSystem.WGS84)
    # The ring's latitude at any longitude: straight edges in lng/lat, wrapping around.
    xs = np.array(lngs + [lngs[0] + 360.0])
    ys = np.array(lats + [lats[0]])
    for lng, depth in samples:
        lat = pole - math.copysign(depth, pole)
        edge = float(np.interp(xs[0] + (lng - xs[0]) % 360.0, xs, ys))
        assume(abs(lat - edge) > 1e-7)
        inside = lat > edge if pole > 0 else lat < edge
        assert covers(fence.shape, lat, lng) == inside, (lat, lng, edge)
    assert covers(fence.shape, pole, 0.0) and covers(fence.shape, pole, -180.0)


def test_a_triangle_around_the_north_pole_holds_the_pole() -> None:
    fence = polygon_fence("Polygon", [[[0, 89], [120, 89], [-120, 89], [0, 89]]], CoordSystem.WGS84)
    assert covers(fence.shape, 89.5, 60.0) and covers(fence.shape, 90.0, 0.0)
    assert not covers(fence.shape, 88.9, 60.0)


def test_a_hole_across_the_antimeridian_stays_a_hole() -> None:
    shell = [[179, -1], [-179, -1], [-179, 1], [179, 1], [179, -1]]
    hole = [[179.5, -0.5], [179.5, 0.5], [-179.5, 0.5], [-179.5, -0.5], [179.5, -0.5]]
    fence = polygon_fence("Polygon", [shell, hole], CoordSystem.WGS84)
    assert covers(fence.shape, 0.8, 180.0) and covers(fence.shape, 0.0, 179.2)
    assert not covers(fence.shape, 0.0, 180.0) and not covers(fence.shape, 0.0, -179.9)


def test_overlapping_parts_of_a_multipolygon_are_merged() -> None:
    a = [[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]
    b = [[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]
    fence = polygon_fence("MultiPolygon", [[a], [b]], CoordSystem.WGS84)
    assert fence.shape.area == pytest.approx(7.0)
    assert fence.geojson == {
        "type": "MultiPolygon",
        "coordinates": [
            [[[float(x), float(y)] for x, y in a]],
            [[[float(x), float(y)] for x, y in b]],
        ],
    }


@pytest.mark.parametrize(
    ("kind", "coordinates", "loc", "msg"),
    [
        (
            "Polygon",
            [[[0, 0], [1, 0], [1, 1], [0, 1]]],
            ("coordinates", 0),
            "the ring is not closed: its last position must repeat its first",
        ),
        (
            "Polygon",
            [[[0, 0], [1, 0], [0, 0]]],
            ("coordinates", 0),
            "a ring needs at least 4 positions (3 corners and the first one repeated), got 3",
        ),
        (
            "MultiPolygon",
            [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]],
            ("coordinates", 1),
            "self-intersection at [0.5000000, 0.5000000]",
        ),
        (
            "Polygon",
            [[[0, 0], [1, 0], [2, 0], [0, 0]]],
            ("coordinates",),
            "self-intersection at [1.0000000, 0.0000000]",
        ),
        ("MultiPolygon", [], ("coordinates",), "a MultiPolygon needs at least one polygon"),
        (
            "Polygon",
            [[[0, 10], [120, 10], [-120, 10], [0, 10], [120, 10], [-120, 10], [0, 10]]],
            ("coordinates", 0),
            "the ring winds around a pole more than once",
        ),
    ],
)
def test_invalid_polygons_say_where_and_why(
    kind: Literal["Polygon", "MultiPolygon"],
    coordinates: list[Any],
    loc: tuple[str | int, ...],
    msg: str,
) -> None:
    with pytest.raises(FenceError) as caught:
        polygon_fence(kind, coordinates, CoordSystem.WGS84)
    assert (caught.value.loc, caught.value.msg) == (loc, msg)


def test_the_vertex_limit_counts_vertices_not_closing_positions() -> None:
    def ring(n: int) -> list[list[float]]:
        points = [[math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n)] for i in range(n)]
        return points + [points[0]]

    polygon_fence("Polygon", [ring(MAX_VERTICES)], CoordSystem.WGS84)
    polygon_fence("MultiPolygon", [[ring(1000)], [ring(1000)]], CoordSystem.WGS84)
    with pytest.raises(FenceError) as caught:
        polygon_fence("Polygon", [ring(MAX_VERTICES + 1)], CoordSystem.WGS84)
    assert caught.value.msg == "has 2,001 vertices; at most 2,000 are allowed"


def test_a_self_intersection_is_reported_in_the_clients_coordinates() -> None:
    bowtie = [[114.0, 22.5], [114.1, 22.6], [114.1, 22.5], [114.0, 22.6], [114.0, 22.5]]
    with pytest.raises(FenceError) as caught:
        polygon_fence("Polygon", [bowtie], CoordSystem.GCJ02)
    assert caught.value.msg == "self-intersection at [114.0500000, 22.5500000]"


@pytest.mark.parametrize("system", list(CoordSystem))
def test_fences_go_back_to_the_clients_coordinates(system: CoordSystem) -> None:
    ring = [[114.0, 22.5], [114.1, 22.5], [114.1, 22.6], [114.0, 22.5]]
    fence = polygon_fence("Polygon", [ring], system)
    back = geojson_in(fence.geojson, system)["coordinates"][0]
    assert np.allclose(np.array(back), np.array(ring), atol=1e-8, rtol=0)
    if system is not CoordSystem.WGS84:
        assert not np.allclose(np.array(fence.geojson["coordinates"][0]), np.array(ring))
    circle = circle_fence(22.5, 114.0, 100)
    shown = geojson_in(circle.geojson, system)
    assert shown["radius_m"] == 100 and shown["type"] == "circle"


def test_a_stored_fence_rebuilds_the_same_shape() -> None:
    ring = [[179, -1], [-179, -1], [-179, 1], [179, 1], [179, -1]]
    fence = polygon_fence("Polygon", [ring], CoordSystem.GCJ02)
    assert stored_fence(fence.geojson).shape.equals(fence.shape)
    circle = circle_fence(89.99, 10, 2_000)
    assert stored_fence(circle.geojson) == circle


@settings(max_examples=60, deadline=None)
@given(centres, st.floats(10, 3_000), st.lists(st.tuples(st.floats(0, 360), st.floats(0, 1))))
def test_an_h3_covering_holds_every_point_of_the_fence(
    centre: tuple[float, float], radius_m: float, offsets: list[tuple[float, float]]
) -> None:
    lat0, lng0 = centre
    assume(abs(lat0) < 85)
    fence = circle_fence(lat0, lng0, radius_m)
    cells = set(covering_cells(fence.shape, 9))
    for azimuth, fraction in offsets:
        lng, lat, _ = GEOD.fwd(lng0, lat0, azimuth, fraction * radius_m)
        assert cell_of(lat, normal(lng), 9) in cells
