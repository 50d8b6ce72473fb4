"""The one way to reach the database: an async SQLAlchemy engine on asyncpg.

Handlers get a connection through
- `Conn`: one transaction per request, committed before the response is sent;
- `ReadConn`: a pooled connection for handlers that only read (its SQLAlchemy statements open a
  transaction that is rolled back when it returns to the pool);
- `SearchConn`: the asyncpg connection under a pooled one, for the search queries, which are
  SQL text on the hot path (see queries.py). No BEGIN, no SQLAlchemy Connection around it.
All three come from the one engine and its one pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
import orjson
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from app.settings import Settings


def make_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.async_database_url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_overflow,
        pool_pre_ping=False,
        pool_recycle=3600,
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
        # One plan per statement, made once: the search statements rely on the generic plan's
        # index choice (see the first migration), and no request pays for planning.
        connect_args={"server_settings": {"plan_cache_mode": "force_generic_plan"}},
    )


async def get_conn(request: Request) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction that commits when the handler returns normally."""
    engine: AsyncEngine = request.app.state.engine
    async with engine.begin() as conn:
        yield conn


async def get_read_conn(request: Request) -> AsyncIterator[AsyncConnection]:
    """A pooled connection for handlers that only read.

    Not an AUTOCOMMIT connection: switching the isolation level on every checkout measured
    110 us a request, a tenth of a nearby search.
    """
    engine: AsyncEngine = request.app.state.engine
    async with engine.connect() as conn:
        yield conn


async def get_search_conn(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection of a raw pool checkout.

    Cheaper than building a SQLAlchemy Connection (about 70 us a request, measured, out of a
    sparse nearby search's 650 us). Search SQL never opens a transaction on it.
    """
    engine: AsyncEngine = request.app.state.engine
    pooled = await engine.raw_connection()
    try:
        yield pooled.driver_connection
    finally:
        await greenlet_spawn(pooled.close)


# scope="function": the dependency closes (and commits) before the response goes out, so a
# client never sees 201 for a write that then fails to commit.
Conn = Annotated[AsyncConnection, Depends(get_conn, scope="function")]
ReadConn = Annotated[AsyncConnection, Depends(get_read_conn, scope="function")]
SearchConn = Annotated[asyncpg.Connection, Depends(get_search_conn, scope="function")]
