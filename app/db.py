"""The one way to reach the database: an async SQLAlchemy engine on asyncpg.

Handlers get a connection through
- `Conn`: one transaction per request, committed before the response is sent;
- `ReadConn`: a pooled connection for handlers that only read (its SQLAlchemy statements open a
  transaction that is rolled back when it returns to the pool);
- `driver_connection(request)`: the asyncpg connection under a pooled one, for the hot paths
  (the searches, offers here, claims), whose statements are SQL text. No BEGIN, no SQLAlchemy
  Connection around it, and no `Depends`: handlers open it with `async with`. Between hot
  requests these connections wait checked out, in `DriverConnections`.
- `driver_read(request, work)`: the same for a read, tried once more on another connection if the
  first one turns out dead.
All three come from the one engine and its one pool.

The raw connections under them are handled here only: `driver_of` (the asyncpg connection in a
SQLAlchemy connection's transaction, for COPY), `discarded_on_error` and `give_back` (a raw
pooled connection kept for a session of its own, as the import runner's advisory lock), and
`constraint_errors`, which turns the driver's constraint violations into domain errors.

After a database restart every connection made before it is dead. None is pinged (that is a
round trip per checkout); a connection whose socket the server closed is seen as closed without
I/O and thrown away when taken (`_discard_closed`, `DriverConnections`), and one that fails with
a lost connection is thrown away with every other hot connection waiting beside it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import asyncpg
import orjson
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from app.errors import DomainError, database_unreachable
from app.postgres import Target
from app.settings import Settings

if TYPE_CHECKING:
    from app.replicas import Replicas

RECYCLE_S = 3600  # a connection older than this is replaced
T = TypeVar("T")


# Every connection of the service's: one plan per statement, made once. The search statements
# rely on the generic plan's index choice (see the first migration), and no request pays for
# planning. No JIT: it compiles at every execution of a plan whose estimate passes
# jit_above_cost, and the generic plan of tracking's read (a polygon's edge cut into pieces per
# candidate fence, estimated at thousands of rows) passed it: 2.8 s of compiling for a 20 ms
# statement. Requests here are short; JIT pays off only for long analytical queries.
SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan", "jit": "off"}


def make_engine(settings: Settings, target: Target | None = None) -> AsyncEngine:
    """The service's engine and pool, on DATABASE_URL's database unless given another."""
    return engine_for(
        target or settings.database,
        connect_timeout_s=settings.db_connect_timeout_s,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_overflow,
        pool_pre_ping=False,
        pool_recycle=RECYCLE_S,
    )


def engine_for(target: Target, *, connect_timeout_s: float, **options: Any) -> AsyncEngine:
    """An engine whose connections `target` makes (app/postgres.py reads the connection
    string; SQLAlchemy's URL would hand libpq's parameters to asyncpg as keyword arguments)."""

    async def connect() -> asyncpg.Connection:
        return await target.connect(timeout_s=connect_timeout_s, server_settings=SERVER_SETTINGS)

    engine = create_async_engine(
        "postgresql+asyncpg://",
        async_creator=connect,
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
        **options,
    )
    event.listen(engine.sync_engine.pool, "checkout", _discard_closed)
    return engine


def _discard_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Refuse a pooled connection whose socket is closed: the pool replaces it with a new one
    (or raises the connect error). No round trip, unlike pool_pre_ping."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the database closed this connection while it was idle")


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


class DriverConnections:
    """The asyncpg connections under raw pooled ones, for the hot paths (`driver_connection`).

    create_app keeps one in `app.state.driver_connector`; tests put the connection of their
    transaction there instead. Its users never open a transaction on a connection.

    A connection that a hot request gives back stays checked out of the engine's pool, on a
    stack here, for the next hot request. SQLAlchemy's pool checks out and in inside greenlets,
    and greenlet switches from deep in the ASGI stack cost: with 16 requests in flight, a
    checkout, `SELECT 1` and check-in took 130 us of CPU through the pool and 42 us through this
    stack (asyncpg's own pool: 93 us). At most `keep` wait here; the rest of the pool and its
    overflow serve SQLAlchemy. A connection goes back to the engine once older than
    `recycle_s`, and is invalidated if it is closed or was left inside a transaction.
    """

    def __init__(self, engine: AsyncEngine, *, keep: int, recycle_s: float = RECYCLE_S) -> None:
        self._engine = engine
        self._keep = keep
        self._recycle_s = recycle_s
        self._idle: list[tuple[PoolProxiedConnection, float]] = []  # and when checked out

    @property
    def idle(self) -> int:
        return len(self._idle)

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[asyncpg.Connection]:
        pooled, since = await self._take()
        driver: asyncpg.Connection = pooled.driver_connection
        lost = False
        try:
            yield driver
        except BaseException as exc:
            lost = database_unreachable(exc)
            raise
        finally:
            # No I/O on the way back unless the connection is done for: a cancelled request
            # returns it all the same (tests/test_live_app.py).
            if (
                not lost
                and len(self._idle) < self._keep
                and time.monotonic() - since < self._recycle_s
                and _reusable(driver)
            ):
                self._idle.append((pooled, since))
            else:
                await give_back(pooled, broken=lost)
                if lost:  # its neighbours most likely died with it (a restart)
                    await self._discard_idle()

    async def close(self) -> None:
        """Give every waiting connection back to the engine (before disposing of it)."""
        while self._idle:
            pooled, _ = self._idle.pop()
            await give_back(pooled)

    async def _take(self) -> tuple[PoolProxiedConnection, float]:
        """A waiting connection the server has not closed, else a new checkout."""
        while self._idle:
            pooled, since = self._idle.pop()
            waited: asyncpg.Connection = pooled.driver_connection
            if not waited.is_closed():
                return pooled, since
            await give_back(pooled, broken=True)
        return await self._engine.raw_connection(), time.monotonic()

    async def _discard_idle(self) -> None:
        while self._idle:
            pooled, _ = self._idle.pop()
            await give_back(pooled, broken=True)


async def give_back(pooled: PoolProxiedConnection, *, broken: bool = False) -> None:
    """Return a raw pooled connection to the engine's pool; invalidate it instead (its session
    ends) if it is `broken`, closed, or was left inside a transaction."""
    if broken or not _reusable(pooled.driver_connection):
        await greenlet_spawn(pooled.invalidate)
    else:
        await greenlet_spawn(pooled.close)


def _reusable(driver: asyncpg.Connection) -> bool:
    return not (driver.is_closed() or driver.is_in_transaction())


@asynccontextmanager
async def discarded_on_error(pooled: PoolProxiedConnection) -> AsyncIterator[asyncpg.Connection]:
    """The asyncpg connection of a raw pooled one; an error inside invalidates the connection,
    so whatever its session held (locks, a half-done statement) ends with it."""
    try:
        yield pooled.driver_connection
    except BaseException:
        await give_back(pooled, broken=True)
        raise


async def driver_of(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a SQLAlchemy one, inside its transaction."""
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


class constraint_errors:  # noqa: N801 (used as a context manager, like contextlib's)
    """`with constraint_errors({"uq_x": make_error}, subject):` turns the driver's violation of a
    named constraint (through SQLAlchemy or straight from asyncpg) into the domain error that
    `make_error(subject)` returns; any other error passes through. The one place that reads
    constraint names off database errors. A class, not a generator, and the mapping a module
    constant: claims pass through it on the hot path (0.3 us).
    """

    __slots__ = ("_errors", "_subject")

    def __init__(self, errors: Mapping[str, Callable[[Any], DomainError]], subject: Any) -> None:
        self._errors = errors
        self._subject = subject

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        driver_error = exc.orig.__cause__ if isinstance(exc, IntegrityError) and exc.orig else exc
        if isinstance(driver_error, asyncpg.IntegrityConstraintViolationError):
            make_error = self._errors.get(driver_error.constraint_name or "")
            if make_error is not None:
                raise make_error(self._subject) from None


def driver_connection(request: Request) -> AbstractAsyncContextManager[asyncpg.Connection]:
    """`async with driver_connection(request) as conn:` in a hot handler.

    Not a dependency: FastAPI's machinery for a dependency with clean-up (an exit stack, a
    shielded exit, the solving itself) measured about 0.2 ms of CPU a request, a third of a
    sparse nearby search, where the bare baseline pays none of it.
    """
    connect: DriverConnector = request.app.state.driver_connector
    return connect()


async def driver_read(request: Request, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """`await driver_read(request, lambda conn: ...)`: a hot public read (the searches, offers
    here), on a read replica when there are any (`public_read`), else on the primary (see
    `read_retrying`)."""
    replicas: Replicas | None = request.app.state.replicas
    if replicas is None:
        return await read_retrying(request.app.state.driver_connector, work)
    if _may_follow_a_write(request):
        result = await read_retrying(request.app.state.driver_connector, work)
        replicas.served_by_primary()
        return result
    return await replicas.read(work, request.app.state.driver_connector)


async def public_read(request: Request, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """`await public_read(request, lambda conn: ...)`: a public look-up through SQLAlchemy (GET
    a merchant or an offer by id), routed like `driver_read`.

    Read-your-writes: a request that carries a credential (an `Authorization` header, whatever
    kind) is read on the primary, so whoever writes reads back what they wrote, in any process
    and on any replica, with nothing to remember between requests. Anonymous public reads (what
    end users' devices send) go to the replicas and may be up to NEARBY_REPLICA_MAX_LAG_S old.
    """
    connect: Callable[[], AbstractAsyncContextManager[AsyncConnection]] = (
        request.app.state.core_connector
    )
    replicas: Replicas | None = request.app.state.replicas
    if replicas is not None and not _may_follow_a_write(request):
        return await replicas.read_core(work, connect)
    async with connect() as conn:
        result = await work(conn)
    if replicas is not None:
        replicas.served_by_primary()
    return result


def _may_follow_a_write(request: Request) -> bool:
    return "authorization" in request.headers


async def read_retrying(
    connect: DriverConnector, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """`work` on a connection of `connect`, once more on another when the database dropped the
    first (dead since a restart, say); an unreachable database raises the second error.

    Only for reads: a write that failed this way may have committed before the connection went,
    so claims open `driver_connection` and let the client retry with its idempotency key.
    """
    try:
        async with connect() as conn:
            return await work(conn)
    except Exception as exc:
        if not database_unreachable(exc):
            raise
    async with connect() as conn:
        return await work(conn)


# scope="function": the dependency closes (and commits) before the response goes out, so a
# client never sees 201 for a write that then fails to commit.
Conn = Annotated[AsyncConnection, Depends(get_conn, scope="function")]
ReadConn = Annotated[AsyncConnection, Depends(get_read_conn, scope="function")]
