"""SQL about the database itself."""

from __future__ import annotations

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def schema_revision(conn: AsyncConnection) -> str | None:
    """The migration revision the database is at, or None if it was never migrated."""
    if not await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL")):
        return None
    revision: str | None = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    return revision


# How far a streaming replica's data is behind its primary, in seconds, measured on the replica.
# Nothing received and not yet replayed is lag 0 (an idle primary leaves the last replayed
# transaction's time far behind, yet the replica has everything; after a restart that time is
# unknown, and replay may stand past where the new WAL receiver started), but only while the
# WAL receiver runs: a replica cut off from its primary has replayed all it received and is
# stale all the same. Not a replica at all (promoted, say): lag 0. NULL: unknown.
_REPLICATION_LAG = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0.0
    WHEN EXISTS (SELECT FROM pg_stat_wal_receiver)
         AND pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0.0
    ELSE greatest(0.0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::float8
END"""


async def replication_lag(conn: asyncpg.Connection, *, timeout_s: float) -> float | None:
    """Seconds the replica behind `conn` lags its primary (None: it cannot tell yet)."""
    lag: float | None = await conn.fetchval(_REPLICATION_LAG, timeout=timeout_s)
    return lag
