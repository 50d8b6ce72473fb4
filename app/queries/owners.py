"""SQL of owners: brand or business accounts, found by the hash of their API key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy import exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.tables import owner


@dataclass(frozen=True, slots=True)
class OwnerRow:
    id: UUID
    name: str
    created_at: datetime


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


async def owner_id_by_key_hash(conn: asyncpg.Connection, *, api_key_hash: bytes) -> UUID | None:
    """The same look-up on the driver, for routes that run on it (claims)."""
    owner_id: UUID | None = await conn.fetchval(
        "SELECT id FROM owner WHERE api_key_hash = $1", api_key_hash
    )
    return owner_id
