"""Fixtures on a real PostGIS: one fresh, migrated database per run; one rolled-back transaction
per test.

The server comes from TEST_DATABASE_URL, else DATABASE_URL (`make test` provisions the
project's own). Without either the run fails: a database test that skips proves nothing.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import hypothesis
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import migrate
from app.db import get_conn, get_read_conn, make_engine
from app.main import create_app
from app.settings import Settings
from tests.browser import browser, new_page, page  # noqa: F401 (every module's chromium)

ADMIN_KEY = "test-admin-key"

# No per-example deadline: timing belongs in bench/. On a loaded CI machine the first example of
# a coordinate test (which builds the mainland outline) took 846 ms against Hypothesis's default
# 200 ms and failed a correct test.
hypothesis.settings.register_profile("nearby", deadline=None)
hypothesis.settings.load_profile("nearby")


def _shared_data() -> Path:
    """../shared/data: from NEARBY_SHARED_DATA, else beside any parent of the checkout (a CI
    clone may live elsewhere), else the workplace's /work/shared/data."""
    if "NEARBY_SHARED_DATA" in os.environ:
        return Path(os.environ["NEARBY_SHARED_DATA"])
    candidates = [parent / "shared" / "data" for parent in Path(__file__).resolve().parents]
    candidates.append(Path("/work/shared/data"))
    return next((c for c in candidates if (c / "README.md").exists()), candidates[0])


SHARED_DATA = _shared_data()


def server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        pytest.fail(
            "No database: set TEST_DATABASE_URL or DATABASE_URL, or run `make test`, "
            "which provisions the project's own PostGIS.",
            pytrace=False,
        )
    return url


def database_url_for(server: str, name: str) -> str:
    scheme, _, rest = server.partition("://")
    host, _, _ = rest.rpartition("/")
    return f"postgresql://{host}/{name}"


async def create_database(server: str, name: str) -> None:
    await _on_server(server, f'CREATE DATABASE "{name}"')


async def drop_database(server: str, name: str) -> None:
    await _on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def own_database(prefix: str) -> Iterator[str]:
    """A new, empty database on the test server, named `prefix` and a random suffix, dropped
    afterwards (with whatever still holds it); its URL."""
    server, name = server_url(), f"{prefix}_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database(server, name))
    try:
        yield database_url_for(server, name)
    finally:
        asyncio.run(drop_database(server, name))


async def _on_server(server: str, statement: str) -> None:
    conn = await asyncpg.connect(database_url_for(server, "postgres"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A new database on the test server, migrated to head by Alembic; dropped afterwards."""
    server = server_url()
    name = f"nearby_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(create_database(server, name))
    url = database_url_for(server, name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        asyncio.run(drop_database(server, name))


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, admin_key=ADMIN_KEY)


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
async def driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under `conn` (what the search queries take), same transaction."""
    return (await conn.get_raw_connection()).driver_connection


@pytest.fixture
def app(settings: Settings, conn: AsyncConnection, driver: Any) -> FastAPI:
    """The real app, its database dependencies bound to the test's transaction."""
    app = create_app(settings)

    async def in_savepoint() -> AsyncIterator[AsyncConnection]:
        async with conn.begin_nested():
            yield conn

    async def same_conn() -> AsyncIterator[AsyncConnection]:
        yield conn

    app.dependency_overrides[get_conn] = in_savepoint
    app.dependency_overrides[get_read_conn] = same_conn
    app.state.driver_connector = lambda: nullcontext(driver)
    app.state.core_connector = lambda: nullcontext(conn)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its own engine and pool (no overrides): what it writes is committed.

    For tests of real transactions and concurrency; they clean up what they create.
    """
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, the real store lists used in place (they may not be copied here)."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.fail(f"The shared data sets are not at {SHARED_DATA}; set NEARBY_SHARED_DATA.")
    return SHARED_DATA


# How long the schemathesis run took (server start included), said at the end of every run that
# has it: it is the one test bounded by time (see MAX_EXAMPLES in tests/test_schemathesis.py).
_SCHEMATHESIS = "tests/test_schemathesis.py"
_schemathesis_seconds: list[float] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid.startswith(_SCHEMATHESIS):
        _schemathesis_seconds.append(report.duration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _schemathesis_seconds:
        terminalreporter.write_line(
            f"schemathesis: {sum(_schemathesis_seconds):.0f} s"
            f" (server start, both credentials, every operation)"
        )
