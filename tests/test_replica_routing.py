"""The choice among replicas and the way back to the primary (app/replicas.py), one mechanism at
a time, on the test server. A "replica" here is the test database itself (not in recovery: lag
0) or an address where nothing listens; tests/test_replicas.py has real standbys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from pydantic import ValidationError

from app.db import DriverConnections, make_engine
from app.metrics import Metrics
from app.replicas import Replicas, replica_name
from app.settings import Settings

# Nothing listens here (a port of this file's range, 27600-27699, that tests/test_replicas.py
# leaves alone: it takes the first free ones).
NOWHERE = "postgresql://postgres@127.0.0.1:27699/nearby"


@asynccontextmanager
async def replicas_of(settings: Settings, *urls: str) -> AsyncIterator[Replicas]:
    metrics = Metrics()
    replicas = Replicas(settings.model_copy(update={"replica_urls": ",".join(urls)}), metrics)
    METRICS[replicas] = metrics
    try:
        yield replicas
    finally:
        await replicas.close()
        del METRICS[replicas]


@pytest.fixture
async def primary(settings: Settings) -> AsyncIterator[DriverConnections]:
    engine = make_engine(settings)
    connections = DriverConnections(engine, keep=2)
    yield connections
    await connections.close()
    await engine.dispose()


async def _port(conn: asyncpg.Connection) -> str:
    """Which database answered: the "replicas" here are other databases of the test server."""
    value: str = await conn.fetchval("SELECT current_database()")
    return value


def _other(settings: Settings, database: str) -> str:
    """The URL of `database` on the test server."""
    return settings.database_url.rpartition("/")[0] + "/" + database


@pytest.fixture
def primary_db(settings: Settings) -> str:
    return settings.database_url.rpartition("/")[2]


def _served(replicas: Replicas, pool: str, server: str) -> float | None:
    """nearby_db_reads_total{pool, server} of the registry `replicas` count in."""
    registry = METRICS[replicas].registry
    value: float | None = registry.get_sample_value(
        "nearby_db_reads_total", {"pool": pool, "server": server}
    )
    return value


METRICS: dict[Replicas, Metrics] = {}


async def test_healthy_replicas_take_reads_in_turn(
    settings: Settings, primary: DriverConnections, primary_db: str
) -> None:
    one, two = _other(settings, "postgres"), _other(settings, "template1")
    async with replicas_of(settings, one, two) as replicas:
        assert [r.healthy for r in replicas.replicas] == [False, False]  # before a check
        assert await replicas.read(_port, primary) == primary_db  # so: the primary
        await replicas.check()
        assert [r.healthy for r in replicas.replicas] == [True, True]
        assert [r.lag_s for r in replicas.replicas] == [0.0, 0.0]  # not in recovery
        answers = [await replicas.read(_port, primary) for _ in range(6)]
        assert sorted(answers) == ["postgres"] * 3 + ["template1"] * 3
        assert answers[0::2] == [answers[0]] * 3  # alternating
        assert _served(replicas, "primary", "primary") == 1
        assert _served(replicas, "replica", replicas.replicas[0].name) == 3
        assert _served(replicas, "replica", replicas.replicas[1].name) == 3


async def test_an_unreachable_replica_is_skipped_after_its_check(
    settings: Settings, primary: DriverConnections
) -> None:
    async with replicas_of(settings, NOWHERE, _other(settings, "postgres")) as replicas:
        await replicas.check()
        assert [r.healthy for r in replicas.replicas] == [False, True]
        assert {await replicas.read(_port, primary) for _ in range(4)} == {"postgres"}


async def test_a_read_whose_replica_fails_is_served_by_the_next_then_the_primary(
    settings: Settings, primary: DriverConnections, primary_db: str
) -> None:
    """A replica that went away since its last good check: the read moves on, never fails, and
    the replica is skipped from then on."""
    async with replicas_of(settings, NOWHERE, NOWHERE.replace("27699", "27698")) as replicas:
        for replica in replicas.replicas:
            replica.healthy = True  # as the last check found them
        assert await replicas.read(_port, primary) == primary_db
        assert [r.healthy for r in replicas.replicas] == [False, False]
        assert _served(replicas, "primary", "primary") == 1


async def test_a_statement_error_is_the_callers_and_is_not_retried_elsewhere(
    settings: Settings, primary: DriverConnections
) -> None:
    attempts: list[str] = []

    async def failing(conn: asyncpg.Connection) -> None:
        attempts.append(await _port(conn))
        await conn.fetchval("SELECT 1 / 0")

    async with replicas_of(settings, _other(settings, "postgres")) as replicas:
        await replicas.check()
        with pytest.raises(asyncpg.DivisionByZeroError):
            await replicas.read(failing, primary)
        assert attempts == ["postgres"]
        assert replicas.replicas[0].healthy


async def test_a_conflict_with_recovery_is_read_again_elsewhere(
    settings: Settings, primary: DriverConnections, primary_db: str
) -> None:
    """A standby cancels a read that holds back replay with SQLSTATE 40001; the read goes on."""
    seen: list[str] = []

    async def conflicted(conn: asyncpg.Connection) -> str:
        port = await _port(conn)
        seen.append(port)
        if port == "postgres":
            await conn.execute(
                "DO $$ BEGIN RAISE EXCEPTION 'canceling statement due to conflict with recovery'"
                " USING ERRCODE = '40001'; END $$"
            )
        return port

    async with replicas_of(settings, _other(settings, "postgres")) as replicas:
        await replicas.check()
        assert await replicas.read(conflicted, primary) == primary_db
        assert seen == ["postgres", primary_db]
        assert replicas.replicas[0].healthy  # a conflict is no outage


def test_replica_urls_are_checked_when_the_settings_are_read(database_url: str) -> None:
    with pytest.raises(ValidationError, match="NEARBY_REPLICA_URLS: .* not mysql://"):
        Settings(database_url=database_url, replica_urls="mysql://db/nearby")
    with pytest.raises(ValidationError, match="NEARBY_REPLICA_URLS: .*replication"):
        Settings(database_url=database_url, replica_urls="postgresql://r/db?replication=true")
    listed = Settings(
        database_url=database_url,
        replica_urls=(
            " postgresql://u:secret@r1:5433/nearby?sslmode=require ,"
            " postgres://r2,r3:5434/nearby, postgresql://r4/x,"
        ),
    )
    names = [replica_name(target) for target in listed.replicas]
    assert len(names) == 3  # the comma between r2 and r3 is the multi-host URL's own
    assert names[0] == "r1:5433/nearby" and "secret" not in names[0]
    assert names[2] == "r4:5432/x"
    assert "sslmode=require" in listed.replicas[0].dsn
    one = Settings(database_url=database_url, replica_urls="host=r5 port=6000 dbname=nearby")
    assert [replica_name(target) for target in one.replicas] == ["r5:6000/nearby"]
    assert Settings(database_url=database_url).replicas == []
