"""spatial.coords against published test vectors, real data and the GCJ-02 outline."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Point, shape

from spatial import coords
from spatial.coords import CoordSystem

GEOD = Geod(ellps="WGS84")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[1], a[0], b[1], b[0])[2])


# (wgs84 lat, lng) -> (gcj02 lat, lng), from the test suite of googollee/eviltransform
EVILTRANSFORM = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
]


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_published_vectors_exactly(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert coords.wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-12)


def test_wgs84_to_gcj02_matches_vectors_published_to_8_decimals() -> None:
    # The R package's test: 39.90734, 116.39089 -> 39.90874107, 116.39713094
    lat, lng = coords.wgs84_to_gcj02(39.90734, 116.39089)
    assert (round(lat, 8), round(lng, 8)) == (39.90874107, 116.39713094)


def test_the_wgs84_gcj02_bd09_chain_of_another_implementation_agrees_within_a_centimetre() -> None:
    # A Rust tool's test vector: WGS-84 -> GCJ-02 -> BD-09 of one point.
    wgs, gcj, bd = (
        (30.6107779, 121.0917077),
        (30.608604331756705, 121.09626935575027),
        (
            30.61484572185035,
            121.10271732371203,
        ),
    )
    assert metres(coords.wgs84_to_gcj02(*wgs), gcj) < 0.01
    assert metres(coords.gcj02_to_bd09(*gcj), bd) < 1e-6


@pytest.mark.parametrize(
    ("place", "lat", "lng"),
    [
        ("Seoul", 37.5665, 126.978),
        ("Hanoi", 21.0278, 105.8342),
        ("Taipei", 25.033, 121.5654),
        ("Ulaanbaatar", 47.8864, 106.9057),
        ("Hong Kong, Central", 22.2819, 114.1582),
        ("Hong Kong, Tsim Sha Tsui waterfront", 22.2935, 114.1694),
        ("Macao", 22.1987, 113.5439),
        ("Kinmen (Taiwan)", 24.43, 118.32),
        ("Tokyo", 35.68, 139.76),
        ("Helsinki", 60.1699, 24.9384),
        ("Pyongyang", 39.03, 125.75),
        ("New York", 40.7128, -74.006),
    ],
)
def test_points_outside_mainland_china_are_not_shifted(place: str, lat: float, lng: float) -> None:
    assert not coords.in_mainland_china(lat, lng)
    for system in CoordSystem:
        assert coords.to_wgs84(lat, lng, system)[0] == lat or system is CoordSystem.BD09
    assert coords.wgs84_to_gcj02(lat, lng) == (lat, lng)
    assert coords.gcj02_to_wgs84(lat, lng) == (lat, lng)


@pytest.mark.parametrize(
    ("place", "lat", "lng"),
    [
        ("Shanghai", 31.2304, 121.4737),
        ("Beijing", 39.9042, 116.4074),
        ("Shenzhen, Futian", 22.5431, 114.0579),
        ("Shenzhen, Shekou seafront", 22.48, 113.91),
        ("Zhuhai seafront", 22.271, 113.5767),
        ("Xiamen, Gulangyu", 24.447, 118.066),
        ("Sanya seafront", 18.25, 109.5),
        ("Urumqi", 43.8256, 87.6168),
        ("Dandong", 40.124, 124.39),
    ],
)
def test_points_in_mainland_china_are_shifted_even_on_the_seafront(
    place: str, lat: float, lng: float
) -> None:
    assert coords.in_mainland_china(lat, lng)
    assert 100 < metres((lat, lng), coords.wgs84_to_gcj02(lat, lng)) < 1000


mainland = st.tuples(st.floats(18.5, 53.0), st.floats(75.0, 134.0)).filter(
    lambda p: coords.in_mainland_china(*p) and coords.in_mainland_china(*coords.wgs84_to_gcj02(*p))
)


@given(mainland)
def test_gcj02_to_wgs84_inverts_the_shift_to_a_centimetre(point: tuple[float, float]) -> None:
    back = coords.gcj02_to_wgs84(*coords.wgs84_to_gcj02(*point))
    assert metres(point, back) < 0.01


# Off the antimeridian's sliver: see test_conversions_stay_on_the_globe_and_round_trip_within_...
@given(st.tuples(st.floats(-80.0, 80.0), st.floats(-179.9999, 179.9999)))
def test_bd09_to_gcj02_inverts_the_offset_to_a_centimetre(point: tuple[float, float]) -> None:
    back = coords.bd09_to_gcj02(*coords.gcj02_to_bd09(*point))
    assert metres(point, back) < 0.01


@given(st.lists(mainland, min_size=1, max_size=20), st.sampled_from(list(CoordSystem)))
def test_array_and_single_point_conversions_agree(
    points: list[tuple[float, float]], system: CoordSystem
) -> None:
    lats, lngs = [p[0] for p in points], [p[1] for p in points]
    out_lat, out_lng = coords.from_wgs84_many(lats, lngs, system)
    back_lat, back_lng = coords.to_wgs84_many(out_lat, out_lng, system)
    for i, point in enumerate(points):
        assert (out_lat[i], out_lng[i]) == pytest.approx(
            coords.from_wgs84(*point, system), abs=1e-9
        )
        assert (back_lat[i], back_lng[i]) == pytest.approx(
            coords.to_wgs84(out_lat[i], out_lng[i], system), abs=1e-9
        )


def test_hangzhou_poi86_bd09_column_is_gcj02_to_bd09(shared_data: Path) -> None:
    """22,437 real POIs carry GCJ-02 and BD-09 columns; they agree to the file's 6 decimals."""
    rows = read_csv(shared_data / "hangzhou_poi86" / "poi_normalized.csv")
    gcj = np.array([[float(r["gcj02_lat"]), float(r["gcj02_lng"])] for r in rows])
    bd = np.array([[float(r["bd09_lat"]), float(r["bd09_lng"])] for r in rows])
    lat, lng = coords.from_wgs84_many(
        *coords.to_wgs84_many(gcj[:, 0], gcj[:, 1], CoordSystem.GCJ02), CoordSystem.BD09
    )
    worst = max(
        metres((a, b), (c, d)) for a, b, c, d in zip(lat, lng, bd[:, 0], bd[:, 1], strict=True)
    )
    assert len(rows) == 22437 and worst < 0.1


def test_hangzhou_poi86_wgs84_column_is_the_one_step_inverse_we_improve_on(
    shared_data: Path,
) -> None:
    """The file's WGS-84 column is gcj - offset(gcj): 1-2 m off. Ours maps back onto the GCJ-02."""
    rows = read_csv(shared_data / "hangzhou_poi86" / "poi_normalized.csv")[:2000]
    gaps = []
    for r in rows:
        gcj = (float(r["gcj02_lat"]), float(r["gcj02_lng"]))
        ours = coords.gcj02_to_wgs84(*gcj)
        assert metres(coords.wgs84_to_gcj02(*ours), gcj) < 0.001
        gaps.append(metres(ours, (float(r["wgs84_lat"]), float(r["wgs84_lng"]))))
    assert 1.0 < float(np.median(gaps)) < 2.0 and max(gaps) < 2.0


def test_shenzhen_pois_fall_in_their_street_polygons_only_after_conversion(
    shared_data: Path,
) -> None:
    """Amap POIs (GCJ-02) against WGS-84 street polygons: 240 of 240 inside after conversion,
    230 when the datums are mixed (../shared/data/README.md, section 3.5)."""
    streets = json.loads((shared_data / "shenzhen_cn" / "street_boundaries.geojson").read_text())
    area = [shape(f["geometry"]) for f in streets["features"]]
    rows = read_csv(shared_data / "shenzhen_cn" / "amap_pois.csv")

    def inside(lat: float, lng: float) -> bool:
        return any(p.covers(Point(lng, lat)) for p in area)

    raw = sum(inside(float(r["gcj02_lat"]), float(r["gcj02_lng"])) for r in rows)
    converted = sum(
        inside(*coords.gcj02_to_wgs84(float(r["gcj02_lat"]), float(r["gcj02_lng"]))) for r in rows
    )
    assert (len(rows), raw, converted) == (240, 230, 240)


def test_starbucks_hong_kong_and_macao_rows_filed_as_cn_stay_unshifted(shared_data: Path) -> None:
    rows = read_csv(shared_data / "starbucks" / "directory.csv")
    hk_macao = [r for r in rows if r["Country"] == "CN" and r["State/Province"] in ("91", "92")]
    mainland = [r for r in rows if r["Country"] == "CN" and r["State/Province"] not in ("91", "92")]
    assert len(hk_macao) == 175  # 162 Hong Kong + 13 Macao (the data's README says 148)
    assert not any(
        coords.in_mainland_china(float(r["Latitude"]), float(r["Longitude"])) for r in hk_macao
    )
    # Two mainland rows sit on the Hong Kong and Macao borders with coordinates rounded to
    # 0.01 degrees (about 1 km): Sha Tau Kok (22.55, 114.24) and Gongbei (22.21, 113.53).
    outside = {
        (r["Latitude"], r["Longitude"])
        for r in mainland
        if not coords.in_mainland_china(float(r["Latitude"]), float(r["Longitude"]))
    }
    assert len(mainland) == 2559 and outside == {("22.55", "114.24"), ("22.21", "113.53")}


# Any WGS-84 point, the poles and the antimeridian included (both spellings of it).
anywhere = st.tuples(
    st.floats(-90.0, 90.0),
    st.one_of(st.floats(-180.0, 180.0), st.sampled_from([-180.0, 180.0, 179.998, -179.998])),
)
# The two slivers where spatial/coords.py documents a round trip as inexact: within POLAR_DEG of
# a pole (off by up to that much) and within SEAM_DEG of the antimeridian (up to 0.002 degrees).
POLAR_DEG = 0.01
SEAM_DEG = 1e-4


def on_globe(lat: float, lng: float) -> bool:
    return -90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0


@given(anywhere, st.sampled_from([CoordSystem.GCJ02, CoordSystem.BD09]))
def test_conversions_stay_on_the_globe_and_round_trip_within_the_documented_error(
    point: tuple[float, float], system: CoordSystem
) -> None:
    out = coords.from_wgs84(point[0], point[1], system)
    back = coords.to_wgs84(*out, system)
    assert on_globe(*out) and on_globe(*back), (out, back)
    if abs(point[0]) > 90.0 - POLAR_DEG:
        assert abs(back[0] - point[0]) <= POLAR_DEG
    elif 180.0 - abs(point[1]) < SEAM_DEG and system is CoordSystem.BD09:
        assert abs(back[0] - point[0]) <= 0.002 and metres(point, back) < 250
    else:
        assert metres(point, back) < 0.01


@given(st.lists(anywhere, min_size=1, max_size=20), st.sampled_from(list(CoordSystem)))
def test_array_conversions_stay_on_the_globe_and_agree_with_single_points(
    points: list[tuple[float, float]], system: CoordSystem
) -> None:
    lats, lngs = [p[0] for p in points], [p[1] for p in points]
    out_lat, out_lng = coords.from_wgs84_many(lats, lngs, system)
    back_lat, back_lng = coords.to_wgs84_many(out_lat, out_lng, system)
    for i, point in enumerate(points):
        out = coords.from_wgs84(point[0], point[1], system)
        assert on_globe(out_lat[i], out_lng[i]) and on_globe(back_lat[i], back_lng[i])
        assert metres(out, (out_lat[i], out_lng[i])) < 1e-6
        # The inverses iterate to 1e-9 degrees (about 0.1 mm), each path on its own numbers:
        # they agree within that, not to the micrometre (1.1e-6 m apart was seen near BD-09's
        # antimeridian wrap).
        assert metres(coords.to_wgs84(*out, system), (back_lat[i], back_lng[i])) < 1e-3


@given(st.tuples(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0)))
def test_any_bd09_or_gcj02_input_converts_to_a_point_on_the_globe(
    point: tuple[float, float],
) -> None:
    for system in CoordSystem:
        assert on_globe(*coords.to_wgs84(point[0], point[1], system))
        lats, lngs = coords.to_wgs84_many([point[0]], [point[1]], system)
        assert on_globe(lats[0], lngs[0])


def test_bd09_near_the_antimeridian_wraps_and_comes_back() -> None:
    lat, lng = coords.gcj02_to_bd09(10.0, 179.998)
    assert lng == pytest.approx(-179.9955, abs=1e-4) and lat == pytest.approx(10.0066, abs=1e-3)
    assert coords.bd09_to_gcj02(lat, lng) == pytest.approx((10.0, 179.998), abs=1e-9)
    assert coords.to_wgs84(10.0, -180.0, CoordSystem.BD09)[1] == pytest.approx(179.9935, abs=1e-3)
