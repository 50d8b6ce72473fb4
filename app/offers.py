"""Offer use cases: create, read, edit and remove a store's geofenced offers, list them for
their owner, and find the offers whose fence covers a point.

Fences come in any coordinate system and are stored in WGS-84 (spatial/geofence.py has their
semantics). A null geofence is a 500 m circle around the store where it is when the offer is
made or the fence is set; it does not follow the store if the store moves later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from app import cursor, merchants
from app.auth import Principal
from app.errors import Forbidden, InvalidInput, NotFound
from app.queries import merchants as merchants_sql
from app.queries import offers as offers_sql
from app.queries.merchants import MerchantRow
from app.queries.offers import Here, OfferHit, OfferRow, OfferValues
from app.schemas.offers import (
    CircleFence,
    MultiPolygonFence,
    OfferIn,
    OfferPatch,
    OfferStatus,
    PolygonFence,
)
from spatial import (
    DEFAULT_RADIUS_M,
    CoordSystem,
    Fence,
    FenceError,
    circle_fence,
    polygon_fence,
    stored_fence,
    to_wgs84,
)

GeofenceIn = CircleFence | PolygonFence | MultiPolygonFence


@dataclass(frozen=True)
class HereResult:
    hits: list[OfferHit]
    at: datetime
    next_cursor: str | None


def status(row: OfferRow, at: datetime) -> OfferStatus:
    """How the offer stands at `at`: scheduled, ended, sold out or active, in that precedence."""
    if at < row.starts_at:
        return "scheduled"
    if row.ends_at is not None and at >= row.ends_at:
        return "ended"
    if row.quantity is not None and row.claimed >= row.quantity:
        return "sold_out"
    return "active"


async def create(
    conn: AsyncConnection, *, principal: Principal, merchant_id: UUID, body: OfferIn
) -> OfferRow:
    store = await merchants.writable(conn, principal, merchant_id, for_update=False)
    starts_at = body.starts_at or datetime.now(UTC)
    values = OfferValues(
        title=body.title,
        description=body.description,
        fence=_fence(body.geofence, body.coord, store),
        starts_at=starts_at,
        ends_at=_checked_end(starts_at, body.ends_at),
        quantity=body.quantity,
        per_user_limit=body.per_user_limit,
        dwell_s=body.dwell_s,
    )
    return await offers_sql.insert_offer(conn, merchant_id=merchant_id, values=values)


async def get(conn: AsyncConnection, *, offer_id: UUID) -> OfferRow:
    row = await offers_sql.offer_by_id(conn, offer_id=offer_id)
    if row is None:
        raise NotFound(f"There is no offer {offer_id}")
    return row


async def edit(
    conn: AsyncConnection, *, principal: Principal, offer_id: UUID, patch: OfferPatch
) -> OfferRow:
    """Change the fields given. The offer stays locked against claims until the commit, so a
    lowered quantity is checked against the codes already handed out."""
    current = await _writable(conn, principal, offer_id)
    given = patch.model_fields_set - {"coord"}
    if "title" in given and patch.title is None:
        raise InvalidInput.at(["body", "title"], "may not be null")
    if "geofence" in given:
        store = await merchants_sql.merchant_by_id(conn, merchant_id=current.merchant_id)
        assert store is not None  # the offer's foreign key
        fence = _fence(patch.geofence, patch.coord, store)
    else:
        assert isinstance(current.geofence, dict)
        fence = stored_fence(current.geofence)
    starts_at = current.starts_at
    if "starts_at" in given:
        starts_at = patch.starts_at or datetime.now(UTC)
    quantity = patch.quantity if "quantity" in given else current.quantity
    if quantity is not None and quantity < current.claimed:
        raise InvalidInput.at(
            ["body", "quantity"], f"may not be below the {current.claimed} codes already claimed"
        )
    values = OfferValues(
        title=patch.title if patch.title is not None else current.title,
        description=patch.description if "description" in given else current.description,
        fence=fence,
        starts_at=starts_at,
        ends_at=_checked_end(starts_at, patch.ends_at if "ends_at" in given else current.ends_at),
        quantity=quantity,
        per_user_limit=(
            patch.per_user_limit if "per_user_limit" in given else current.per_user_limit
        ),
        dwell_s=patch.dwell_s if patch.dwell_s is not None else current.dwell_s,
    )
    return await offers_sql.update_offer(conn, offer_id=offer_id, values=values)


async def remove(conn: AsyncConnection, *, principal: Principal, offer_id: UUID) -> None:
    """Delete the offer and its codes: they can no longer be redeemed. To stop an offer but
    honour its codes, set ends_at instead."""
    await _writable(conn, principal, offer_id)
    await offers_sql.delete_offer(conn, offer_id=offer_id)


async def list_of_merchant(
    conn: AsyncConnection,
    *,
    principal: Principal,
    merchant_id: UUID,
    after_cursor: str | None,
    limit: int,
) -> tuple[list[OfferRow], str | None]:
    """A page of a merchant's offers, newest first, for its owner; and the next page's cursor."""
    await merchants.writable(conn, principal, merchant_id, for_update=False)
    query = cursor.fingerprint("offers", str(merchant_id))
    before = None
    if after_cursor is not None:
        before = cursor.read(after_cursor, query, datetime.fromisoformat, UUID)
    rows = await offers_sql.offers_of_merchant(
        conn, merchant_id=merchant_id, before=before, limit=limit + 1
    )
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], cursor.encode([last.created_at.isoformat(), str(last.id)], query)


async def here(
    conn: asyncpg.Connection,
    *,
    lat: float,
    lng: float,
    coord: CoordSystem,
    at: datetime | None,
    categories: list[str],
    limit: int,
    after_cursor: str | None,
) -> HereResult:
    """Every offer whose fence covers the point, active at `at` (default now) with codes left,
    nearest store first (ties by offer id), page by page."""

    def query() -> str:  # only needed with a cursor in or out
        instant = at.isoformat() if at else None
        return cursor.fingerprint("offers-here", lat, lng, coord.value, instant, sorted(categories))

    after = cursor.read(after_cursor, query(), float, UUID) if after_cursor is not None else None
    wgs_lat, wgs_lng = to_wgs84(lat, lng, coord)
    instant = at or datetime.now(UTC)
    hits = await offers_sql.offers_here(
        conn,
        Here(
            lat=wgs_lat,
            lng=wgs_lng,
            at=instant,
            categories=categories,
            limit=limit + 1,
            after=after,
        ),
    )
    if len(hits) <= limit:
        return HereResult(hits, instant, None)
    last = hits[limit - 1]
    return HereResult(
        hits[:limit], instant, cursor.encode([last.distance_m, str(last.id)], query())
    )


def _fence(geofence: GeofenceIn | None, coord: CoordSystem, store: MerchantRow) -> Fence:
    try:
        if geofence is None:
            return circle_fence(store.lat, store.lng, DEFAULT_RADIUS_M)
        if isinstance(geofence, CircleFence):
            lat, lng = to_wgs84(geofence.center.lat, geofence.center.lng, coord)
            return circle_fence(lat, lng, geofence.radius_m)
        return polygon_fence(geofence.type, geofence.coordinates, coord)
    except FenceError as exc:
        raise InvalidInput.at(["body", "geofence", *exc.loc], exc.msg) from None


def _checked_end(starts_at: datetime, ends_at: datetime | None) -> datetime | None:
    if ends_at is not None and ends_at <= starts_at:
        raise InvalidInput.at(
            ["body", "ends_at"],
            f"must be after starts_at ({starts_at.isoformat()}): the window is"
            " [starts_at, ends_at)",
        )
    return ends_at


async def _writable(conn: AsyncConnection, principal: Principal, offer_id: UUID) -> OfferRow:
    row = await offers_sql.offer_by_id(conn, offer_id=offer_id, for_update=True)
    if row is None:
        raise NotFound(f"There is no offer {offer_id}")
    if not principal.may_write(row.owner_id):
        raise Forbidden("This offer belongs to another owner's merchant")
    return row
