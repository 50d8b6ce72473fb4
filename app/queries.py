"""All SQL of owners and merchants: `async def f(conn, *, ...) -> rows`; callers own transactions.

Locations are stored as geography(Point, 4326) in WGS-84; rows come back with plain lat/lng.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NewType
from uuid import UUID

import asyncpg
from geoalchemy2 import Geography
from sqlalchemy import (
    ColumnElement,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import INT4MULTIRANGE, Range
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.tables import Geometry, merchant, owner
from spatial.geometry import Envelope, normalize_lng

m = merchant


@dataclass(frozen=True, slots=True)
class OwnerRow:
    id: UUID
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class MerchantValues:
    """What a merchant stores, validated and in WGS-84: the input of inserts and updates."""

    external_id: str | None
    name: str
    category: str
    tags: list[str]
    address: str | None
    phone: str | None
    lat: float
    lng: float
    h3: int
    timezone: str
    opening_hours: str | None
    open_minutes: list[tuple[int, int]] | None
    attributes: dict[str, Any]


RawJson = NewType("RawJson", str)  # JSON text passed through to a response without decoding


# Row types are slots dataclasses but not frozen: a frozen one sets each field through
# object.__setattr__, 7x slower to build (1.6 us against 0.22 us), and a search builds dozens
# per request. Nothing mutates rows.
@dataclass(slots=True)
class MerchantRow:
    id: UUID
    owner_id: UUID
    external_id: str | None
    name: str
    category: str
    tags: list[str]
    address: str | None
    phone: str | None
    lat: float
    lng: float
    h3: int
    timezone: str
    opening_hours: str | None
    attributes: dict[str, Any] | RawJson  # RawJson in search results
    created_at: datetime
    updated_at: datetime


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


class DuplicateExternalId(Exception):
    """Another merchant of the same owner already has this external_id."""


# ---------------------------------------------------------------------------------------- owners


async def insert_owner(conn: AsyncConnection, *, name: str, api_key_hash: bytes) -> OwnerRow:
    stmt = (
        insert(owner)
        .values(name=name, api_key_hash=api_key_hash)
        .returning(owner.c.id, owner.c.name, owner.c.created_at)
    )
    row = (await conn.execute(stmt)).one()
    return OwnerRow(**row._mapping)


async def owner_by_key_hash(conn: AsyncConnection, *, api_key_hash: bytes) -> OwnerRow | None:
    stmt = select(owner.c.id, owner.c.name, owner.c.created_at).where(
        owner.c.api_key_hash == api_key_hash
    )
    row = (await conn.execute(stmt)).one_or_none()
    return OwnerRow(**row._mapping) if row else None


async def set_owner_key(conn: AsyncConnection, *, owner_id: UUID, api_key_hash: bytes) -> None:
    await conn.execute(
        update(owner).where(owner.c.id == owner_id).values(api_key_hash=api_key_hash)
    )


async def owner_exists(conn: AsyncConnection, *, owner_id: UUID) -> bool:
    return bool(await conn.scalar(select(exists().where(owner.c.id == owner_id))))


async def owner_by_name(conn: AsyncConnection, *, name: str) -> OwnerRow | None:
    """The oldest owner of that name (names are not unique; the CLI uses this for demo data)."""
    stmt = (
        select(owner.c.id, owner.c.name, owner.c.created_at)
        .where(owner.c.name == name)
        .order_by(owner.c.created_at, owner.c.id)
        .limit(1)
    )
    row = (await conn.execute(stmt)).one_or_none()
    return OwnerRow(**row._mapping) if row else None


# ------------------------------------------------------------------------------------- merchants

_LAT = func.ST_Y(cast(m.c.location, Geometry())).label("lat")
_LNG = func.ST_X(cast(m.c.location, Geometry())).label("lng")
_MERCHANT_COLUMNS = (
    m.c.id,
    m.c.owner_id,
    m.c.external_id,
    m.c.name,
    m.c.category,
    m.c.tags,
    m.c.address,
    m.c.phone,
    _LAT,
    _LNG,
    m.c.h3,
    m.c.timezone,
    m.c.opening_hours,
    m.c.attributes,
    m.c.created_at,
    m.c.updated_at,
)


def _geography(lat: float, lng: float) -> ColumnElement[Any]:
    point = func.ST_SetSRID(func.ST_MakePoint(normalize_lng(lng), lat), 4326)
    return cast(point, Geography("POINT", srid=4326))


def _stored(values: MerchantValues) -> dict[str, Any]:
    return {
        "external_id": values.external_id,
        "name": values.name,
        "category": values.category,
        "tags": values.tags,
        "address": values.address,
        "phone": values.phone,
        "location": _geography(values.lat, values.lng),
        "h3": values.h3,
        "timezone": values.timezone,
        "opening_hours": values.opening_hours,
        "open_minutes": _multirange(values.open_minutes),
        "attributes": values.attributes,
    }


def _multirange(intervals: list[tuple[int, int]] | None) -> ColumnElement[Any] | None:
    if intervals is None:
        return None
    ranges = [Range(start, end, bounds="[)") for start, end in intervals]
    return bindparam(None, ranges, type_=INT4MULTIRANGE)


async def insert_merchant(
    conn: AsyncConnection, *, owner_id: UUID, values: MerchantValues
) -> MerchantRow:
    stmt = pg_insert(m).values(owner_id=owner_id, **_stored(values)).returning(*_MERCHANT_COLUMNS)
    try:
        async with conn.begin_nested():
            row = (await conn.execute(stmt)).one()
    except IntegrityError as exc:
        if "uq_merchant_owner_id_external_id" in str(exc.orig):
            raise DuplicateExternalId(values.external_id) from None
        raise
    return MerchantRow(**row._mapping)


async def upsert_merchants(
    conn: AsyncConnection, *, owner_id: UUID, values: Sequence[MerchantValues]
) -> None:
    """Insert or update by (owner, external_id) in one statement; each value has an external_id."""
    if not values:
        return
    stmt = pg_insert(m).values([{"owner_id": owner_id, **_stored(v)} for v in values])
    stmt = stmt.on_conflict_do_update(
        constraint="uq_merchant_owner_id_external_id",
        set_={name: stmt.excluded[name] for name in _stored(values[0]) if name != "external_id"}
        | {"updated_at": func.now()},
    )
    await conn.execute(stmt)


async def update_merchant(
    conn: AsyncConnection, *, merchant_id: UUID, values: MerchantValues
) -> MerchantRow:
    stmt = (
        update(m)
        .where(m.c.id == merchant_id)
        .values(**_stored(values), updated_at=func.now())
        .returning(*_MERCHANT_COLUMNS)
    )
    try:
        async with conn.begin_nested():
            row = (await conn.execute(stmt)).one()
    except IntegrityError as exc:
        if "uq_merchant_owner_id_external_id" in str(exc.orig):
            raise DuplicateExternalId(values.external_id) from None
        raise
    return MerchantRow(**row._mapping)


async def merchant_by_id(
    conn: AsyncConnection, *, merchant_id: UUID, for_update: bool = False
) -> MerchantRow | None:
    stmt = select(*_MERCHANT_COLUMNS).where(m.c.id == merchant_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).one_or_none()
    return MerchantRow(**row._mapping) if row else None


async def merchant_open_minutes(
    conn: AsyncConnection, *, merchant_id: UUID
) -> list[tuple[int, int]] | None:
    ranges = await conn.scalar(select(m.c.open_minutes).where(m.c.id == merchant_id))
    if ranges is None:
        return None
    return [(r.lower, r.upper) for r in ranges]


async def delete_merchant(conn: AsyncConnection, *, merchant_id: UUID) -> bool:
    result = await conn.execute(delete(m).where(m.c.id == merchant_id))
    return bool(result.rowcount)


async def merchants_of_owner(
    conn: AsyncConnection, *, owner_id: UUID, after: UUID | None, limit: int
) -> list[MerchantRow]:
    """An owner's merchants in id order, `limit` of them after the id `after`."""
    stmt = select(*_MERCHANT_COLUMNS).where(m.c.owner_id == owner_id)
    if after is not None:
        stmt = stmt.where(m.c.id > after)
    rows = await conn.execute(stmt.order_by(m.c.id).limit(limit))
    return [MerchantRow(**row._mapping) for row in rows]


# --------------------------------------------------------------------------------------- search
# Searches are the hot path: SQL text on the asyncpg connection of a pooled connection (db.py's
# SearchConn). Against SQLAlchemy Core on the same query (statement building, cache keys, row
# processing) that took a nearby request from 3.2 ms to about 1 ms of Python time.

# Columns in the order of MerchantRow's fields, so a record unpacks straight into it. Attributes
# come as JSON text: most window rows are never shown, and the shown ones go out as they are.
_ROW_COLUMNS = """m.id, m.owner_id, m.external_id, m.name, m.category, m.tags, m.address, m.phone,
    ST_Y(m.location::geometry), ST_X(m.location::geometry), m.h3, m.timezone, m.opening_hours,
    m.attributes::text, m.created_at, m.updated_at"""


@dataclass(frozen=True, slots=True)
class Filters:
    """The optional conditions every search shares."""

    categories: Sequence[str] = ()
    q: str | None = None
    open_at: datetime | None = None


async def merchants_near(
    conn: asyncpg.Connection,
    *,
    lat: float,
    lng: float,
    filters: Filters,
    window: int,
    radius_m: float | None = None,
    envelopes: Sequence[Envelope] = (),
    min_sphere_m: float = 0.0,
) -> list[MerchantHit]:
    """Up to `window` merchants in ascending sphere distance from (lat, lng): the GiST kNN walk.

    Restricted to `radius_m` metres (geodesic) and/or the union of `envelopes`, and to rows at
    least `min_sphere_m` from the point on the sphere (a cursor's lower bound). A flat walk
    that reads each row once measured faster than ranking in SQL and joining the page back.

    PostGIS 3.3's walk fails on a query point a hair's breadth from a stored one when the
    stored point's index box has no rounding slack (found by the property tests: 180 vs -180,
    or a point on a coordinate plane), with "index returned tuples in wrong order". The window
    is then taken once more, ordered by the same sphere distance without the walk.
    """
    arguments: dict[str, Any] = {
        "lat": lat,
        "lng": lng,
        "filters": filters,
        "window": window,
        "radius_m": radius_m,
        "envelopes": envelopes,
        "min_sphere_m": min_sphere_m,
    }
    try:
        rows = await _fetch_isolated(conn, *near_statement(**arguments))
    except asyncpg.InternalServerError as exc:
        if "index returned tuples in wrong order" not in str(exc):
            raise
        statement, values = near_statement(**arguments, knn=False)
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
) -> list[ClusterRow]:
    """Merchant counts per H3 cell (`h3 & keep_mask | set_bits`), most populous first."""
    statement, values = cluster_statement(
        envelopes=envelopes, keep_mask=keep_mask, set_bits=set_bits, filters=filters, limit=limit
    )
    return [ClusterRow(*row) for row in await conn.fetch(statement, *values)]


def near_statement(
    *,
    lat: float,
    lng: float,
    filters: Filters,
    window: int,
    radius_m: float | None = None,
    envelopes: Sequence[Envelope] = (),
    min_sphere_m: float = 0.0,
    knn: bool = True,
) -> tuple[str, list[Any]]:
    """The SQL and parameters of `merchants_near` (tests/test_query_plans.py explains them).

    `knn=False` orders by the same sphere distance written as a plain expression, which the
    index cannot walk (see merchants_near for when that is needed).
    """
    sql = _Params(_ewkt(lat, lng))  # $1: the point, parsed once per execution
    categories = list(dict.fromkeys(filters.categories))
    if not knn or not categories:
        return _walk(
            sql, "m.location", filters, window, radius_m, envelopes, min_sphere_m, knn
        ), sql.values
    # Categories walk the (category, location) index, which holds the location spelt
    # `(location::geometry)::geography`: one walk per category, merged. The nearest `window` rows
    # over all of them are among each category's own nearest `window`.
    location = "(m.location::geometry)::geography"
    walks = [
        _walk(sql, location, filters, window, radius_m, envelopes, min_sphere_m, knn, category=c)
        for c in categories
    ]
    if len(walks) == 1:
        return walks[0], sql.values
    union = "\n        UNION ALL\n".join(f"({walk})" for walk in walks)
    statement = f"SELECT * FROM ({union}) AS walks ORDER BY sphere_m LIMIT {sql.add(window)}"
    return statement, sql.values


def _walk(
    sql: _Params,
    location: str,
    filters: Filters,
    window: int,
    radius_m: float | None,
    envelopes: Sequence[Envelope],
    min_sphere_m: float,
    knn: bool,
    category: str | None = None,
) -> str:
    """One SELECT of merchants_near: the walk from $1 over `location`, optionally one category."""
    if knn:
        sphere = f"({location} <-> $1::geography)"
    else:
        sphere = f"ST_Distance({location}, $1::geography, false)"
    where = _filter_conditions(sql, filters, with_categories=category is None)
    if category is not None:
        where.append(f"m.category = {sql.add(category)}")
    if radius_m is not None:
        where.append(f"ST_DWithin({location}, $1::geography, {sql.add(radius_m)})")
    if envelopes:
        where.append(_within_bounds(sql, envelopes))
    if min_sphere_m > 0:
        where.append(f"{sphere} >= {sql.add(min_sphere_m)}")
    return f"""
        SELECT {_ROW_COLUMNS}, ST_Distance({location}, $1::geography) AS distance_m,
               {sphere} AS sphere_m
        FROM merchant m
        WHERE {" AND ".join(where) or "true"}
        ORDER BY {sphere}
        LIMIT {sql.add(window)}"""


def cluster_statement(
    *, envelopes: Sequence[Envelope], keep_mask: int, set_bits: int, filters: Filters, limit: int
) -> tuple[str, list[Any]]:
    """The SQL and parameters of `clusters`."""
    sql = _Params(keep_mask, set_bits)
    where = [_intersects_envelopes(sql, envelopes), *_filter_conditions(sql, filters)]
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


async def _fetch_isolated(conn: asyncpg.Connection, statement: str, values: list[Any]) -> list[Any]:
    """Fetch; inside a transaction (tests), behind a savepoint so a failure leaves it usable."""
    if not conn.is_in_transaction():
        return list(await conn.fetch(statement, *values))
    async with conn.transaction():
        return list(await conn.fetch(statement, *values))


def _ewkt(lat: float, lng: float) -> str:
    """A point as EWKT for a geography parameter; repr keeps every bit of the float."""
    return f"SRID=4326;POINT({normalize_lng(lng)!r} {lat!r})"


class _Params:
    """Positional parameters for SQL text: `add` a value, get its placeholder."""

    def __init__(self, *values: Any) -> None:
        self.values = list(values)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _filter_conditions(
    sql: _Params, filters: Filters, *, with_categories: bool = True
) -> list[str]:
    where = []
    if with_categories and filters.categories:
        where.append(f"m.category = ANY({sql.add(list(filters.categories))}::text[])")
    if filters.q:
        pattern = sql.add("%" + _escape_like(filters.q) + "%")
        where.append(
            f"(m.name ILIKE {pattern} OR EXISTS "
            f"(SELECT 1 FROM unnest(m.tags) AS tag WHERE tag ILIKE {pattern}))"
        )
    if filters.open_at is not None:
        at = sql.add(filters.open_at)
        local = f"timezone(m.timezone, {at}::timestamptz)"
        where.append(
            f"m.open_minutes @> floor(extract(epoch FROM {local} - date_trunc('week', {local}))"
            " / 60)::int"
        )
    return where


def _within_bounds(sql: _Params, envelopes: Sequence[Envelope]) -> str:
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


def _intersects_envelopes(sql: _Params, envelopes: Sequence[Envelope]) -> str:
    """Inside any of the lat/lng rectangles, edges included (served by the geometry index)."""
    boxes = []
    for envelope in envelopes:
        corners = ", ".join(sql.add(value) for value in envelope)
        boxes.append(f"ST_Intersects(m.location::geometry, ST_MakeEnvelope({corners}, 4326))")
    return "(" + " OR ".join(boxes) + ")"


def _escape_like(value: str) -> str:
    """LIKE's default escape character is the backslash."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------------------------- operations


async def schema_revision(conn: AsyncConnection) -> str | None:
    """The migration revision the database is at, or None if it was never migrated."""
    if not await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL")):
        return None
    revision: str | None = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    return revision
