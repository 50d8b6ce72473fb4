"""Case `scale` (issue 15): how cost grows with the work, and what processes and a replica buy.

Growth: nearby (dense city centres, sparse suburbs) and offers/here against the bare endpoints
(bench/bare_app.py) on the same data, at 100k, 1M and 5M merchants (10k, 100k, 1M offers; the
data sets of bench/scale_data.py), with the merchant and offer tables' and indexes' sizes.

Processes: nearby (dense) and offers/here on a PostgreSQL pair of this case's own (a primary and
a streaming hot standby made with `pg_basebackup -R`, kept in /var/tmp/nearby-bench-replica and
reused while its data set matches), with 1 and 2 worker processes on the primary, and with 1
worker reading from the standby (NEARBY_REPLICA_URLS). For each: requests/s against 1 worker,
and the CPU the service's processes and PostgreSQL's backends used per request, read from
/proc/<pid>/stat before and after each run (the backends: those of the bench database, on both
servers). Where the rest of the machine's CPU went (wrk, other work) is the remainder.

Not in the default run (`python -m bench scale` asks for it): the 5M set takes minutes to load.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from app import migrate
from bench import data, offers, scale_data
from bench.harness import Load, Row, alternate, server, versus, wrk
from tests.cluster import Cluster

PAIR_ROOT = Path("/var/tmp/nearby-bench-replica")
PRIMARY_PORT, STANDBY_PORT = 27690, 27691  # the helper's test range, above what tests take
PAIR_SIZE = scale_data.SIZES[1]  # 1M merchants, 100k offers
TICK = os.sysconf("SC_CLK_TCK")


def run(
    database_url: str,
    *,
    seconds: float,
    rounds: int,
    connections: int,
    sizes: Sequence[str] | None = None,
    pair: bool = True,
    offers_here: bool = True,
) -> list[Row]:
    """Growth at `sizes` (names of scale_data.SIZES; default all), offers here included unless
    told not to, then, with `pair`, the workers and replica part."""
    rows: list[Row] = []
    for size in scale_data.SIZES:
        if sizes is None or size.name in sizes:
            url = scale_data.ensure(database_url, size, with_offers=offers_here)
            rows += _growth(
                url,
                size,
                seconds=seconds,
                rounds=rounds,
                connections=connections,
                offers_here=offers_here,
            )
    if pair:
        with _pair() as (primary, standby):
            rows += _processes(
                primary, standby, seconds=seconds, rounds=rounds, connections=connections
            )
    return rows


# ---------------------------------------------------------------------------------- growth


def _growth(
    url: str,
    size: scale_data.Size,
    *,
    seconds: float,
    rounds: int,
    connections: int,
    offers_here: bool,
) -> list[Row]:
    scenarios = {
        "nearby dense": ("/v1/search/nearby", "/bare/nearby", data.dense_points(5000, seed=1)),
        "nearby sparse": ("/v1/search/nearby", "/bare/nearby", data.sparse_points(5000, seed=2)),
    }
    if offers_here:
        scenarios["offers here"] = (
            "/v1/offers/here",
            "/bare/offers_here",
            asyncio.run(offers.query_points(url, 5000, seed=3)),
        )
    query = {
        "/v1/search/nearby": "&radius=1000&limit=20",
        "/bare/nearby": "&radius=1000",
        "/v1/offers/here": "&limit=20",
        "/bare/offers_here": "",
    }
    rows: list[Row] = []
    with (
        server("app.main:create_app", url, factory=True) as service,
        server("bench.bare_app:app", url) as bare,
    ):
        for scenario, (path, bare_path, points) in scenarios.items():
            loads = alternate(
                {"service": service, "bare": bare},
                {"service": path, "bare": bare_path},
                points,
                rounds=rounds,
                seconds=seconds,
                connections=connections,
                query={"service": query[path], "bare": query[bare_path]},
            )
            s, b = loads["service"], loads["bare"]
            if s.errors or b.errors:
                raise SystemExit(f"bench: {s.errors} service, {b.errors} bare errors: {scenario}")
            rows += versus("scale", f"{size.name}: {scenario}", s, b)
    rows += asyncio.run(_sizes(url, size, ("merchant", "offer") if offers_here else ("merchant",)))
    return rows


async def _sizes(url: str, size: scale_data.Size, tables: Sequence[str]) -> list[Row]:
    conn = await asyncpg.connect(url)
    try:
        rows = []
        for table in tables:
            heap, indexes, count = await conn.fetchrow(
                f"""SELECT pg_table_size('{table}'), pg_indexes_size('{table}'),
                           (SELECT count(*) FROM {table})"""
            )
            rows.append(
                Row(
                    "scale",
                    f"{size.name}: {table} ({count:,} rows)",
                    "table / indexes MB",
                    f"{heap / 2**20:,.0f} / {indexes / 2**20:,.0f}",
                    "",
                    "",
                    "",
                    None,
                )
            )
        return rows
    finally:
        await conn.close()


# ------------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used during one run."""

    service: float
    primary: float
    standby: float


def _processes(
    primary: str, standby: str, *, seconds: float, rounds: int, connections: int
) -> list[Row]:
    routes = {
        "nearby dense": ("/v1/search/nearby", "&radius=1000&limit=20", data.dense_points(5000, 1)),
        "offers here": (
            "/v1/offers/here",
            "&limit=20",
            asyncio.run(offers.query_points(primary, 5000, seed=3)),
        ),
    }
    setups: dict[str, tuple[int, dict[str, str]]] = {
        "1 worker": (1, {}),
        "2 workers": (2, {}),
        "1 worker + replica": (1, {"NEARBY_REPLICA_URLS": standby}),
    }
    rows: list[Row] = []
    for route, (path, query, points) in routes.items():
        measured: dict[str, tuple[list[Load], list[Cpu]]] = {}
        for name, (workers, env) in setups.items():
            with server(
                "app.main:create_app", primary, factory=True, workers=workers, env=env
            ) as port:
                group = _group_of(port)
                time.sleep(2)  # the replica checker's first look
                wrk(
                    port,
                    path,
                    points,
                    seconds=min(3.0, seconds),
                    connections=connections,
                    query=query,
                )
                loads, cpus = [], []
                for _ in range(rounds):
                    before = _cpu(group, primary, standby)
                    loads.append(
                        wrk(
                            port,
                            path,
                            points,
                            seconds=seconds,
                            connections=connections,
                            query=query,
                        )
                    )
                    cpus.append(_minus(_cpu(group, primary, standby), before))
                measured[name] = (loads, cpus)
        rows += _process_rows(route, measured, seconds)
    return rows


def _process_rows(
    route: str, measured: dict[str, tuple[list[Load], list[Cpu]]], seconds: float
) -> list[Row]:
    def median(values: Sequence[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    base = median([load.requests_per_s for load in measured["1 worker"][0]])
    rows = []
    for name, (loads, cpus) in measured.items():
        if any(load.errors for load in loads):
            raise SystemExit(f"bench: errors in {route}, {name}")
        rate = median([load.requests_per_s for load in loads])
        requests = [load.requests_per_s * seconds for load in loads]
        per = {
            part: median(
                [getattr(cpu, part) * 1000 / n for cpu, n in zip(cpus, requests, strict=True)]
            )
            for part in ("service", "primary", "standby")
        }
        busy = median(
            [(c.service + c.primary + c.standby) / seconds for c in cpus]
        )  # cores kept busy by the service and PostgreSQL together
        rows.append(
            Row(
                "scale",
                f"{route}, {name}",
                "requests/s",
                f"{rate:,.0f}",
                f"{base:,.0f}",
                f"{rate / base:.2f}x",
                "",
                None,
            )
        )
        rows.append(
            Row(
                "scale",
                f"{route}, {name}",
                "CPU ms/request: service / primary / standby",
                f"{per['service']:.2f} / {per['primary']:.2f} / {per['standby']:.2f}",
                "",
                f"{busy:.2f} cores",
                "",
                None,
            )
        )
        rows.append(
            Row(
                "scale",
                f"{route}, {name}",
                "p99 ms",
                f"{median([load.p99_ms for load in loads]):.2f}",
                "",
                "",
                "",
                None,
            )
        )
    return rows


def _group_of(port: int) -> int:
    """The process group of the server listening on `port` (harness.server starts a session)."""
    out = subprocess.run(
        ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    pid = int(out.split("pid=")[1].split(",")[0])
    return os.getpgid(pid)


def _cpu(group: int, primary: str, standby: str) -> Cpu:
    """CPU seconds so far of the processes of `group` and of the bench database's backends."""
    return Cpu(
        service=sum(_ticks(pid) for pid in _members(group)) / TICK,
        primary=sum(_ticks(pid) for pid in asyncio.run(_backends(primary))) / TICK,
        standby=sum(_ticks(pid) for pid in asyncio.run(_backends(standby))) / TICK,
    )


def _minus(after: Cpu, before: Cpu) -> Cpu:
    return Cpu(
        after.service - before.service,
        after.primary - before.primary,
        after.standby - before.standby,
    )


def _members(group: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat and int(stat[2]) == group:  # fields after the name: state, ppid, pgrp
                pids.append(int(entry.name))
    return pids


async def _backends(url: str) -> list[int]:
    """The client backends of `url`'s database but this one (it runs only to ask)."""
    conn = await asyncpg.connect(url)
    try:
        return [
            row[0]
            for row in await conn.fetch(
                """SELECT pid FROM pg_stat_activity WHERE datname = current_database()
                   AND backend_type = 'client backend' AND pid <> pg_backend_pid()"""
            )
        ]
    finally:
        await conn.close()


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()  # after "pid (name)"


def _ticks(pid: int) -> int:
    stat = _stat(pid)
    return int(stat[11]) + int(stat[12]) if stat else 0  # utime, stime


# ------------------------------------------------------------------------- the replica pair


@contextmanager
def _pair() -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL) of this case's own pair, started, loaded with PAIR_SIZE;
    stopped (not removed) afterwards."""
    primary = Cluster(PAIR_ROOT / "primary", PRIMARY_PORT)
    standby = Cluster(PAIR_ROOT / "standby", STANDBY_PORT)
    if not (standby.data / "standby.signal").exists():  # a first run, or a half-made pair
        _make_pair(primary, standby)
    else:
        for cluster in (primary, standby):
            if not (cluster.data / "postmaster.pid").exists():
                cluster.start()
    try:
        primary_url = primary.url_of("nearby_bench")
        standby_url = standby.url_of("nearby_bench")
        started = time.monotonic()
        loaded = asyncio.run(data.ensure_loaded(primary_url, PAIR_SIZE.merchants))
        loaded |= asyncio.run(offers.ensure_offers(primary_url, PAIR_SIZE.offers))
        asyncio.run(_caught_up(primary_url, standby_url))
        if loaded:
            print(f"bench: loaded the replica pair in {time.monotonic() - started:.0f} s")
        yield primary_url, standby_url
    finally:
        standby.kill()
        primary.kill()


def _make_pair(primary: Cluster, standby: Cluster) -> None:
    for cluster in (primary, standby):
        if cluster.data.exists():
            cluster.kill()
    shutil.rmtree(PAIR_ROOT, ignore_errors=True)
    for path in (PAIR_ROOT, primary.root, standby.root):
        path.mkdir()
        path.chmod(0o755)
    primary.init()
    primary.configure("shared_buffers = '512MB'\n")
    primary.start()
    asyncio.run(_create(primary))
    migrate.upgrade(primary.url_of("nearby_bench"))
    standby.clone(primary)
    standby.start()


async def _create(primary: Cluster) -> None:
    conn = await asyncpg.connect(primary.url_of("postgres"))
    try:
        await conn.execute("CREATE DATABASE nearby_bench")
    finally:
        await conn.close()


async def _caught_up(primary_url: str, standby_url: str) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    primary = await asyncpg.connect(primary_url)
    standby = await asyncpg.connect(standby_url)
    try:
        target = await primary.fetchval("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + 600
        while await standby.fetchval("SELECT pg_last_wal_replay_lsn() < $1::pg_lsn", target):
            if time.monotonic() > deadline:
                raise SystemExit("bench: the standby did not catch up in 10 minutes")
            await asyncio.sleep(0.5)
    finally:
        await primary.close()
        await standby.close()
