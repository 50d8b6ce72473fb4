"""Geofences of offers: circles and GeoJSON polygons, checked and made ready for the index.

Semantics (what PostGIS and the tests' shapely oracle agree on):
- A polygon's edges are straight lines in longitude/latitude, as RFC 7946 says, so containment
  is planar point-in-polygon on WGS-84 degrees, edges included. An edge whose longitudes differ
  by more than 180 degrees crosses the antimeridian, and the polygon is cut there into parts
  within -180..180 (RFC 7946 3.1.9). A ring whose longitudes wind once around the globe encloses
  a pole: the north pole when its mean latitude is north of the equator, else the south pole.
- A circle is a geodesic disc on the WGS-84 spheroid: the database tests it exactly (ST_DWithin
  on geography). Its index shape is a longitude/latitude box that holds the whole disc (cut at
  the antimeridian; a cap up to the pole when the disc holds the pole): a GiST index keys every
  shape by its box anyway, so a sampled circle would index the same box.

Limits: at most MAX_VERTICES vertices over all rings (the closing repeat of a ring's first
position is not counted), radius MIN_RADIUS_M..MAX_RADIUS_M metres.

`Fence.geojson` is the fence as the client gave it (rings not cut, no altitude), in WGS-84: what
responses show, converted back to the client's coordinate system by `geojson_in`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import h3.api.basic_int as h3i
import numpy as np
import shapely
from numpy.typing import NDArray

from spatial.coords import CoordSystem, from_wgs84, from_wgs84_many, to_wgs84_many
from spatial.geometry import EARTH_RADIUS_M
from spatial.ranking import SPHEROID_SLACK

MAX_VERTICES = 2_000
MIN_RADIUS_M = 10.0
MAX_RADIUS_M = 50_000.0
DEFAULT_RADIUS_M = 500.0  # a null geofence: this circle around the store

# The box of a circle is computed on the mean sphere; the spheroid's geodesics differ from the
# sphere's by under 0.56% (spatial/ranking.py), so the radius grows by SPHEROID_SLACK and a metre.
_CIRCLE_PAD_M = 1.0
_BOX_PAD_DEG = 1e-9
_REASON = re.compile(r"^(?P<what>.*)\[(?P<x>\S+) (?P<y>\S+)\]$")

Loc = tuple[str | int, ...]
Position = Sequence[float]  # [lng, lat] or [lng, lat, altitude]


class FenceError(ValueError):
    """A geofence that fails a check; `loc` is the path of the culprit inside the geofence."""

    def __init__(self, loc: Loc, msg: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {msg}")
        self.loc = loc
        self.msg = msg


@dataclass(frozen=True, slots=True)
class Circle:
    lat: float  # WGS-84 centre
    lng: float
    radius_m: float  # geodesic, on the WGS-84 spheroid


@dataclass(frozen=True, slots=True)
class Fence:
    kind: Literal["circle", "polygon"]
    shape: shapely.MultiPolygon  # WGS-84 degrees in -180..180: the exact area, or a circle's box
    circle: Circle | None
    geojson: dict[str, Any]  # as given, in WGS-84 (see the module docstring)


def circle_fence(lat: float, lng: float, radius_m: float) -> Fence:
    """A geodesic disc around a WGS-84 centre."""
    if not MIN_RADIUS_M <= radius_m <= MAX_RADIUS_M:
        raise FenceError(
            ("radius_m",), f"must be between {MIN_RADIUS_M:,.0f} and {MAX_RADIUS_M:,.0f} metres"
        )
    geojson = {"type": "circle", "center": {"lat": lat, "lng": lng}, "radius_m": radius_m}
    return Fence("circle", circle_box(lat, lng, radius_m), Circle(lat, lng, radius_m), geojson)


def circle_box(lat: float, lng: float, radius_m: float) -> shapely.MultiPolygon:
    """Longitude/latitude boxes holding every point within `radius_m` (geodesic) of the centre:
    `circle_bounds` as a shape."""
    return shapely.MultiPolygon([shapely.box(*box) for box in circle_bounds(lat, lng, radius_m)])


Bounds = tuple[float, float, float, float]  # min lng, min lat, max lng, max lat


def circle_bounds(lat: float, lng: float, radius_m: float) -> tuple[Bounds, ...]:
    """The boxes, within -180..180, that hold every point within `radius_m` (geodesic) of the
    centre: one, or two where the circle crosses the antimeridian. Plain arithmetic, no shape:
    tracking asks for one per point it is sent.

    On a sphere a cap of angular radius rho around (lat, lng) spans lat +- rho and, when it
    does not hold a pole, lng +- asin(sin rho / cos lat): where meridians touch the circle.
    """
    rho = (radius_m * (1.0 + SPHEROID_SLACK) + _CIRCLE_PAD_M) / EARTH_RADIUS_M
    rho_deg = math.degrees(rho) + _BOX_PAD_DEG
    if lat + rho_deg >= 90.0:
        return ((-180.0, max(-90.0, lat - rho_deg), 180.0, 90.0),)
    if lat - rho_deg <= -90.0:
        return ((-180.0, -90.0, 180.0, min(90.0, lat + rho_deg)),)
    dlng = math.degrees(math.asin(math.sin(rho) / math.cos(math.radians(lat)))) + _BOX_PAD_DEG
    south, north = lat - rho_deg, lat + rho_deg
    west, east = lng - dlng, lng + dlng
    if east - west >= 360.0:
        return ((-180.0, south, 180.0, north),)
    turn = 360.0 * math.floor((west + 180.0) / 360.0)  # so that -180 <= west < 180
    west, east = west - turn, east - turn
    if east <= 180.0:
        return ((west, south, east, north),)
    return ((-180.0, south, east - 360.0, north), (west, south, 180.0, north))


def polygon_fence(
    kind: Literal["Polygon", "MultiPolygon"], coordinates: Sequence[Any], system: CoordSystem
) -> Fence:
    """A GeoJSON Polygon or MultiPolygon given in `system`, checked and cut for the index.

    Overlapping parts of a MultiPolygon are merged: the fence is their union.
    """
    polygons: list[Sequence[Sequence[Position]]] = (
        [coordinates] if kind == "Polygon" else list(coordinates)
    )
    if not polygons:
        raise FenceError(("coordinates",), "a MultiPolygon needs at least one polygon")
    _check_structure(polygons, kind)
    given_lats, given_lngs = _flat(polygons)
    lats, lngs = to_wgs84_many(given_lats, given_lngs, system)
    parts: list[shapely.Geometry] = []
    stored: list[list[list[list[float]]]] = []
    at = 0
    for p, rings in enumerate(polygons):
        loc = _polygon_loc(kind, p)
        span = [(at + sum(len(r) for r in rings[:i]), len(ring)) for i, ring in enumerate(rings)]
        at += sum(len(ring) for ring in rings)
        if system is not CoordSystem.WGS84:
            # First as drawn, so a reason's place is exactly where the client drew it.
            as_drawn = _plane_polygon(
                [
                    (np.asarray(given_lats[a : a + n]), np.asarray(given_lngs[a : a + n]))
                    for a, n in span
                ],
                loc,
            )
            _check_valid(as_drawn, loc, CoordSystem.WGS84)
        wgs_rings = [(lats[a : a + n], lngs[a : a + n]) for a, n in span]
        polygon = _plane_polygon(wgs_rings, loc)
        _check_valid(polygon, loc, system)
        parts.append(_folded(polygon))
        stored.append(
            [[[float(x), float(y)] for y, x in zip(*ring, strict=True)] for ring in wgs_rings]
        )
    shape = _as_multipolygon(shapely.union_all(parts))
    geojson = {
        "type": kind,
        "coordinates": stored[0] if kind == "Polygon" else stored,
    }
    return Fence("polygon", shape, None, geojson)


def stored_fence(geojson: dict[str, Any]) -> Fence:
    """The fence of a stored `Fence.geojson` (WGS-84), rebuilt as it was made."""
    if geojson["type"] == "circle":
        center = geojson["center"]
        return circle_fence(center["lat"], center["lng"], geojson["radius_m"])
    return polygon_fence(geojson["type"], geojson["coordinates"], CoordSystem.WGS84)


def geojson_in(geojson: dict[str, Any], system: CoordSystem) -> dict[str, Any]:
    """A stored (WGS-84) fence as the client sees it in `system`."""
    if system is CoordSystem.WGS84:
        return geojson
    if geojson["type"] == "circle":
        lat, lng = from_wgs84(geojson["center"]["lat"], geojson["center"]["lng"], system)
        return geojson | {"center": {"lat": lat, "lng": lng}}
    polygons = [geojson["coordinates"]] if geojson["type"] == "Polygon" else geojson["coordinates"]
    lats = [pos[1] for rings in polygons for ring in rings for pos in ring]
    lngs = [pos[0] for rings in polygons for ring in rings for pos in ring]
    out_lat, out_lng = from_wgs84_many(lats, lngs, system)
    at = 0
    converted = []
    for rings in polygons:
        converted_rings = []
        for ring in rings:
            n = len(ring)
            converted_rings.append(
                [
                    [float(x), float(y)]
                    for x, y in zip(out_lng[at : at + n], out_lat[at : at + n], strict=True)
                ]
            )
            at += n
        converted.append(converted_rings)
    return {
        "type": geojson["type"],
        "coordinates": converted[0] if geojson["type"] == "Polygon" else converted,
    }


def covering_cells(shape: shapely.MultiPolygon, res: int) -> list[int]:
    """H3 cells at `res` that overlap the shape (a superset: cells touching any part).

    H3 reads an edge longer than 180 degrees of longitude as crossing the antimeridian, so wide
    parts (a polar cap) are covered in halves. The shape is padded by about a metre, so cells
    that merely touch it are kept too.
    """
    cells: set[int] = set()
    halves = (shapely.box(-180.0, -90.0, 0.0, 90.0), shapely.box(0.0, -90.0, 180.0, 90.0))
    padded = shapely.buffer(shape, 1e-5, quad_segs=2)
    for half in halves:
        for part in _polygons(shapely.intersection(padded, half)):
            outline = [(y, x) for x, y in part.exterior.coords[:-1]]
            poly = h3i.LatLngPoly(outline)
            cells.update(h3i.h3shape_to_cells_experimental(poly, res, contain="overlap"))
    return sorted(cells)


def vertex_count(polygons: Sequence[Sequence[Sequence[Position]]]) -> int:
    """Vertices over all rings, each ring's closing position not counted."""
    return sum(max(0, len(ring) - 1) for rings in polygons for ring in rings)


# --------------------------------------------------------------------------------------- private


def _polygon_loc(kind: str, index: int) -> Loc:
    return ("coordinates",) if kind == "Polygon" else ("coordinates", index)


def _check_structure(polygons: Sequence[Sequence[Sequence[Position]]], kind: str) -> None:
    count = vertex_count(polygons)
    if count > MAX_VERTICES:
        raise FenceError(
            ("coordinates",), f"has {count:,} vertices; at most {MAX_VERTICES:,} are allowed"
        )
    for p, rings in enumerate(polygons):
        if not rings:
            raise FenceError(_polygon_loc(kind, p), "a polygon needs an outer ring")
        for r, ring in enumerate(rings):
            loc = (*_polygon_loc(kind, p), r)
            if len(ring) < 4:
                raise FenceError(
                    loc,
                    f"a ring needs at least 4 positions (3 corners and the first one repeated),"
                    f" got {len(ring)}",
                )
            if list(ring[0][:2]) != list(ring[-1][:2]):
                raise FenceError(
                    loc, "the ring is not closed: its last position must repeat its first"
                )


def _flat(polygons: Sequence[Sequence[Sequence[Position]]]) -> tuple[list[float], list[float]]:
    lats = [float(pos[1]) for rings in polygons for ring in rings for pos in ring]
    lngs = [float(pos[0]) for rings in polygons for ring in rings for pos in ring]
    return lats, lngs


def _plane_polygon(
    rings: list[tuple[NDArray[np.float64], NDArray[np.float64]]], loc: Loc
) -> shapely.Polygon:
    """One polygon's (lat, lng) rings as a polygon in one continuous longitude."""
    planar = [_unwrapped_ring(lat, lng, (*loc, r)) for r, (lat, lng) in enumerate(rings)]
    shell, holes = planar[0], planar[1:]
    # A hole sits in the same turn of longitude as its shell.
    shell_mid = (shell[:, 0].min() + shell[:, 0].max()) / 2.0
    shifted = []
    for hole in holes:
        hole_mid = (hole[:, 0].min() + hole[:, 0].max()) / 2.0
        shifted.append(hole + [360.0 * round((shell_mid - hole_mid) / 360.0), 0.0])
    return shapely.Polygon(shell, shifted)


def _check_valid(polygon: shapely.Polygon, loc: Loc, system: CoordSystem) -> None:
    """OGC validity (GEOS) and an area; a reason's place is shown in `system`."""
    reason = shapely.is_valid_reason(polygon)
    if reason != "Valid Geometry":
        raise FenceError(loc, _readable(reason, system))
    if polygon.area <= 0.0:
        raise FenceError(loc, "the polygon has no area")


def _unwrapped_ring(
    lat: NDArray[np.float64], lng: NDArray[np.float64], loc: Loc
) -> NDArray[np.float64]:
    """(lng, lat) rows in one continuous longitude (an edge never spans more than 180 degrees).

    A ring that winds once around the globe is closed over the pole on its side.
    """
    steps = np.diff(lng)
    steps = np.where(steps > 180.0, steps - 360.0, np.where(steps < -180.0, steps + 360.0, steps))
    unwrapped = np.concatenate([[lng[0]], lng[0] + np.cumsum(steps)])
    turns = round((unwrapped[-1] - unwrapped[0]) / 360.0)
    unwrapped[-1] = unwrapped[0] + 360.0 * turns  # exactly, whatever the sum rounded to
    points = np.column_stack([unwrapped, lat])
    if turns == 0:
        return points
    if abs(turns) > 1:
        raise FenceError(loc, "the ring winds around a pole more than once")
    pole = 90.0 if float(np.mean(lat[:-1])) >= 0.0 else -90.0
    over_pole = [[unwrapped[-1], pole], [unwrapped[0], pole], [unwrapped[0], lat[0]]]
    return np.vstack([points, over_pole])


def _folded(polygon: shapely.Geometry) -> shapely.MultiPolygon:
    """A polygon in continuous longitude, cut at the antimeridian and moved into -180..180."""
    min_x, _, max_x, _ = polygon.bounds
    if min_x >= -180.0 and max_x <= 180.0:
        return _as_multipolygon(polygon)
    pieces = []
    for turn in range(math.floor((min_x + 180.0) / 360.0), math.ceil((max_x - 180.0) / 360.0) + 1):
        offset = 360.0 * turn
        window = shapely.box(offset - 180.0, -90.0, offset + 180.0, 90.0)
        piece = shapely.intersection(polygon, window)
        pieces += [
            shapely.transform(part, lambda xy, o=offset: xy - [o, 0.0]) for part in _polygons(piece)
        ]
    return _as_multipolygon(shapely.union_all(pieces))


def _polygons(geometry: shapely.Geometry) -> list[shapely.Polygon]:
    """The polygons with area in a geometry (intersections may add points and lines)."""
    if isinstance(geometry, shapely.Polygon):
        return [geometry] if geometry.area > 0.0 else []
    if isinstance(geometry, shapely.MultiPolygon | shapely.GeometryCollection):
        return [p for g in geometry.geoms for p in _polygons(g)]
    return []


def _as_multipolygon(geometry: shapely.Geometry) -> shapely.MultiPolygon:
    return shapely.MultiPolygon(_polygons(geometry))


def _readable(reason: str, system: CoordSystem) -> str:
    """GEOS's reason ("Self-intersection[114.1 22.5]") with the place in the client's system."""
    found = _REASON.match(reason)
    if found is None:
        return reason.lower()
    lng = (float(found["x"]) + 180.0) % 360.0 - 180.0
    lat, lng = from_wgs84(float(found["y"]), lng, system)
    what = found["what"].strip()
    return f"{what[:1].lower()}{what[1:]} at [{lng:.7f}, {lat:.7f}]"
