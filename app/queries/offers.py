"""SQL of offers: writes and reads by id or merchant (SQLAlchemy Core), and "which offers cover
this point" (SQL text on the asyncpg driver: the hot path, like the searches).

A fence covers a point when the GiST index finds the point in its box (`fence && point`) and
then, exactly: a polygon fence covers it (ST_Covers on geometry: planar lng/lat, edges
included), or a circle's centre lies within `radius_m` of it (ST_DWithin on geography: geodesic
on the WGS-84 spheroid). See spatial/geofence.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any
from uuid import UUID

import asyncpg
from geoalchemy2 import Geography
from geoalchemy2.shape import from_shape
from sqlalchemy import ColumnElement, cast, delete, func, literal_column, select, tuple_, update
from sqlalchemy.dialects.postgresql import UUID as UUID_TYPE
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries.merchants import RawJson
from app.queries.sql import Params, ewkt
from app.tables import merchant, offer
from spatial import Fence
from spatial.geometry import normalize_lng

o = offer


@dataclass(frozen=True, slots=True)
class OfferValues:
    """What an offer stores, validated and in WGS-84: the input of inserts and updates."""

    title: str
    description: str | None
    fence: Fence
    starts_at: datetime
    ends_at: datetime | None  # None: never ends
    quantity: int | None  # None: unlimited
    per_user_limit: int | None  # None: unlimited
    dwell_s: int = 300  # seconds inside the fence before fence.dwelled


# Slots, not frozen: see MerchantRow.
@dataclass(slots=True)
class OfferRow:
    id: UUID
    merchant_id: UUID
    owner_id: UUID  # the merchant's: who may change the offer
    title: str
    description: str | None
    geofence: dict[str, Any] | RawJson  # WGS-84; RawJson on the hot path
    starts_at: datetime
    ends_at: datetime | None
    quantity: int | None
    per_user_limit: int | None
    claimed: int
    redeemed: int
    created_at: datetime
    updated_at: datetime
    dwell_s: int


@dataclass(slots=True)
class OfferHit(OfferRow):
    """An offer whose fence covers the point, with a summary of its store."""

    merchant_name: str
    merchant_category: str
    merchant_address: str | None
    merchant_phone: str | None
    merchant_lat: float
    merchant_lng: float
    distance_m: float  # from the point to the store, geodesic on the WGS-84 spheroid


# OfferRow and OfferHit are the one definition of an offer as read: the SELECT lists below
# follow their fields, in their order (so a record unpacks straight into them), each the column
# of its name unless spelt here; a hit's columns are named after its fields (HIT_NAMES). Built
# once, at import.
#
# Written out: SQLAlchemy does not correlate a scalar subquery inside INSERT/UPDATE RETURNING.
_OWNER = literal_column(
    "(SELECT m.owner_id FROM merchant m WHERE m.id = offer.merchant_id)", UUID_TYPE
).label("owner_id")
_OFFER_COLUMNS = tuple(
    _OWNER if field.name == "owner_id" else o.c[field.name] for field in fields(OfferRow)
)

# What a hit reads beyond the offer's own columns; `{here}` is the point (geography), a scalar
# subquery computed once per execution (see queries.search._HERE).
_HIT_SQL = {
    "owner_id": "m.owner_id",
    "geofence": "o.geofence::text",  # RawJson
    "merchant_lat": "ST_Y(m.location::geometry)",
    "merchant_lng": "ST_X(m.location::geometry)",
    "distance_m": "ST_Distance(m.location, {here})",
}
_OFFER_FIELDS = frozenset(field.name for field in fields(OfferRow))
HIT_NAMES = tuple(field.name for field in fields(OfferHit))
_HIT_COLUMNS = ", ".join(
    (
        _HIT_SQL.get(name)
        or (f"o.{name}" if name in _OFFER_FIELDS else f"m.{name.removeprefix('merchant_')}")
    )
    + f" AS {name}"
    for name in HIT_NAMES
)


async def insert_offer(
    conn: AsyncConnection, *, merchant_id: UUID, values: OfferValues
) -> OfferRow:
    stmt = (
        pg_insert(o).values(merchant_id=merchant_id, **_stored(values)).returning(*_OFFER_COLUMNS)
    )
    row = (await conn.execute(stmt)).one()
    return OfferRow(**row._mapping)


async def update_offer(conn: AsyncConnection, *, offer_id: UUID, values: OfferValues) -> OfferRow:
    stmt = (
        update(o)
        .where(o.c.id == offer_id)
        .values(**_stored(values), updated_at=func.now())
        .returning(*_OFFER_COLUMNS)
    )
    row = (await conn.execute(stmt)).one()
    return OfferRow(**row._mapping)


async def offer_by_id(
    conn: AsyncConnection, *, offer_id: UUID, for_update: bool = False
) -> OfferRow | None:
    """One offer; `for_update` locks it against claims until the transaction ends."""
    stmt = select(*_OFFER_COLUMNS).where(o.c.id == offer_id)
    if for_update:
        stmt = stmt.with_for_update(of=o)
    row = (await conn.execute(stmt)).one_or_none()
    return OfferRow(**row._mapping) if row else None


async def delete_offer(conn: AsyncConnection, *, offer_id: UUID) -> bool:
    """Delete an offer with its codes, claim counts and stored claim responses."""
    result = await conn.execute(delete(o).where(o.c.id == offer_id))
    return bool(result.rowcount)


async def offers_of_merchant(
    conn: AsyncConnection,
    *,
    merchant_id: UUID,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[OfferRow]:
    """A merchant's offers, newest first (created_at, then id, descending), after `before`."""
    stmt = select(*_OFFER_COLUMNS).where(o.c.merchant_id == merchant_id)
    if before is not None:
        stmt = stmt.where(tuple_(o.c.created_at, o.c.id) < tuple_(*before))
    stmt = stmt.order_by(o.c.created_at.desc(), o.c.id.desc()).limit(limit)
    return [OfferRow(**row._mapping) for row in await conn.execute(stmt)]


async def merchant_ids(
    conn: AsyncConnection, *, owner_id: UUID, external_ids: Sequence[str]
) -> dict[str, UUID]:
    """The ids of an owner's merchants by external_id (those that exist)."""
    stmt = select(merchant.c.external_id, merchant.c.id).where(
        merchant.c.owner_id == owner_id, merchant.c.external_id.in_(list(external_ids))
    )
    return {row.external_id: row.id for row in await conn.execute(stmt)}


@dataclass(slots=True)
class Here:
    """What offers_here looks for: offers whose fence covers the WGS-84 point, active at `at`,
    with codes left, of stores in `categories` (any, if empty), `limit` of them after the
    (distance_m, id) `after`."""

    lat: float
    lng: float
    at: datetime
    categories: Sequence[str]
    limit: int
    after: tuple[float, UUID] | None = None


async def offers_here(conn: asyncpg.Connection, here: Here) -> list[OfferHit]:
    """The offers `here` asks for, nearest store first (ties by offer id)."""
    statement, values = here_statement(here)
    return [OfferHit(*row) for row in await conn.fetch(statement, *values)]


# The order of offers/here's hits (its ORDER BY distance_m, o.id): Python's UUID order is the
# database's (both compare the 16 bytes in order).
HIT_ORDER = attrgetter("distance_m", "id")


def here_statement(here: Here, first: int = 1) -> tuple[str, list[Any]]:
    """The SQL and parameters of `offers_here` (tests/test_offer_plans.py explains them), its
    placeholders numbered from `$first`: a statement of its own, or with `first` past the
    other's parameters, a part of another (the tracking read, queries/tracking.py). Its
    columns are OfferHit's, in order.

    Every covering offer is ranked, not walked nearest-first: a point lies in few fences, and
    ordering by distance to the store cannot use the fence index anyway.
    """
    # the point (geography), the instant
    sql = Params(ewkt(here.lat, here.lng), here.at, first=first)
    # scalar subqueries, computed once per execution (see queries.search._HERE)
    point, instant = f"${first}", f"${first + 1}"
    here_geography = f"(SELECT {point}::geography)"
    here_geometry = f"(SELECT {point}::geography::geometry)"
    where = [
        f"o.fence && {here_geometry}",
        f"""CASE WHEN o.radius_m IS NULL THEN ST_Covers(o.fence, {here_geometry})
                 ELSE ST_DWithin(o.center, {here_geography}, o.radius_m) END""",
        f"o.starts_at <= {instant} AND (o.ends_at IS NULL OR o.ends_at > {instant})",
        "(o.quantity IS NULL OR o.claimed < o.quantity)",
    ]
    if here.categories:
        where.append(f"m.category = ANY({sql.add(list(here.categories))}::text[])")
    if here.after is not None:
        where.append(
            f"(ST_Distance(m.location, {here_geography}), o.id)"
            f" > ({sql.add(here.after[0])}::float8, {sql.add(here.after[1])}::uuid)"
        )
    statement = f"""
        SELECT {_HIT_COLUMNS.format(here=here_geography)}
        FROM offer o JOIN merchant m ON m.id = o.merchant_id
        WHERE {" AND ".join(where)}
        ORDER BY distance_m, o.id
        LIMIT {sql.add(here.limit)}"""
    return statement, sql.values


def _stored(values: OfferValues) -> dict[str, Any]:
    circle = values.fence.circle
    return {
        "title": values.title,
        "description": values.description,
        "geofence": values.fence.geojson,
        "fence": from_shape(values.fence.shape, srid=4326),
        "center": _geography(circle.lat, circle.lng) if circle else None,
        "radius_m": circle.radius_m if circle else None,
        "starts_at": values.starts_at,
        "ends_at": values.ends_at,
        "quantity": values.quantity,
        "per_user_limit": values.per_user_limit,
        "dwell_s": values.dwell_s,
    }


def _geography(lat: float, lng: float) -> ColumnElement[Any]:
    point = func.ST_SetSRID(func.ST_MakePoint(normalize_lng(lng), lat), 4326)
    return cast(point, Geography("POINT", srid=4326))
