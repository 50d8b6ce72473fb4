"""The one way to reach the database: an async SQLAlchemy engine on asyncpg.

Handlers get a connection through
- `Conn`: one transaction per request, committed before the response is sent;
- `ReadConn`: a pooled connection for handlers that only read (its SQLAlchemy statements open a
  transaction that is rolled back when it returns to the pool);
- `driver_connection(request)`: the asyncpg connection under a pooled one, for the hot paths
  (the searches, offers here, claims), whose statements are SQL text. No BEGIN, no SQLAlchemy
  Connection around it, and no `Depends`: handlers open it with `async with`.
All three come from the one engine and its one pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
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


DriverConnector = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


def driver_connector(engine: AsyncEngine) -> DriverConnector:
    """Checkouts of the asyncpg connection under a raw pooled one (create_app keeps one of these
    in `app.state.driver_connector`; tests put the connection of their transaction there).

    Cheaper than building a SQLAlchemy Connection (about 70 us a request, measured, out of a
    sparse nearby search's 650 us). Its users never open a transaction on it.
    """

    @asynccontextmanager
    async def connect() -> AsyncIterator[asyncpg.Connection]:
        pooled = await engine.raw_connection()
        try:
            yield pooled.driver_connection
        finally:
            # No transaction on it, so no I/O here: a cancelled request returns it all the
            # same (tests/test_live_app.py).
            await greenlet_spawn(pooled.close)

    return connect


def driver_connection(request: Request) -> AbstractAsyncContextManager[asyncpg.Connection]:
    """`async with driver_connection(request) as conn:` in a hot handler.

    Not a dependency: FastAPI's machinery for a dependency with clean-up (an exit stack, a
    shielded exit, the solving itself) measured about 0.2 ms of CPU a request, a third of a
    sparse nearby search, where the bare baseline pays none of it.
    """
    connect: DriverConnector = request.app.state.driver_connector
    return connect()


# scope="function": the dependency closes (and commits) before the response goes out, so a
# client never sees 201 for a write that then fails to commit.
Conn = Annotated[AsyncConnection, Depends(get_conn, scope="function")]
ReadConn = Annotated[AsyncConnection, Depends(get_read_conn, scope="function")]
