"""Chinese map datums: WGS-84 <-> GCJ-02 <-> BD-09.

GCJ-02 is the obfuscated datum of mainland-Chinese maps (Tencent, Amap, WeChat's
`wx.getLocation({type: 'gcj02'})`). It applies only inside mainland China: Hong Kong, Macao,
Taiwan and every other country stay WGS-84, and the test is an outline of the mainland
(data/mainland_china.json, from Natural Earth), not a rectangle. BD-09 is Baidu's further offset
of GCJ-02 and applies everywhere.

The forward formulas are the published standard ones (Krasovsky 1940 ellipsoid). The inverses
iterate to < 1e-9 degrees (about 0.1 mm); the common one-step inverse is 1-2 m off.

Every result lies on the globe: longitudes in [-180, 180) (BD-09 adds 0.0065 degrees, which
carries a store at 179.998 past the antimeridian, so it wraps) and latitudes in [-90, 90].
A round trip is exact to 1e-9 degrees except in two slivers: within 0.01 degrees of a pole,
where BD-09's output is clamped (off by up to 0.01 degrees), and within 0.0001 degrees (10 m)
of the antimeridian, where BD-09's formula, not periodic in longitude, gives two points the
same position (off by up to 0.002 degrees, about 200 m).

Functions take and return (lat, lng). Each formula is written once over a math namespace: `math`
for one point (a request's origin) and `numpy` for the `_many` forms (result lists and imports).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import cache, partial
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray

from spatial.geometry import Envelope

Array = NDArray[np.float64]
Points = Sequence[float] | Array
V = TypeVar("V", float, Array)


class CoordSystem(StrEnum):
    """The coordinate systems a client can speak."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


# The parameters of the published GCJ-02 and BD-09 formulas.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0
_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 30
_MAINLAND_OUTLINE = Path(__file__).with_name("data") / "mainland_china.json"
_EDGE_SAMPLES = 257
# The edges between samples bend by far less than this (about 10 m): a safe margin.
_ENVELOPE_PAD_DEG = 0.0005
# No point moves further than this in lat or in lng (measured: 0.0092 and 0.0152 for BD-09).
_MAX_SHIFT_DEG = 0.02
# Outside this box a point is certainly outside the outline; it spares the polygon test.
_MAINLAND_BOX = (73.0, 15.0, 135.5, 54.0)  # min lng, min lat, max lng, max lat


def in_mainland_china(lat: float, lng: float) -> bool:
    """Whether GCJ-02 applies at this point."""
    min_lng, min_lat, max_lng, max_lat = _MAINLAND_BOX
    if not (min_lng <= lng <= max_lng and min_lat <= lat <= max_lat):
        return False
    return bool(shapely.contains_xy(_mainland(), lng, lat))


def wgs84_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lng):
        return lat, _wrap(lng)
    return _on_globe(*_gcj_forward(lat, lng, math))


def gcj02_to_wgs84(lat: float, lng: float) -> tuple[float, float]:
    """The exact inverse of the GCJ-02 shift; points outside the mainland are unchanged."""
    if not in_mainland_china(lat, lng):
        return lat, _wrap(lng)
    return _on_globe(*_invert(lambda a, b: _gcj_forward(a, b, math), lat, lng, lat, lng))


def gcj02_to_bd09(lat: float, lng: float) -> tuple[float, float]:
    return _on_globe(*_bd_forward(lat, _wrap(lng), math))


def bd09_to_gcj02(lat: float, lng: float) -> tuple[float, float]:
    """The exact inverse of the BD-09 offset, iterated from the published one-step inverse."""
    return _on_globe(*_bd_inverse(lat, _wrap(lng), math))


def to_wgs84(lat: float, lng: float, system: CoordSystem) -> tuple[float, float]:
    """A point given in `system`, in WGS-84."""
    if system is CoordSystem.GCJ02:
        return gcj02_to_wgs84(lat, lng)
    if system is CoordSystem.BD09:
        return gcj02_to_wgs84(*bd09_to_gcj02(lat, lng))
    return lat, lng


def from_wgs84(lat: float, lng: float, system: CoordSystem) -> tuple[float, float]:
    """A WGS-84 point, expressed in `system`."""
    if system is CoordSystem.GCJ02:
        return wgs84_to_gcj02(lat, lng)
    if system is CoordSystem.BD09:
        return gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))
    return lat, lng


def envelope_to_wgs84(envelope: Envelope, system: CoordSystem) -> Envelope:
    """A WGS-84 envelope that holds every point whose `system` position lies in `envelope`."""
    return preimage_bounds(envelope, system)[0]


def preimage_bounds(envelope: Envelope, system: CoordSystem) -> tuple[Envelope, Envelope | None]:
    """(outer, inner) WGS-84 envelopes around the points whose `system` position is in
    `envelope`: every such point lies in `outer`, and every point of `inner` is one (None when
    no box is sure to be). Counting exactly then needs a precise check only between the two.

    The datum shift bends a box's edges (by 15 m across 20 km), so they are sampled densely
    rather than only the corners converted, and padded. GCJ-02 shifts mainland points only, so
    a box near the mainland's outline has points of both kinds: each conversion that can apply
    there is inverted on its own, `outer` holds all of them and `inner` lies in all of them.
    """
    if system is CoordSystem.WGS84:
        return envelope, envelope
    min_lng, min_lat, max_lng, max_lat = envelope
    t = np.linspace(0.0, 1.0, _EDGE_SAMPLES)
    across, up = min_lng + (max_lng - min_lng) * t, min_lat + (max_lat - min_lat) * t
    # The edges in this order: bottom, top, left, right (as _inner reads them).
    lats = np.concatenate([min_lat + 0 * t, max_lat + 0 * t, up, up])
    lngs = np.concatenate([across, across, min_lng + 0 * t, max_lng + 0 * t])
    shifted, unshifted = (
        _inverted_edges(lats, lngs, system, mainland) for mainland in (True, False)
    )
    outers = [_outer(edges) for edges in (shifted, unshifted)]
    union = _union(outers)
    branches = []
    if _touches_mainland(union):
        branches.append(0)
    if not _within_mainland(union):
        branches.append(1)
    edges = [(shifted, unshifted)[b] for b in branches]
    outer = _union([outers[b] for b in branches])
    inner: Envelope | None = _inner(edges[0])
    for more in edges[1:]:
        inner = _intersection(inner, _inner(more))
    if inner is None:  # e.g. past the poles or the antimeridian, or the formula's reach
        shift = _MAX_SHIFT_DEG
        inner = _intersection(
            envelope, (min_lng + shift, min_lat + shift, max_lng - shift, max_lat - shift)
        )
    return outer, inner


def in_mainland_china_many(lats: Points, lngs: Points) -> NDArray[np.bool_]:
    lat, lng = _arrays(lats, lngs)
    min_lng, min_lat, max_lng, max_lat = _MAINLAND_BOX
    inside = (lng >= min_lng) & (lng <= max_lng) & (lat >= min_lat) & (lat <= max_lat)
    if inside.any():
        inside[inside] = shapely.contains_xy(_mainland(), lng[inside], lat[inside])
    return inside


def to_wgs84_many(lats: Points, lngs: Points, system: CoordSystem) -> tuple[Array, Array]:
    lat, lng = _arrays(lats, lngs)
    if system is CoordSystem.WGS84:
        return lat, lng
    lng = _wrap(lng)
    if system is CoordSystem.BD09:
        lat, lng = _on_globe(*_bd_inverse(lat, lng, np))
    shifted = in_mainland_china_many(lat, lng)
    glat, glng = lat[shifted], lng[shifted]
    lat, lng = lat.copy(), lng.copy()
    lat[shifted], lng[shifted] = _on_globe(
        *_invert(lambda a, b: _gcj_forward(a, b, np), glat, glng, glat, glng)
    )
    return lat, lng


def from_wgs84_many(lats: Points, lngs: Points, system: CoordSystem) -> tuple[Array, Array]:
    lat, lng = _arrays(lats, lngs)
    if system is CoordSystem.WGS84:
        return lat, lng
    lng = _wrap(lng)
    shifted = in_mainland_china_many(lat, lng)
    lat, lng = lat.copy(), lng.copy()
    lat[shifted], lng[shifted] = _gcj_forward(lat[shifted], lng[shifted], np)
    if system is CoordSystem.BD09:
        return _on_globe(*_bd_forward(lat, lng, np))
    return lat, lng


def _inverted_edges(lats: Array, lngs: Array, system: CoordSystem, mainland: bool) -> Array:
    """WGS-84 (lat, lng) rows of the edge samples of `system`, as if all were (or none were)
    in the mainland: the conversion of one kind of point, without the outline test. A sample
    that the conversion takes across the antimeridian makes the lng row NaN: such a box's
    points can lie at either end of the map (see _outer, _inner)."""
    lat, lng = lats, lngs
    if system is CoordSystem.BD09:
        lat, lng = _bd_inverse(lat, lng, np)
    if mainland:
        lat, lng = _invert(lambda a, b: _gcj_forward(a, b, np), lat, lng, lat, lng)
    lat = np.clip(lat, -90.0, 90.0)
    if (np.abs(lng - lngs) > 180.0).any():
        lng = np.full_like(lng, np.nan)
    return np.stack([lat, lng])


def _outer(points: Array) -> Envelope:
    lat, lng = points
    pad = _ENVELOPE_PAD_DEG
    if np.isnan(lng).any():
        min_lng, max_lng = -180.0, 180.0
    else:
        min_lng, max_lng = max(-180.0, float(lng.min()) - pad), min(180.0, float(lng.max()) + pad)
    return (
        min_lng,
        max(-90.0, float(lat.min()) - pad),
        max_lng,
        min(90.0, float(lat.max()) + pad),
    )


def _inner(points: Array) -> Envelope | None:
    """The box inside all four inverted edges (bottom, top, left, right samples), padded."""
    lat, lng = points
    n, pad = _EDGE_SAMPLES, _ENVELOPE_PAD_DEG
    if np.isnan(lng).any():
        return None
    box = (
        float(lng[2 * n : 3 * n].max()) + pad,
        float(lat[:n].max()) + pad,
        float(lng[3 * n :].min()) - pad,
        float(lat[n : 2 * n].min()) - pad,
    )
    return box if box[0] < box[2] and box[1] < box[3] else None


def _union(envelopes: Sequence[Envelope]) -> Envelope:
    return (
        min(e[0] for e in envelopes),
        min(e[1] for e in envelopes),
        max(e[2] for e in envelopes),
        max(e[3] for e in envelopes),
    )


def _intersection(a: Envelope | None, b: Envelope | None) -> Envelope | None:
    if a is None or b is None:
        return None
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] < box[2] and box[1] < box[3] else None


def _touches_mainland(envelope: Envelope) -> bool:
    min_lng, min_lat, max_lng, max_lat = envelope
    box_min_lng, box_min_lat, box_max_lng, box_max_lat = _MAINLAND_BOX
    if max_lng < box_min_lng or min_lng > box_max_lng:
        return False
    if max_lat < box_min_lat or min_lat > box_max_lat:
        return False
    return bool(shapely.intersects(_mainland(), shapely.box(*envelope)))


def _within_mainland(envelope: Envelope) -> bool:
    return bool(shapely.contains(_mainland(), shapely.box(*envelope)))


def _gcj_forward(lat: V, lng: V, xp: ModuleType) -> tuple[V, V]:
    """WGS-84 -> GCJ-02 by the published formula (no mainland test)."""
    x, y = lng - 105.0, lat - 35.0
    pi = xp.pi
    periodic = (20.0 * xp.sin(6.0 * x * pi) + 20.0 * xp.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * xp.sqrt(abs(x))
    dlat += periodic
    dlat += (20.0 * xp.sin(y * pi) + 40.0 * xp.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * xp.sin(y / 12.0 * pi) + 320.0 * xp.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlng = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * xp.sqrt(abs(x))
    dlng += periodic
    dlng += (20.0 * xp.sin(x * pi) + 40.0 * xp.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlng += (150.0 * xp.sin(x / 12.0 * pi) + 300.0 * xp.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - _KRASOVSKY_EE * xp.sin(radlat) ** 2
    sqrt_magic = xp.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * pi)
    dlng = (dlng * 180.0) / (_KRASOVSKY_A / sqrt_magic * xp.cos(radlat) * pi)
    return lat + dlat, lng + dlng


def _bd_forward(lat: V, lng: V, xp: ModuleType) -> tuple[V, V]:
    """GCJ-02 -> BD-09 by the published formula."""
    z = xp.sqrt(lng * lng + lat * lat) + 0.00002 * xp.sin(lat * _BD_X_PI)
    theta = xp.atan2(lat, lng) + 0.000003 * xp.cos(lng * _BD_X_PI)
    return z * xp.sin(theta) + 0.006, z * xp.cos(theta) + 0.0065


def _bd_one_step_inverse(lat: V, lng: V, xp: ModuleType) -> tuple[V, V]:
    """The published BD-09 -> GCJ-02 formula: a first guess, about 1e-6 degrees off."""
    x, y = lng - 0.0065, lat - 0.006
    z = xp.sqrt(x * x + y * y) - 0.00002 * xp.sin(y * _BD_X_PI)
    theta = xp.atan2(y, x) - 0.000003 * xp.cos(x * _BD_X_PI)
    return z * xp.sin(theta), z * xp.cos(theta)


def _bd_inverse(lat: V, lng: V, xp: ModuleType) -> tuple[V, V]:
    """GCJ-02 of a BD-09 point (lng in [-180, 180)), its lng not yet wrapped.

    The first guess is wrapped onto the globe before iterating, so a point that BD-09 carried
    across the antimeridian is solved on the side it came from.
    """
    guess_lat, guess_lng = _bd_one_step_inverse(lat, lng, xp)
    return _invert(partial(_bd_forward, xp=xp), lat, lng, guess_lat, _wrap(guess_lng))


def _invert(
    forward: Callable[[Any, Any], tuple[Any, Any]],
    target_lat: V,
    target_lng: V,
    lat: V,
    lng: V,
) -> tuple[V, V]:
    """Solve forward(lat, lng) == target by fixed-point iteration from a first guess.

    Both offsets change by well under 1% per unit of movement, so each round gains about two
    digits: four or five rounds from a 500 m guess. Longitudes compare round the globe: a
    target just past the antimeridian (as the forward transforms wrap it) is 360 degrees from
    the formula's own output, not 359.99.
    """
    for _ in range(_MAX_ITERATIONS):
        got_lat, got_lng = forward(lat, lng)
        err_lat, err_lng = got_lat - target_lat, _wrap(got_lng - target_lng)
        lat, lng = lat - err_lat, lng - err_lng
        if max(_largest(err_lat), _largest(err_lng)) < _TOLERANCE_DEG:
            break
    return lat, lng


def _wrap(lng: V) -> V:
    """A longitude in [-180, 180); values already in range are returned as they are, bit for bit.

    (A hair below -180 comes out of `% 360` as 360.0 exactly, hence the second step.)
    """
    if isinstance(lng, np.ndarray):
        off = (lng < -180.0) | (lng >= 180.0)
        if not off.any():
            return lng
        wrapped = (lng + 180.0) % 360.0 - 180.0
        return np.where(off, np.where(wrapped >= 180.0, wrapped - 360.0, wrapped), lng)
    if -180.0 <= lng < 180.0:
        return lng
    wrapped = (lng + 180.0) % 360.0 - 180.0
    return wrapped - 360.0 if wrapped >= 180.0 else wrapped


def _on_globe(lat: V, lng: V) -> tuple[V, V]:
    """A converted point back on the globe: lng wrapped, lat clamped to the poles."""
    if isinstance(lat, np.ndarray):
        return np.clip(lat, -90.0, 90.0), _wrap(lng)
    return min(90.0, max(-90.0, lat)), _wrap(lng)


def _largest(values: float | Array) -> float:
    if isinstance(values, np.ndarray):
        return float(np.abs(values).max(initial=0.0))
    return abs(values)


def _arrays(lats: Points, lngs: Points) -> tuple[Array, Array]:
    lat = np.asarray(lats, dtype=np.float64)
    lng = np.asarray(lngs, dtype=np.float64)
    if lat.shape != lng.shape or lat.ndim != 1:
        raise ValueError("lats and lngs must be one-dimensional and of equal length")
    return lat, lng


@cache
def _mainland() -> shapely.Geometry:
    outline = json.loads(_MAINLAND_OUTLINE.read_text())["geometry"]
    geometry = shapely.from_geojson(json.dumps(outline))
    shapely.prepare(geometry)
    return geometry
