"""SQL of apps: creating and revoking them (SQLAlchemy Core, like the other admin writes), and
finding a live one by the hash of its key or by id (asyncpg: the claim path asks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.tables import app


@dataclass(frozen=True, slots=True)
class AppRow:
    id: UUID
    name: str
    created_at: datetime


async def insert_app(
    conn: AsyncConnection, *, name: str, app_key_hash: bytes, signing_secret: str
) -> AppRow:
    stmt = (
        insert(app)
        .values(name=name, app_key_hash=app_key_hash, signing_secret=signing_secret)
        .returning(app.c.id, app.c.name, app.c.created_at)
    )
    row = (await conn.execute(stmt)).one()
    return AppRow(**row._mapping)


async def revoke_app(conn: AsyncConnection, *, app_id: UUID) -> bool:
    """Revoke a live app and forget its signing secret; False if there is no live app `app_id`."""
    stmt = (
        update(app)
        .where(app.c.id == app_id, app.c.revoked_at.is_(None))
        .values(revoked_at=func.now(), signing_secret=None)
        .returning(app.c.id)
    )
    return (await conn.execute(stmt)).one_or_none() is not None


async def live_app_by_key_hash(conn: asyncpg.Connection, *, app_key_hash: bytes) -> UUID | None:
    app_id: UUID | None = await conn.fetchval(
        "SELECT id FROM app WHERE app_key_hash = $1 AND revoked_at IS NULL", app_key_hash
    )
    return app_id


async def live_app_secret(conn: asyncpg.Connection, *, app_id: UUID) -> str | None:
    """The stored (maybe sealed) signing secret of a live app."""
    secret: str | None = await conn.fetchval(
        "SELECT signing_secret FROM app WHERE id = $1 AND revoked_at IS NULL", app_id
    )
    return secret


async def live_app_by_name(conn: AsyncConnection, *, name: str) -> UUID | None:
    """The oldest live app of that name (names are not unique; the demo finds its app so)."""
    stmt = (
        select(app.c.id)
        .where(app.c.name == name, app.c.revoked_at.is_(None))
        .order_by(app.c.created_at, app.c.id)
        .limit(1)
    )
    app_id: UUID | None = await conn.scalar(stmt)
    return app_id


async def set_app_credentials(
    conn: AsyncConnection, *, app_id: UUID, app_key_hash: bytes, signing_secret: str
) -> AppRow:
    stmt = (
        update(app)
        .where(app.c.id == app_id)
        .values(app_key_hash=app_key_hash, signing_secret=signing_secret)
        .returning(app.c.id, app.c.name, app.c.created_at)
    )
    row = (await conn.execute(stmt)).one()
    return AppRow(**row._mapping)
