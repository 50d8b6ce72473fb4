"""Read replicas (NEARBY_REPLICA_URLS): which PostgreSQL serves a public read.

The primary (DATABASE_URL) takes every write and every read that must see them; PostgreSQL's own
streaming standbys take the public reads that app/db.py routes here (`driver_read`,
`public_read`: the searches, offers here, the public look-ups). This module owns the replicas:
their engines and hot connections, their health, the choice among them and the way back to the
primary.

- Health: a checker task per process asks each replica every CHECK_S how far it lags
  (measured on the replica: app/queries/operations.py) on a connection of its own. A replica
  that does not answer within CHECK_TIMEOUT_S, or lags more than NEARBY_REPLICA_MAX_LAG_S, is
  skipped until a later check finds it well; a read that finds one dead skips it at once.
- Choice: round robin over the healthy replicas. Each read starts at the next one; a read that
  fails because its replica went away (or cancelled it in a conflict with recovery) moves on to
  the next healthy replica and, when none is left, to the primary. A read is never failed for
  a replica's sake: the primary's answer (or error) is the last word.
- Metrics: reads by the pool that served them (`nearby_db_reads_total{pool,server}`), and each
  replica's lag and health as gauges.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db import DriverConnections, DriverConnector, make_engine, read_retrying
from app.errors import database_unreachable, one_line
from app.metrics import Metrics
from app.postgres import Target
from app.queries import operations as operations_sql
from app.settings import Settings

log = logging.getLogger("nearby.replicas")
T = TypeVar("T")

CHECK_S = 1.0  # how often each process measures each replica's lag
CHECK_TIMEOUT_S = 2.0  # a replica that takes longer to answer (connecting: the pool's) is skipped
PRIMARY = "primary"

CoreConnector = Callable[[], contextlib.AbstractAsyncContextManager[AsyncConnection]]


@dataclass(eq=False)
class Replica:
    """One standby: its pools, and what the last check found."""

    name: str  # host:port/database, no credentials: for logs and metric labels
    target: Target  # where it is, with every connection parameter (app/postgres.py)
    engine: AsyncEngine
    connections: DriverConnections
    healthy: bool = False  # nothing is read from a replica before its first good check
    lag_s: float | None = None
    checker: asyncpg.Connection | None = field(default=None, repr=False)


def replica_name(target: Target) -> str:
    """host:port/database of `target`, without role or password."""
    return f"{target.where.partition(' (')[0]}/{target.database}"


def _elsewhere(exc: BaseException) -> bool:
    """Whether a read that raised `exc` on a replica belongs on another server: the replica went
    away, or cancelled the statement in a conflict with recovery (SQLSTATE 40001 and 40P01 are
    how a standby says so; a read-only statement raises them nowhere else)."""
    if database_unreachable(exc):
        return True
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, asyncpg.SerializationError | asyncpg.DeadlockDetectedError):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


class Replicas:
    """The replicas of one process, with their checker (create_app keeps one in
    `app.state.replicas` when NEARBY_REPLICA_URLS names any)."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.max_lag_s = settings.replica_max_lag_s
        self.replicas = [
            Replica(
                name=replica_name(target),
                target=target,
                engine=(engine := make_engine(settings, target)),
                connections=DriverConnections(engine, keep=settings.pool_size),
            )
            for target in settings.replicas
        ]
        self._connect_timeout_s = settings.db_connect_timeout_s
        self._next = 0
        self._task: asyncio.Task[None] | None = None
        registry = metrics.registry
        self._reads = Counter(
            "nearby_db_reads_total",
            "Public reads (searches, offers here, look-ups) by the database that served them.",
            ["pool", "server"],
            registry=registry,
        )
        self._lag = Gauge(
            "nearby_replica_lag_seconds",
            "Replication lag of each read replica, measured on it (last check).",
            ["server"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self._up = Gauge(
            "nearby_replica_healthy",
            "1 while a read replica answers and lags no more than NEARBY_REPLICA_MAX_LAG_S.",
            ["server"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self._served = {r.name: self._reads.labels("replica", r.name) for r in self.replicas}
        self._served_by_primary = self._reads.labels(PRIMARY, PRIMARY)

    # ---------------------------------------------------------------------------- reading

    def healthy(self) -> list[Replica]:
        """The healthy replicas, in this read's round-robin order."""
        well = [r for r in self.replicas if r.healthy]
        if not well:
            return []
        start = self._next % len(well)
        self._next += 1
        return well[start:] + well[:start]

    async def read(
        self, work: Callable[[asyncpg.Connection], Awaitable[T]], primary: DriverConnector
    ) -> T:
        """`work` on a hot connection of a healthy replica, else of the primary."""
        for replica in self.healthy():
            try:
                async with replica.connections() as conn:
                    result = await work(conn)
            except Exception as exc:
                if not _elsewhere(exc):
                    raise
                self._fell_through(replica, exc)
                continue
            self._served[replica.name].inc()
            return result
        result = await read_retrying(primary, work)
        self.served_by_primary()
        return result

    async def read_core(
        self, work: Callable[[AsyncConnection], Awaitable[T]], primary: CoreConnector
    ) -> T:
        """`work` on a SQLAlchemy connection of a healthy replica, else of the primary."""
        for replica in self.healthy():
            try:
                async with replica.engine.connect() as conn:
                    result = await work(conn)
            except Exception as exc:
                if not _elsewhere(exc):
                    raise
                self._fell_through(replica, exc)
                continue
            self._served[replica.name].inc()
            return result
        async with primary() as conn:
            result = await work(conn)
        self.served_by_primary()
        return result

    def served_by_primary(self) -> None:
        """Count a public read the primary served."""
        self._served_by_primary.inc()

    def _fell_through(self, replica: Replica, exc: BaseException) -> None:
        if database_unreachable(exc) and replica.healthy:
            replica.healthy = False  # until the checker finds it well again
            self._up.labels(replica.name).set(0)
            log.warning("replica %s is unreachable: %s", replica.name, one_line(exc))

    # ---------------------------------------------------------------------------- checking

    def start(self) -> None:
        self._task = asyncio.create_task(self._check_forever(), name="replica checker")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for replica in self.replicas:
            await _drop_checker(replica)
            await replica.connections.close()
            await replica.engine.dispose()

    async def check(self) -> None:
        """Measure every replica once, at the same time."""
        await asyncio.gather(*(self._check(replica) for replica in self.replicas))

    async def _check_forever(self) -> None:
        while True:
            started = time.monotonic()
            await self.check()
            await asyncio.sleep(max(0.0, CHECK_S - (time.monotonic() - started)))

    async def _check(self, replica: Replica) -> None:
        was = replica.healthy
        try:
            lag = await asyncio.wait_for(
                self._measure(replica), self._connect_timeout_s + CHECK_TIMEOUT_S
            )
        except Exception as exc:
            await _drop_checker(replica)
            replica.healthy, replica.lag_s = False, None
            if was:
                log.warning("replica %s is unreachable: %s", replica.name, one_line(exc))
        else:
            replica.lag_s = lag
            replica.healthy = lag is not None and lag <= self.max_lag_s
            if lag is not None:
                self._lag.labels(replica.name).set(lag)
            if was and not replica.healthy:
                log.warning(
                    "replica %s lags %s s (more than %s s): reading elsewhere",
                    replica.name,
                    "an unknown number of" if lag is None else f"{lag:.1f}",
                    self.max_lag_s,
                )
        if replica.healthy and not was:
            log.info("replica %s is in use (lag %.1f s)", replica.name, replica.lag_s or 0.0)
        self._up.labels(replica.name).set(1 if replica.healthy else 0)

    async def _measure(self, replica: Replica) -> float | None:
        if replica.checker is None or replica.checker.is_closed():
            replica.checker = await replica.target.connect(timeout_s=self._connect_timeout_s)
        return await operations_sql.replication_lag(replica.checker, timeout_s=CHECK_TIMEOUT_S)


async def _drop_checker(replica: Replica) -> None:
    if replica.checker is not None:
        replica.checker.terminate()  # no goodbye: the replica may be gone
        replica.checker = None


@contextlib.asynccontextmanager
async def started(replicas: Replicas | None) -> AsyncIterator[None]:
    """Run the checker of `replicas` (if any) while the block runs; then close them."""
    if replicas is None:
        yield
        return
    replicas.start()
    try:
        yield
    finally:
        await replicas.close()
