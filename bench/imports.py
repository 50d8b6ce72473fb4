"""Case `imports`: a generated 1,000,000-row CSV store list imported end to end, against a bare
COPY of the same rows into the same indexed merchant table, in the same run.

The import is `nearby import` in a subprocess: the job of POST /v1/imports, run in the
foreground (read, check, convert, COPY into staging, one upsert, commit). Its rows/s count the
file's records over the job's own time (started_at -> finished_at, both clock_timestamp(); the
interpreter's start-up and the migration check are shown apart as process time); its peak
memory is the subprocess's peak RSS (VmHWM, read by the process itself as it ends). The
baseline COPYs the rows that the import stores, already in the table's own text form
(location as EWKT, h3 and the multirange computed beforehand), into `merchant` with all its
indexes. Each run starts from an empty
table. Everything happens in its own database, `nearby_bench_import`.

The file (seeded): stores around 16 cities in the shares of bench/data.py, 5% without a
timezone (inferred), 40 opening_hours variants, 1-3 tags, and about 1% bad rows: 0.2% without
coordinates, 0.2% with latitude and longitude swapped out of range, 0.2% with an invalid
timezone, 0.2% repeating an earlier external_id (the earlier row is reported), 0.1% with a name
over 200 characters, 0.1% with a field too many.

Targets (issue 4): the import at >= 0.4x the bare COPY's rows/s, peak RSS < 300 MB.
"""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import asyncpg
import numpy as np

from app import opening_hours
from bench import data
from bench.harness import ROOT, Row, bench_database
from spatial import cell_of

ROWS = 1_000_000
SEED = 4_2026
OWNER = "bench import"
HOURS = (
    [
        "Mo-Su 08:00-22:00",
        "Mo-Fr 09:00-18:00; Sa 10:00-16:00",
        "Mo-Su 10:00-02:00",
        "24/7",
        "Mo-Sa 07:00-21:00; Su off",
        "Mo-Fr 08:00-12:00,13:00-17:30",
        "Mo-Th 11:00-23:00; Fr-Sa 11:00-01:00; Su 12:00-22:00",
        "Tu-Su 10:00-18:00; Mo off; PH off",
    ]
    + [f"Mo-Su {h:02d}:00-{h + 12:02d}:30" for h in range(5, 12)]
    + [f"Mo-Fr {h:02d}:00-{h + 9:02d}:00; Sa {h + 1:02d}:00-{h + 6:02d}:00" for h in range(6, 12)]
    + [f"Mo-Su {h:02d}:30-{(h + 15) % 24:02d}:00" for h in range(0, 19)]
)
TAGS = ["wifi", "takeaway", "delivery", "outdoor", "wheelchair", "card", "alipay", "wechat"]
STREETS = ["Main St", "Nanjing Rd", "Station Rd", "Market Sq", "Harbour Ave", "Park Ln"]


@dataclass(frozen=True)
class Generated:
    csv_path: Path
    copy_path: Path  # the rows the import stores, as COPY text for the baseline
    rows: int
    stored: int
    duplicates: int


def run(database_url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    url = bench_database(database_url, name="nearby_bench_import")
    with tempfile.TemporaryDirectory(prefix="nearby-bench-import-") as tmp:
        print(f"bench imports: generating {ROWS:,} rows ...", flush=True)
        owner_id = asyncio.run(_owner(url))
        generated = generate(Path(tmp), ROWS, owner_id)
        imports, copies = [], []
        for n in range(rounds):
            copies.append(asyncio.run(_bare_copy(url, owner_id, generated.copy_path)))
            imports.append(_import(url, generated.csv_path))
            print(
                f"bench imports: round {n + 1}: import {imports[-1].job_s:.1f} s"
                f" ({imports[-1].rss_mb:.0f} MB), bare COPY {copies[-1]:.1f} s",
                flush=True,
            )
        asyncio.run(_empty(url))
    job_s = median(i.job_s for i in imports)
    process_s = median(i.process_s for i in imports)
    copy_s = median(copies)
    import_rate, copy_rate = generated.rows / job_s, generated.stored / copy_s
    ratio, rss = import_rate / copy_rate, max(i.rss_mb for i in imports)
    scenario = f"{generated.rows:,}-row CSV"
    return [
        Row("imports", scenario, "rows/s", f"{import_rate:,.0f}", f"{copy_rate:,.0f}",
            f"{ratio:.2f}x", ">= 0.40x", ratio >= 0.4),
        Row("imports", scenario, "seconds", f"{job_s:.1f}", f"{copy_s:.1f}", "", "", None),
        Row("imports", scenario, "process s", f"{process_s:.1f}", "", "", "", None),
        Row("imports", scenario, "peak RSS MB", f"{rss:.0f}", "", "", "< 300", rss < 300),
        Row("imports", scenario, "rows rejected", f"{imports[0].failed:,}", "", "", "", None),
    ]  # fmt: skip


@dataclass(frozen=True)
class _Imported:
    job_s: float
    process_s: float
    rss_mb: float
    failed: int


# `nearby import` itself, then its peak RSS as the kernel counts it for this process image
# (VmHWM). Not ru_maxrss of the child: that also counts the benchmark's own memory, which the
# child holds between fork and exec.
_CLI_WITH_PEAK = """
import sys
from app.cli import main
code = main(sys.argv[1:])
peak = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
sys.stderr.write(peak)
sys.exit(code)
"""


def _import(url: str, path: Path) -> _Imported:
    asyncio.run(_empty(url))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _CLI_WITH_PEAK, "import", str(path), "--owner", OWNER],
        cwd=ROOT,
        env=dict(os.environ, DATABASE_URL=url, PYTHONPATH=str(ROOT)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    process_s = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"bench imports: nearby import exited with {done.returncode}")
    peak_kb = int(done.stderr.rsplit("VmHWM:", 1)[1].split()[0])
    job = asyncio.run(_last_job(url))
    seconds = (job["finished_at"] - job["started_at"]).total_seconds()  # type: ignore[operator]
    return _Imported(seconds, process_s, peak_kb / 1024, int(job["rows_failed"]))  # type: ignore[call-overload]


async def _owner(url: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        owner_id = await conn.fetchval("SELECT id FROM owner WHERE name = $1", OWNER)
        if owner_id is None:
            owner_id = await conn.fetchval(
                "INSERT INTO owner (name, api_key_hash) VALUES ($1, '\\x01') RETURNING id", OWNER
            )
        return owner_id
    finally:
        await conn.close()


async def _empty(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        # CASCADE: offers and their claims reference merchants (empty here, but the keys stand).
        await conn.execute("TRUNCATE merchant, import_error CASCADE")
        await conn.execute("DELETE FROM import_job")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def _bare_copy(url: str, owner_id: object, path: Path) -> float:
    await _empty(url)
    conn = await asyncpg.connect(url)
    try:
        started = time.monotonic()
        await conn.copy_to_table(
            "merchant",
            source=path,
            columns=[
                "owner_id", "external_id", "name", "category", "tags", "address", "phone",
                "location", "h3", "timezone", "opening_hours", "open_minutes",
            ],
        )  # fmt: skip
        return time.monotonic() - started
    finally:
        await conn.close()


async def _last_job(url: str) -> dict[str, object]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT status, started_at, finished_at, rows_failed FROM import_job"
            " ORDER BY created_at DESC LIMIT 1"
        )
        assert row is not None and row["status"] == "done", row
        return dict(row)
    finally:
        await conn.close()


def generate(folder: Path, n: int, owner_id: object) -> Generated:
    """The CSV to import and, for the baseline, the rows it stores in COPY text form."""
    rng = np.random.default_rng(SEED)
    lat, lng, city = data.points(n, rng)
    category = rng.integers(len(data.CATEGORIES), size=n)
    hours = rng.integers(len(HOURS), size=n)
    kind = rng.random(n)
    tag_count = rng.integers(1, 4, size=n)
    tag_pick = rng.integers(len(TAGS), size=(n, 3))
    no_zone = rng.random(n) < 0.05
    minutes = {h: _multirange(opening_hours.parse(h)) for h in HOURS}
    csv_path, copy_path = folder / "stores.csv", folder / "stores.copy"
    duplicates = 0
    stored: dict[str, str] = {}  # external_id -> COPY line, the last good row of each id
    with csv_path.open("w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(
            ["external_id", "name", "category", "latitude", "longitude", "address", "phone",
             "tags", "opening_hours", "timezone"]
        )  # fmt: skip
        for i in range(n):
            c = data.CITIES[city[i]]
            external_id = f"ST-{i:07d}"
            la, ln = round(float(lat[i]), 6), round(float(lng[i]), 6)
            name = f"{c.name} {data.CATEGORIES[category[i]]} {i}"
            tags = ";".join(dict.fromkeys(TAGS[t] for t in tag_pick[i, : tag_count[i]]))
            zone = "" if no_zone[i] else c.timezone
            row = [external_id, name, data.CATEGORIES[category[i]], la, ln,
                   f"{i % 300 + 1} {STREETS[i % len(STREETS)]}, {c.name}",
                   f"+1 555 {i % 10_000_000:07d}", tags, HOURS[hours[i]], zone]  # fmt: skip
            k, good = kind[i], True
            if k < 0.002:
                row[3] = row[4] = ""
                good = False
            elif k < 0.004:
                row[3], row[4] = 100 + abs(ln) % 80, la
                good = False
            elif k < 0.006:
                row[9] = "Asia/Beijing"
                good = False
            elif k < 0.008:
                if i > 1000:
                    row[0] = external_id = f"ST-{i - 1000:07d}"  # repeats an earlier store
                    duplicates += 1
            elif k < 0.009:
                row[1] = "x" * 201
                good = False
            elif k < 0.010:
                row.append("extra")
                good = False
            if good:  # the import stores it (a later duplicate replaces it below)
                stored[external_id] = "\t".join(
                    (external_id, name, row[2], "{" + tags.replace(";", ",") + "}", row[5],
                     row[6], f"SRID=4326;POINT({ln!r} {la!r})", str(cell_of(la, ln)),
                     zone or c.timezone, HOURS[hours[i]], minutes[HOURS[hours[i]]])
                )  # fmt: skip
            out.writerow(row)
    with copy_path.open("w") as f:
        f.writelines(f"{owner_id}\t{line}\n" for line in stored.values())
    return Generated(csv_path, copy_path, n, len(stored), duplicates)


def _multirange(intervals: list[tuple[int, int]]) -> str:
    return "{" + ",".join(f"[{a},{b})" for a, b in intervals) + "}"
