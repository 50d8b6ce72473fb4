"""Search use cases: nearby (nearest first, exact, paged), map viewports, and H3 cluster counts.

Requests may speak GCJ-02 or BD-09; the search itself always runs on WGS-84 in PostGIS.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
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

# radius=auto tries these in turn until one holds `limit` stores (Tencent's auto-extend).
AUTO_RADII_M = (1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0, 50_000.0)

# A window too small to prove its page exact (a clump of near-equal distances) grows fourfold.
_WINDOW_GROWTH = 4


@dataclass(frozen=True)
class NearbyResult:
    hits: list[MerchantHit]
    next_cursor: str | None
    radius_m: float  # the radius searched: as asked, or the step radius=auto settled on


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
    radius_m: float | Literal["auto"],
    filters: Filters,
    limit: int,
    after_cursor: str | None,
    open_now: bool,
) -> NearbyResult:
    """Every merchant within `radius_m` of the point, nearest first (ties by id), page by page.

    `radius_m="auto"` searches the first of AUTO_RADII_M that holds `limit` merchants (else the
    last); its cursors carry that radius, so later pages search the one the first page chose.
    """

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

    origin_lat, origin_lng = to_wgs84(lat, lng, coord)
    if after_cursor is None and radius_m == "auto":
        page, radius = await _auto_first_page(conn, origin_lat, origin_lng, filters, limit)
    else:
        after, radius = _position(after_cursor, query, radius_m)
        page = await _ranked(
            conn,
            lat=origin_lat,
            lng=origin_lng,
            filters=filters,
            limit=limit,
            after=after,
            radius_m=radius,
        )
    auto_radius = radius if radius_m == "auto" else None
    next_cursor = _next_cursor(page, query(), auto_radius) if page.has_more else None
    return NearbyResult(page.items, next_cursor, radius)


async def _auto_first_page(
    conn: asyncpg.Connection, lat: float, lng: float, filters: Filters, limit: int
) -> tuple[Page[MerchantHit], float]:
    """The first page of radius=auto, and the radius it settled on, from one walk out to the
    largest step instead of one search per step.

    The walk's exact first `limit` + 1 rows decide it: the `limit`-th row's distance is the
    `limit`-th smallest of all, so the smallest step at least that far is the first step that
    holds `limit` merchants, and those rows are that step's first page; the next row, if it is
    within the step too, proves there is a next page.
    """
    widest = await _ranked(
        conn,
        lat=lat,
        lng=lng,
        filters=filters,
        limit=limit + 1,
        after=None,
        radius_m=AUTO_RADII_M[-1],
    )
    if len(widest.items) < limit:
        return Page(widest.items, has_more=False), AUTO_RADII_M[-1]
    farthest = widest.items[limit - 1].distance_m
    radius = AUTO_RADII_M[min(bisect_left(AUTO_RADII_M, farthest), len(AUTO_RADII_M) - 1)]
    within = [hit for hit in widest.items if hit.distance_m <= radius]
    return Page(within[:limit], has_more=len(within) > limit), radius


def _position(
    token: str | None, query: Callable[[], str], radius_m: float | Literal["auto"]
) -> tuple[tuple[float, UUID] | None, float]:
    """Where a page starts (after a cursor's position, if any) and the radius it searches:
    `radius_m`, or with radius=auto the one the first page settled on, which cursors carry."""
    if token is None:
        assert radius_m != "auto", "the first page of radius=auto is _auto_first_page's"
        return None, radius_m
    if radius_m != "auto":
        distance_m, merchant_id = cursor.read(token, query(), float, UUID)
        return (distance_m, merchant_id), radius_m
    distance_m, merchant_id, radius = cursor.read(token, query(), float, UUID, float)
    if radius not in AUTO_RADII_M:
        raise cursor.invalid("is not a cursor this service issued")
    return (distance_m, merchant_id), radius


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


def _next_cursor(page: Page[MerchantHit], query: str, auto_radius: float | None) -> str:
    last = page.items[-1]
    position: list[object] = [last.distance_m, str(last.id)]
    if auto_radius is not None:
        position.append(auto_radius)
    return cursor.encode(position, query)
