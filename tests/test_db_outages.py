"""Dead connections and an unreachable database, one mechanism at a time (tests/test_outage.py
shows them together, over HTTP, through real restarts).

A connection "dies" here the way a restart kills it: its backend is terminated by the server.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import DriverConnections, make_engine, read_retrying
from app.errors import RETRY_AFTER_S, database_unreachable
from app.main import create_app
from app.settings import Settings

# Nothing listens here (the range of tests/test_outage.py, a port it does not use).
NOWHERE = "postgresql://postgres@127.0.0.1:26049/nearby"


@pytest.fixture
async def own_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine of the test's own: these tests kill its connections."""
    engine = make_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connections(own_engine: AsyncEngine) -> AsyncIterator[DriverConnections]:
    connections = DriverConnections(own_engine, keep=4)
    yield connections
    await connections.close()


async def _terminate(database_url: str, pid: int) -> None:
    """End backend `pid` from another session, and wait until its client sees the socket close."""
    other = await asyncpg.connect(database_url)
    try:
        assert await other.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await other.close()


async def _wait_closed(conn: asyncpg.Connection) -> None:
    deadline = time.monotonic() + 5
    while not conn.is_closed():
        assert time.monotonic() < deadline, "the client never saw its connection close"
        await asyncio.sleep(0.01)


async def test_a_read_is_retried_once_on_another_connection_when_its_own_dies(
    connections: DriverConnections,
) -> None:
    pids: list[int] = []

    async def read(conn: asyncpg.Connection) -> int:
        pids.append(await conn.fetchval("SELECT pg_backend_pid()"))
        if len(pids) == 1:  # the first connection dies under the statement
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        answer: int = await conn.fetchval("SELECT 42")
        return answer

    assert await read_retrying(connections, read) == 42
    assert len(pids) == 2 and pids[0] != pids[1]


async def test_a_read_is_retried_only_once(connections: DriverConnections) -> None:
    attempts = 0

    async def read(conn: asyncpg.Connection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(Exception) as raised:
        await read_retrying(connections, read)
    assert database_unreachable(raised.value)
    assert attempts == 2


async def test_a_failing_statement_is_not_retried_and_keeps_its_connection(
    connections: DriverConnections,
) -> None:
    attempts = 0

    async def read(conn: asyncpg.Connection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.fetchval("SELECT 1 / 0")

    with pytest.raises(asyncpg.DivisionByZeroError):
        await read_retrying(connections, read)
    assert attempts == 1
    assert connections.idle == 1


async def test_a_write_is_not_retried_and_its_dead_connection_is_thrown_away(
    connections: DriverConnections,
) -> None:
    """The write path (`driver_connection`, as claims use it) is the bare context manager: one
    attempt, whose failure the client hears (it may have committed)."""
    async with connections() as conn:
        await conn.fetchval("SELECT 1")
    async with connections() as first, connections() as second:  # second goes back first
        dying = await first.fetchval("SELECT pg_backend_pid()")
        kept = {await second.fetchval("SELECT pg_backend_pid()")}
    assert connections.idle == 2
    attempts = 0
    with pytest.raises(Exception) as raised:
        async with connections() as conn:
            attempts += 1
            assert await conn.fetchval("SELECT pg_backend_pid()") == dying  # last in, first out
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    assert database_unreachable(raised.value) and attempts == 1
    assert connections.idle == 0  # its neighbour went too: after a restart it would be dead
    async with connections() as conn:
        assert await conn.fetchval("SELECT pg_backend_pid()") not in kept | {dying}


async def test_a_connection_the_server_closed_while_it_waited_is_replaced_without_an_error(
    connections: DriverConnections, database_url: str
) -> None:
    async with connections() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        waiting = conn
    await _terminate(database_url, pid)
    await _wait_closed(waiting)
    async with connections() as conn:
        assert await conn.fetchval("SELECT pg_backend_pid()") != pid


async def test_the_pool_replaces_a_closed_connection_at_checkout(
    own_engine: AsyncEngine, database_url: str
) -> None:
    """What ReadConn and Conn get: no pre-ping round trip, yet no dead connection."""
    async with own_engine.connect() as conn:
        waiting: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
        pid = await waiting.fetchval("SELECT pg_backend_pid()")
    await _terminate(database_url, pid)
    await _wait_closed(waiting)
    async with own_engine.connect() as conn:
        fresh: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
        assert await fresh.fetchval("SELECT pg_backend_pid()") != pid


@pytest.mark.parametrize(
    ("error", "unreachable"),
    [
        (ConnectionRefusedError(111, "Connection refused"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (TimeoutError(), True),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.AdminShutdownError("terminating connection"), True),
        (asyncpg.ConnectionDoesNotExistError("closed in the middle of operation"), True),
        (asyncpg.InterfaceError("connection is closed"), True),
        (DBAPIError("SELECT 1", None, ConnectionResetError(), connection_invalidated=True), True),
        (asyncpg.InterfaceError("cannot perform operation: another is in progress"), False),
        (asyncpg.UniqueViolationError("duplicate key"), False),
        (IntegrityError("INSERT", None, ValueError("duplicate key")), False),
        (PermissionError(13, "Permission denied"), False),
        (ValueError("not the database's"), False),
    ],
)
def test_database_unreachable_tells_outages_from_other_errors(
    error: BaseException, unreachable: bool
) -> None:
    assert database_unreachable(error) is unreachable


def test_database_unreachable_follows_explicit_chaining() -> None:
    try:
        try:
            raise asyncpg.CannotConnectNowError("the database system is shutting down")
        except asyncpg.CannotConnectNowError as cause:
            raise RuntimeError("adapted") from cause
    except RuntimeError as adapted:
        assert database_unreachable(adapted)


@pytest.fixture
async def cut_off() -> AsyncIterator[httpx.AsyncClient]:
    """The real app, started (its lifespan too) with a database that cannot be reached."""
    # No delivery loop: its own warnings about the missing database are not a request's.
    app = create_app(Settings(database_url=NOWHERE, admin_key="key", delivery=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/readyz", None),  # ReadConn
        ("GET", "/v1/search/nearby?lat=60.17&lng=24.94", None),  # driver_read
        ("GET", "/v1/offers/here?lat=60.17&lng=24.94", None),
        ("GET", "/v1/merchants/6f1e3c1e-0000-4000-8000-000000000000", None),
        ("POST", "/v1/merchants", {"name": "x", "lat": 60.1, "lng": 24.9}),  # Conn (auth)
        (
            "POST",
            "/v1/offers/6f1e3c1e-0000-4000-8000-000000000000/claims",  # driver_connection
            {"user_id": "u1", "lat": 60.1, "lng": 24.9},
        ),
    ],
)
async def test_an_unreachable_database_is_a_503_problem_logged_in_one_line(
    cut_off: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    body: Any,
) -> None:
    caplog.set_level(logging.WARNING, logger="nearby")
    caplog.clear()
    response = await cut_off.request(
        method, path, json=body, headers={"Authorization": "Bearer key"}
    )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(RETRY_AFTER_S)
    assert response.json() == {
        "type": "/problems/unavailable",
        "title": "Service unavailable",
        "status": 503,
        "detail": "The database cannot be reached just now; try again shortly",
    }
    assert [(r.levelname, r.exc_info) for r in caplog.records] == [("WARNING", None)]
    assert "the database is unreachable (ConnectionRefusedError" in caplog.records[0].message
