"""Search use cases: nearby (nearest first, exact, paged), map viewports, and H3 cluster counts.

Requests may speak GCJ-02 or BD-09; the search itself always runs on WGS-84 in PostGIS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import numpy as np

from app import cursor
from app.queries import search as search_sql
from app.queries.search import Filters, MerchantHit, Near
from spatial import (
    BBox,
    CoordSystem,
    Page,
    cell_ring,
    cell_to_hex,
    from_wgs84,
    from_wgs84_many,
    parent_masks,
    resolution_for_area,
    sphere_floor,
    take_page,
    to_wgs84,
    window_for,
)
from spatial.coords import envelope_to_wgs84, preimage_bounds
from spatial.geometry import Envelope, reach_m

# A window too small to prove its page exact (a clump of near-equal distances) grows fourfold.
_WINDOW_GROWTH = 4


@dataclass(frozen=True)
class NearbyResult:
    hits: list[MerchantHit]
    next_cursor: str | None


@dataclass(frozen=True)
class ClusterCount:
    cell: str
    count: int
    lat: float
    lng: float
    boundary: list[list[float]] | None = None  # closed ring of [lng, lat], when asked for


@dataclass(frozen=True)
class ClusterResult:
    clusters: list[ClusterCount]
    resolution: int
    truncated: bool


async def nearby(
    conn: asyncpg.Connection,
    *,
    lat: float,
    lng: float,
    coord: CoordSystem,
    radius_m: float,
    filters: Filters,
    limit: int,
    after_cursor: str | None,
    open_now: bool,
) -> NearbyResult:
    """Every merchant within `radius_m` of the point, nearest first (ties by id), page by page."""

    def query() -> str:  # only needed with a cursor in or out, so not computed otherwise
        return cursor.fingerprint(
            "nearby",
            lat,
            lng,
            coord.value,
            radius_m,
            sorted(filters.categories),
            filters.q,
            open_now,
        )

    after = cursor.read(after_cursor, query(), float, UUID) if after_cursor is not None else None
    origin_lat, origin_lng = to_wgs84(lat, lng, coord)
    page = await _ranked(
        conn,
        lat=origin_lat,
        lng=origin_lng,
        filters=filters,
        limit=limit,
        after=after,
        radius_m=radius_m,
    )
    return NearbyResult(page.items, _next_cursor(page, query()) if page.has_more else None)


async def in_bbox(
    conn: asyncpg.Connection, *, bbox: BBox, coord: CoordSystem, filters: Filters, limit: int
) -> Page[MerchantHit]:
    """Merchants inside a viewport; the `limit` nearest its centre when there are more."""
    centre_lat, centre_lng = to_wgs84(*bbox.centre(), coord)

    def inside(hit: MerchantHit) -> bool:
        return bbox.contains(*from_wgs84(hit.lat, hit.lng, coord))

    envelopes = _wgs84_envelopes(bbox, coord)
    return await _ranked(
        conn,
        lat=centre_lat,
        lng=centre_lng,
        filters=filters,
        limit=limit,
        after=None,
        radius_m=reach_m(centre_lat, centre_lng, envelopes),  # bounds the walk outward
        envelopes=envelopes,
        keep=None if coord is CoordSystem.WGS84 else inside,
    )


async def cluster_counts(
    conn: asyncpg.Connection,
    *,
    bbox: BBox,
    coord: CoordSystem,
    resolution: int | None,
    filters: Filters,
    limit: int,
    boundaries: bool = False,
) -> ClusterResult:
    """Merchants per H3 cell at `resolution` (default: from the box's area), most populous first.

    Exactly the merchants whose position in `coord` lies in the box are counted. In GCJ-02 and
    BD-09 the database counts those of a WGS-84 box surely inside the box's preimage, and the
    thin band between that and a box surely around it is converted and checked here, merchant
    by merchant (spatial.coords.preimage_bounds).
    Each cell's position is the mean of its merchants.
    With `boundaries`, each cell also carries its outline in `coord`, for drawing hexagons.
    """
    res = resolution if resolution is not None else resolution_for_area(bbox.area_m2())
    keep_mask, set_bits = parent_masks(res)
    envelopes, also = bbox.envelopes(), []
    if coord is not CoordSystem.WGS84:
        bounds = [preimage_bounds(envelope, coord) for envelope in envelopes]
        envelopes = [inner for _, inner in bounds if inner is not None]
        band = await search_sql.positions_between(
            conn, outer=[outer for outer, _ in bounds], inner=envelopes, filters=filters
        )
        band_lats, band_lngs = from_wgs84_many([p[1] for p in band], [p[2] for p in band], coord)
        also = [
            position[0]
            for position, lat, lng in zip(band, band_lats, band_lngs, strict=True)
            if bbox.contains(float(lat), float(lng))
        ]
    rows = await search_sql.clusters(
        conn,
        envelopes=envelopes,
        keep_mask=keep_mask,
        set_bits=set_bits,
        filters=filters,
        limit=limit + 1,
        also=also,
    )
    rows = rows[:limit] if (truncated := len(rows) > limit) else rows
    # A cell astride the antimeridian averages its longitudes on the 0..360 scale instead.
    lngs = [r.lng if r.max_lng - r.min_lng <= 180 else (r.lng_east + 180) % 360 - 180 for r in rows]
    lats, lngs_out = from_wgs84_many([r.lat for r in rows], lngs, coord)
    rings = [_ring(r.cell, coord) if boundaries else None for r in rows]
    clusters = [
        ClusterCount(cell_to_hex(r.cell), r.count, float(lat), float(lng), ring)
        for r, lat, lng, ring in zip(rows, lats, lngs_out, rings, strict=True)
    ]
    return ClusterResult(clusters, res, truncated)


def _ring(cell: int, coord: CoordSystem) -> list[list[float]]:
    """The cell's outline in `coord`, its longitudes following on as cell_ring has them (the
    conversion wraps each vertex back into [-180, 180))."""
    lats, lngs = from_wgs84_many(*cell_ring(cell), coord)
    lngs = np.unwrap(lngs, period=360.0)
    return [[float(lng), float(lat)] for lat, lng in zip(lats, lngs, strict=True)]


async def _ranked(
    conn: asyncpg.Connection,
    *,
    lat: float,
    lng: float,
    filters: Filters,
    limit: int,
    after: tuple[float, UUID] | None,
    radius_m: float | None = None,
    envelopes: list[Envelope] | None = None,
    keep: Callable[[MerchantHit], bool] | None = None,
) -> Page[MerchantHit]:
    """The exact next page by (distance_m, id), widening the kNN window until it is provably so."""
    window = window_for(limit)
    while True:
        near = Near(
            lat=lat,
            lng=lng,
            filters=filters,
            window=window,
            radius_m=radius_m,
            envelopes=envelopes or (),
            min_sphere_m=sphere_floor(after[0]) if after else 0.0,
        )
        hits = await search_sql.merchants_near(conn, near)
        page = take_page(hits, limit=limit, window=window, after=after, keep=keep)
        if page is not None:
            return page
        window *= _WINDOW_GROWTH


def _wgs84_envelopes(bbox: BBox, coord: CoordSystem) -> list[Envelope]:
    return [envelope_to_wgs84(envelope, coord) for envelope in bbox.envelopes()]


def _next_cursor(page: Page[MerchantHit], query: str) -> str:
    last = page.items[-1]
    return cursor.encode([last.distance_m, str(last.id)], query)
