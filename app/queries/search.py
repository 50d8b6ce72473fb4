"""SQL of the searches: nearest-first windows, viewports and H3 cluster counts.

These are the hot path: SQL text on the asyncpg connection of a pooled connection (db.py's
driver_connection). Against SQLAlchemy Core on the same query (statement building, cache keys, row
processing) that took a nearby request from 3.2 ms to about 1 ms of Python time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from app.queries.merchants import MerchantRow, select_list
from app.queries.sql import Params, escape_like, ewkt, fetch_isolated
from spatial.geometry import Envelope


@dataclass(slots=True)
class MerchantHit(MerchantRow):
    distance_m: float  # geodesic on the WGS-84 spheroid
    sphere_m: float  # on the sphere: the order the GiST index walks in


@dataclass(slots=True)
class ClusterRow:
    cell: int
    count: int
    lat: float
    lng: float
    min_lng: float
    max_lng: float
    lng_east: (
        float  # mean longitude with western ones shifted by +360, for cells on the antimeridian
    )


# The query point ($1, EWKT) as a geography, in a scalar subquery: PostgreSQL computes that once
# per execution (an InitPlan). Under the generic plans the service uses, a bare `$1::geography`
# is an expression evaluated again at every use on every row: three times per row of a window,
# which measured 680 against 580 us of server CPU for a 28-row window in a city centre.
_HERE = "(SELECT $1::geography)"

# Attributes come as JSON text: most window rows are never shown, and the shown ones go out as
# they are.
_ROW_COLUMNS = select_list(attributes="m.attributes::text")


@dataclass(frozen=True, slots=True)
class Filters:
    """The optional conditions every search shares."""

    categories: Sequence[str] = ()
    q: str | None = None
    open_at: datetime | None = None
    owner_id: UUID | None = None


@dataclass(slots=True)
class Near:
    """What merchants_near walks: up to `window` merchants nearest (lat, lng), within `radius_m`
    metres (geodesic) and/or the union of `envelopes`, at least `min_sphere_m` from the point on
    the sphere (a cursor's lower bound)."""

    lat: float
    lng: float
    filters: Filters
    window: int
    radius_m: float | None = None
    envelopes: Sequence[Envelope] = ()
    min_sphere_m: float = 0.0


async def merchants_near(conn: asyncpg.Connection, near: Near) -> list[MerchantHit]:
    """`near.window` merchants in ascending sphere distance from the point: the GiST kNN walk.

    A flat walk that reads each row once measured faster than ranking in SQL and joining the
    page back.

    PostGIS 3.3's walk fails on a query point a hair's breadth from a stored one when the
    stored point's index box has no rounding slack (found by the property tests: 180 vs -180,
    or a point on a coordinate plane), with "index returned tuples in wrong order". The window
    is then taken once more, ordered by the same sphere distance without the walk.
    """
    try:
        rows = await fetch_isolated(conn, *near_statement(near))
    except asyncpg.InternalServerError as exc:
        if "index returned tuples in wrong order" not in str(exc):
            raise
        statement, values = near_statement(near, knn=False)
        rows = await conn.fetch(statement, *values)
    return [MerchantHit(*row) for row in rows]


async def clusters(
    conn: asyncpg.Connection,
    *,
    envelopes: Sequence[Envelope],
    keep_mask: int,
    set_bits: int,
    filters: Filters,
    limit: int,
    also: Sequence[UUID] = (),
) -> list[ClusterRow]:
    """Merchant counts per H3 cell (`h3 & keep_mask | set_bits`), most populous first, of the
    merchants in `envelopes` and those of the ids `also` (which must match `filters`)."""
    statement, values = cluster_statement(
        envelopes=envelopes,
        keep_mask=keep_mask,
        set_bits=set_bits,
        filters=filters,
        limit=limit,
        also=also,
    )
    return [ClusterRow(*row) for row in await conn.fetch(statement, *values)]


async def positions_between(
    conn: asyncpg.Connection,
    *,
    outer: Sequence[Envelope],
    inner: Sequence[Envelope],
    filters: Filters,
) -> list[tuple[UUID, float, float]]:
    """(id, lat, lng) of the merchants in `outer` but in none of `inner`: the band that a
    GCJ-02/BD-09 viewport's exact count checks one by one (app.search.cluster_counts)."""
    sql = Params()
    where = [_intersects_envelopes(sql, outer), *_filter_conditions(sql, filters)]
    if inner:
        where.append(f"NOT {_intersects_envelopes(sql, inner)}")
    statement = f"""
        SELECT m.id, ST_Y(m.location::geometry), ST_X(m.location::geometry)
        FROM merchant m
        WHERE {" AND ".join(where)}"""
    return [(row[0], row[1], row[2]) for row in await conn.fetch(statement, *sql.values)]


def near_statement(near: Near, *, knn: bool = True) -> tuple[str, list[Any]]:
    """The SQL and parameters of `merchants_near` (tests/test_query_plans.py explains them).

    `knn=False` orders by the same sphere distance written as a plain expression, which the
    index cannot walk (see merchants_near for when that is needed).
    """
    sql = Params(ewkt(near.lat, near.lng))  # $1: the point, as _HERE
    categories = list(dict.fromkeys(near.filters.categories))
    if not knn or not categories:
        return _walk(sql, "m.location", near, knn), sql.values
    # Categories walk the (category, location) index, which holds the location spelt
    # `(location::geometry)::geography`: one walk per category, merged. The nearest `window` rows
    # over all of them are among each category's own nearest `window`.
    location = "(m.location::geometry)::geography"
    walks = [_walk(sql, location, near, knn, category=c) for c in categories]
    if len(walks) == 1:
        return walks[0], sql.values
    union = "\n        UNION ALL\n".join(f"({walk})" for walk in walks)
    statement = f"SELECT * FROM ({union}) AS walks ORDER BY sphere_m LIMIT {sql.add(near.window)}"
    return statement, sql.values


def _walk(sql: Params, location: str, near: Near, knn: bool, category: str | None = None) -> str:
    """One SELECT of merchants_near: the walk from $1 over `location`, optionally one category."""
    sphere = f"({location} <-> {_HERE})" if knn else f"ST_Distance({location}, {_HERE}, false)"
    where = _filter_conditions(sql, near.filters, with_categories=category is None)
    if category is not None:
        where.append(f"m.category = {sql.add(category)}")
    if near.radius_m is not None:
        where.append(f"ST_DWithin({location}, {_HERE}, {sql.add(near.radius_m)})")
    if near.envelopes:
        where.append(_within_bounds(sql, near.envelopes))
    if near.min_sphere_m > 0:
        where.append(f"{sphere} >= {sql.add(near.min_sphere_m)}")
    return f"""
        SELECT {_ROW_COLUMNS}, ST_Distance({location}, {_HERE}) AS distance_m,
               {sphere} AS sphere_m
        FROM merchant m
        WHERE {" AND ".join(where) or "true"}
        ORDER BY {sphere}
        LIMIT {sql.add(near.window)}"""


def cluster_statement(
    *,
    envelopes: Sequence[Envelope],
    keep_mask: int,
    set_bits: int,
    filters: Filters,
    limit: int,
    also: Sequence[UUID] = (),
) -> tuple[str, list[Any]]:
    """The SQL and parameters of `clusters`."""
    sql = Params(keep_mask, set_bits)
    located = [_intersects_envelopes(sql, envelopes)] if envelopes else []
    if also:
        located.append(f"m.id = ANY({sql.add(list(also))}::uuid[])")
    where = ["(" + (" OR ".join(located) or "false") + ")", *_filter_conditions(sql, filters)]
    statement = f"""
        SELECT cell, count(*), avg(lat), avg(lng), min(lng), max(lng),
               avg(CASE WHEN lng < 0 THEN lng + 360 ELSE lng END)
        FROM (
            SELECT (m.h3 & $1) | $2 AS cell,
                   ST_Y(m.location::geometry) AS lat, ST_X(m.location::geometry) AS lng
            FROM merchant m
            WHERE {" AND ".join(where)}
        ) located
        GROUP BY cell
        ORDER BY count(*) DESC, cell
        LIMIT {sql.add(limit)}"""
    return statement, sql.values


def _filter_conditions(sql: Params, filters: Filters, *, with_categories: bool = True) -> list[str]:
    where = []
    if with_categories and filters.categories:
        where.append(f"m.category = ANY({sql.add(list(filters.categories))}::text[])")
    if filters.q:
        pattern = sql.add("%" + escape_like(filters.q) + "%")
        where.append(
            f"(m.name ILIKE {pattern} OR EXISTS "
            f"(SELECT 1 FROM unnest(m.tags) AS tag WHERE tag ILIKE {pattern}))"
        )
    if filters.owner_id is not None:
        where.append(f"m.owner_id = {sql.add(filters.owner_id)}::uuid")
    if filters.open_at is not None:
        at = sql.add(filters.open_at)
        local = f"timezone(m.timezone, {at}::timestamptz)"
        where.append(
            f"m.open_minutes @> floor(extract(epoch FROM {local} - date_trunc('week', {local}))"
            " / 60)::int"
        )
    return where


def _within_bounds(sql: Params, envelopes: Sequence[Envelope]) -> str:
    """Inside any of the lat/lng rectangles, edges included, as plain bounds.

    The geometry index cannot serve this, on purpose: a viewport search then walks the location
    index outward from the centre (bounded by a radius) instead of reading and sorting every
    merchant in a dense viewport.
    """
    boxes = []
    for min_lng, min_lat, max_lng, max_lat in envelopes:
        boxes.append(
            f"(ST_Y(m.location::geometry) BETWEEN {sql.add(min_lat)} AND {sql.add(max_lat)}"
            f" AND ST_X(m.location::geometry) BETWEEN {sql.add(min_lng)} AND {sql.add(max_lng)})"
        )
    return "(" + " OR ".join(boxes) + ")"


def _intersects_envelopes(sql: Params, envelopes: Sequence[Envelope]) -> str:
    """Inside any of the lat/lng rectangles, edges included (served by the geometry index)."""
    boxes = []
    for envelope in envelopes:
        corners = ", ".join(sql.add(value) for value in envelope)
        boxes.append(
            f"ST_Intersects(m.location::geometry, (SELECT ST_MakeEnvelope({corners}, 4326)))"
        )
    return "(" + " OR ".join(boxes) + ")"
