"""What every benchmark case shares: its database, server processes, wrk, and the result table."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import asyncpg

from app import migrate

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).with_name("points.lua")


@dataclass(frozen=True)
class Load:
    """One wrk run."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Runs:
    """An endpoint's wrk runs, one per round of `alternate`: the median of each measure."""

    runs: tuple[Load, ...]

    @property
    def requests_per_s(self) -> float:
        return median(r.requests_per_s for r in self.runs)

    @property
    def p50_ms(self) -> float:
        return median(r.p50_ms for r in self.runs)

    @property
    def p99_ms(self) -> float:
        return median(r.p99_ms for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)


def paired_ratio(a: Runs, b: Runs, measure: str) -> float:
    """The median over rounds of a's `measure` over b's in the same round.

    The two runs of a round are seconds apart, so what a noisy machine does to one (CPU steal
    comes and goes over tens of seconds here) it mostly does to the other; a ratio of medians
    taken over the whole case lets one slow spell weigh on one side only.
    """
    ratios: list[float] = [
        getattr(x, measure) / getattr(y, measure) for x, y in zip(a.runs, b.runs, strict=True)
    ]
    return median(ratios)


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    case: str
    scenario: str
    what: str
    value: str
    baseline: str
    ratio: str
    target: str
    ok: bool | None


def versus(
    case: str,
    scenario: str,
    a: Runs,
    b: Runs,
    *,
    targets: bool = True,
    p50: bool = True,
    min_rate: float = 0.8,
    max_p99: float = 1.25,
) -> list[Row]:
    """requests/s, p50 and p99 of `a` against `b`: medians, and ratios paired per round.

    With `targets`, by default issue 2's: requests/s >= 0.80x and p99 <= 1.25x of the baseline.
    """

    def row(
        what: str, measure: str, digits: int, at_least: float = 0.0, at_most: float = 0.0
    ) -> Row:
        ratio = paired_ratio(a, b, measure)
        target, ok = "", None
        if targets and at_least:
            target, ok = f">= {at_least:.2f}x", ratio >= at_least
        if targets and at_most:
            target, ok = f"<= {at_most:.2f}x", ratio <= at_most
        value, baseline = getattr(a, measure), getattr(b, measure)
        return Row(
            case,
            scenario,
            what,
            f"{value:,.{digits}f}",
            f"{baseline:,.{digits}f}",
            f"{ratio:.2f}x",
            target,
            ok,
        )

    rows = [row("requests/s", "requests_per_s", 0, at_least=min_rate)]
    if p50:
        rows.append(row("p50 ms", "p50_ms", 2))
    rows.append(row("p99 ms", "p99_ms", 2, at_most=max_p99))
    return rows


def bench_database(base_url: str, name: str = "nearby_bench") -> str:
    """The URL of database `name` on the server of `base_url`, created and migrated if needed."""
    scheme, _, rest = base_url.partition("://")
    server, _, _ = rest.rpartition("/")
    url = f"postgresql://{server}/{name}"

    async def create() -> None:
        conn = await asyncpg.connect(f"postgresql://{server}/postgres")
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    migrate.upgrade(url)
    return url


def drop_database(base_url: str, name: str) -> None:
    """Drop database `name` on the server of `base_url` (a throwaway one), sessions and all."""
    server = base_url.partition("://")[2].rpartition("/")[0]

    async def drop() -> None:
        conn = await asyncpg.connect(f"postgresql://{server}/postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() != 0:
        sys.exit("bench: wrk is missing; install Debian's wrk package")
    print("bench: installing wrk ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL
    )
    return shutil.which("wrk") or sys.exit("bench: wrk did not install")


@contextmanager
def server(
    app: str,
    database_url: str,
    *,
    factory: bool = False,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[int]:
    """Run `app` under uvicorn on a free port until the block ends, with `env` added to its
    environment; yields the port."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    if factory:
        command.append("--factory")
    environment = dict(os.environ, DATABASE_URL=database_url, PYTHONPATH=str(ROOT), **(env or {}))
    process = subprocess.Popen(command, cwd=ROOT, env=environment, start_new_session=True)
    try:
        _wait_until_up(port, process)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def wrk(
    port: int,
    path: str,
    points: Sequence[tuple[float, float]],
    *,
    seconds: float,
    connections: int,
    query: str = "",
) -> Load:
    """Drive GET path?lat=..&lng=..{query} with `connections` connections for `seconds`."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.writelines(f"{lat:.7f},{lng:.7f}\n" for lat, lng in points)
    try:
        out = run_wrk(
            port,
            LUA,
            {"BENCH_PATH": path, "BENCH_POINTS": f.name, "BENCH_QUERY": query},
            seconds=seconds,
            connections=connections,
        )
    finally:
        os.unlink(f.name)
    return _parse_wrk(out)


def run_wrk(
    port: int, script: Path, env: dict[str, str], *, seconds: float, connections: int
) -> str:
    """wrk's report of `script` against the port (2 threads, latency percentiles); `env` is
    added to the environment the script reads its settings from."""
    return subprocess.run(
        [
            ensure_wrk(),
            "-t2",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def wrk_script(
    port: int, script: Path, env: dict[str, str], *, seconds: float, connections: int
) -> Load:
    """One wrk run of `script` (which makes its own requests) against the port."""
    return _parse_wrk(run_wrk(port, script, env, seconds=seconds, connections=connections))


def alternate(
    ports: dict[str, int],
    path: dict[str, str],
    points: Sequence[tuple[float, float]],
    *,
    rounds: int,
    seconds: float,
    connections: int,
    query: dict[str, str] | None = None,
) -> dict[str, Runs]:
    """Run each endpoint in turn, `rounds` times, after a warm-up (see paired_ratio).

    Odd rounds run the endpoints in reverse order."""
    query = query or {}
    for name, port in ports.items():
        wrk(
            port,
            path[name],
            points,
            seconds=min(3.0, seconds),
            connections=connections,
            query=query.get(name, ""),
        )
    runs: dict[str, list[Load]] = {name: [] for name in ports}
    for round_number in range(rounds):
        order = list(ports.items())
        if round_number % 2:  # neither side always goes first
            order.reverse()
        for name, port in order:
            runs[name].append(
                wrk(
                    port,
                    path[name],
                    points,
                    seconds=seconds,
                    connections=connections,
                    query=query.get(name, ""),
                )
            )
    return {name: Runs(tuple(loads)) for name, loads in runs.items()}


def print_table(rows: Sequence[Row]) -> None:
    header = ("case", "scenario", "measure", "service", "baseline", "ratio", "target", "")
    lines = [header] + [
        (
            r.case,
            r.scenario,
            r.what,
            r.value,
            r.baseline,
            r.ratio,
            r.target,
            "" if r.ok is None else ("ok" if r.ok else "MISSED"),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _parse_wrk(out: str) -> Load:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    errors += sum(int(n) for n in re.findall(r"Socket errors:.*?(\d+)", out))

    def percentile(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return Load(rps, percentile("50"), percentile("99"), errors)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"bench: the server on port {port} exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"bench: the server on port {port} did not come up")
