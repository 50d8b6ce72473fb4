"""Test data: owners and merchants with readable defaults, inserted through the real queries."""

from __future__ import annotations

import itertools
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app import owners, queries
from app.merchants import prepare
from app.queries import MerchantRow, OwnerRow
from spatial import CoordSystem

_numbers = itertools.count(1)


async def create_owner(conn: AsyncConnection, name: str = "Test owner") -> tuple[OwnerRow, str]:
    """An owner and its API key."""
    return await owners.create(conn, name=name)


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
    return await queries.insert_merchant(conn, owner_id=owner_id, values=prepare(**values))
