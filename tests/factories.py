"""Test data: owners, merchants and offers with readable defaults, inserted through the real
queries."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app import merchants
from app.merchants import prepare
from app.queries import merchants as merchants_sql
from app.queries import offers as offers_sql
from app.queries.merchants import MerchantRow
from app.queries.offers import OfferRow, OfferValues
from app.queries.owners import OwnerRow
from spatial import CoordSystem, Fence

_numbers = itertools.count(1)


async def create_owner(conn: AsyncConnection, name: str = "Test owner") -> tuple[OwnerRow, str]:
    """An owner and its API key."""
    return await merchants.create_owner(conn, name=name)


def bearer(key: str) -> dict[str, str]:
    """The headers that present an API key."""
    return {"Authorization": f"Bearer {key}"}


async def owner_with_headers(conn: AsyncConnection, name: str) -> tuple[UUID, dict[str, str]]:
    """A new owner's id and the headers of its key."""
    row, key = await create_owner(conn, name)
    return row.id, bearer(key)


async def insert_merchant(
    conn: AsyncConnection,
    owner_id: UUID,
    *,
    lat: float = 31.2304,
    lng: float = 121.4737,
    **fields: Any,
) -> MerchantRow:
    number = next(_numbers)
    values = {
        "external_id": f"T-{number:05d}",
        "name": f"Store {number}",
        "category": "coffee",
        "tags": [],
        "address": None,
        "phone": None,
        "lat": lat,
        "lng": lng,
        "coord": CoordSystem.WGS84,
        "timezone": "Asia/Shanghai",
        "opening_hours_text": None,
        "attributes": {},
    } | fields
    return await merchants_sql.insert_merchant(conn, owner_id=owner_id, values=prepare(**values))


async def insert_offer(
    conn: AsyncConnection,
    merchant_id: UUID,
    *,
    fence: Fence,
    starts_at: datetime = datetime(2026, 1, 1, tzinfo=UTC),
    **fields: Any,
) -> OfferRow:
    """An offer on a ready-made fence (spatial.circle_fence / polygon_fence), through the query."""
    values = {
        "title": "Test offer",
        "description": None,
        "fence": fence,
        "starts_at": starts_at,
        "ends_at": None,
        "quantity": None,
        "per_user_limit": 1,
    } | fields
    return await offers_sql.insert_offer(
        conn, merchant_id=merchant_id, values=OfferValues(**values)
    )
