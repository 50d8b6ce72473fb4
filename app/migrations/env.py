"""Alembic environment: runs the migrations over asyncpg.

The connection string comes from the config's `database_url` attribute (set by app.migrate) or
else from Settings (the `alembic` command by hand); app/postgres.py reads it, as for the service.
"""

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection

from app.db import engine_for
from app.migrate import CONNECT_TIMEOUT_S
from app.postgres import Target
from app.settings import Settings
from app.tables import metadata

config = context.config


def run_with(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    url = config.attributes.get("database_url") or Settings().database_url
    engine = engine_for(
        Target.parse(url), connect_timeout_s=CONNECT_TIMEOUT_S, poolclass=pool.NullPool
    )
    try:
        async with engine.connect() as conn:
            await conn.run_sync(run_with)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run them against a database")
asyncio.run(run_async())
