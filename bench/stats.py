"""Case `stats`: merchant statistics at 100k and 1M claims of one owner, and claims with the
rollups on.

Targets (issue 14): at 1,000,000 claims of one owner, an offer's and a store's statistics
answer with p99 < 250 ms at 16 clients; claims stay >= 1,000 codes/s with 0 oversold.

Data, per size N (100,000 and 1,000,000), loaded once by COPY and kept while its size matches
(table bench_stats_meta): an owner of its own with 10 stores in Shanghai and Kolkata, 2 offers
each; N claims spread evenly over the 90 days before the load, by N/5 users of one app, at
points around the store (about 150 m, so a handful of resolution-9 cells), 40% redeemed within
two days; 200 shares per offer in random trees, one claim in ten made through one of them; the
rollup `offer_stats` summed from the claims as the migration does. A 30-day view of an offer
then covers about N/60 claims, a store's about N/30, the owner's about N/3.

First each view uncached (a server with NEARBY_STATS_CACHE_S=0), one request at a time: what
computing an answer costs. Then, on a server as deployed (answers kept 30 s), 16 clients, each
request a random offer or store of the owner, the default range (the last 30 days, day
buckets): offer stats, store stats, owner stats, and an offer's stats by the hour over 7 days;
the baseline is GET /v1/offers/{id} of the same offers in the same run. Every view is computed
again when its 30 s run out, inside the runs, so the p99 holds those recomputations. Then the
claim storm of bench/offers.py (the claim statement writes the rollup now).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import math
import os
import secrets
import string
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

import asyncpg
import httpx
import numpy as np

from app.auth import new_api_key
from bench import offers as offers_bench
from bench.harness import Load, Row, Runs, _parse_wrk, run_wrk, server
from spatial import cell_of, circle_fence

SIZES = (100_000, 1_000_000)
SEED = 20261205
STORES = [
    ("Shanghai", 31.2304, 121.4737, "Asia/Shanghai"),
    ("Kolkata", 22.5726, 88.3639, "Asia/Kolkata"),
]
STORES_PER_OWNER, OFFERS_PER_STORE, SHARES_PER_OFFER = 10, 2, 200
DAYS = 90
P99_TARGET_MS = 250.0
COLD_TRIES = 5
PATHS_LUA = Path(__file__).with_name("paths.lua")
_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def run(database_url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    owners = {}
    for size in SIZES:
        started = time.monotonic()
        owner, loaded = asyncio.run(ensure_claims(database_url, size))
        if loaded:
            print(
                f"bench: loaded {size:,} claims in {time.monotonic() - started:.0f} s", flush=True
            )
        owners[size] = owner
    rows: list[Row] = []
    with server(
        "app.main:create_app", database_url, factory=True, env={"NEARBY_STATS_CACHE_S": "0"}
    ) as cold:
        for size, (key, store_ids, offer_ids) in owners.items():
            rows += _cold_rows(cold, size, key, store_ids, offer_ids)
    with server(
        "app.main:create_app", database_url, factory=True, env=offers_bench.SERVICE_ENV
    ) as port:
        for size, (key, store_ids, offer_ids) in owners.items():
            rows += _stats_rows(
                port, size, key, store_ids, offer_ids,
                seconds=seconds, rounds=rounds, connections=connections,
            )  # fmt: skip
        rows += [
            dataclasses.replace(r, case="stats")
            for r in offers_bench.claim_storm(
                port, database_url, seconds=seconds, rounds=min(rounds, 2), connections=connections
            )
            if "Idempotency" not in r.scenario
        ]
    load = os.getloadavg()
    print(f"bench: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    return rows


def _stats_rows(
    port: int,
    size: int,
    key: str,
    store_ids: list[uuid.UUID],
    offer_ids: list[uuid.UUID],
    *,
    seconds: float,
    rounds: int,
    connections: int,
) -> list[Row]:
    hour_from = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    endpoints = {
        "GET /v1/offers/{id}": [f"/v1/offers/{o}" for o in offer_ids],
        "offer stats": [f"/v1/offers/{o}/stats" for o in offer_ids],
        "store stats": [f"/v1/merchants/{m}/stats" for m in store_ids],
        "owner stats": ["/v1/stats"],
        "offer stats, hours": [
            f"/v1/offers/{o}/stats?bucket=hour&from={hour_from}" for o in offer_ids
        ],
    }
    runs: dict[str, list[Load]] = {name: [] for name in endpoints}
    for paths in endpoints.values():  # warm up
        _wrk(port, paths, key, seconds=min(3.0, seconds), connections=connections)
    for round_number in range(rounds):
        order = list(endpoints.items())
        if round_number % 2:
            order.reverse()
        for name, paths in order:
            runs[name].append(_wrk(port, paths, key, seconds=seconds, connections=connections))
    measured = {name: Runs(tuple(loads)) for name, loads in runs.items()}
    base = measured["GET /v1/offers/{id}"]
    scenario = f"{size // 1000:,}k claims"
    rows = []
    for name, got in measured.items():
        if got.errors:  # timeouts (wrk waits 2 s) count as errors: reported, not hidden
            print(f"bench: {got.errors} errors in {name} at {scenario}", flush=True)
        targeted = size == max(SIZES) and name in ("offer stats", "store stats")
        is_base = name == "GET /v1/offers/{id}"
        for what, value, baseline, digits in (
            ("requests/s", got.requests_per_s, base.requests_per_s, 0),
            ("p50 ms", got.p50_ms, base.p50_ms, 2),
            ("p99 ms", got.p99_ms, base.p99_ms, 2),
        ):
            target, ok = "", None
            if targeted and what == "p99 ms":
                target, ok = f"< {P99_TARGET_MS:.0f} ms", value < P99_TARGET_MS
            rows.append(
                Row(
                    "stats",
                    f"{scenario}, {name}",
                    what,
                    f"{value:,.{digits}f}",
                    "" if is_base else f"{baseline:,.{digits}f}",
                    "" if is_base else f"{value / baseline:.2f}x",
                    target,
                    ok,
                )
            )
    return rows


def _cold_rows(
    port: int, size: int, key: str, store_ids: list[uuid.UUID], offer_ids: list[uuid.UUID]
) -> list[Row]:
    """Each view computed afresh (NEARBY_STATS_CACHE_S=0), one request at a time: the median
    and the slowest of COLD_TRIES."""
    views = {
        "offer stats": [f"/v1/offers/{o}/stats" for o in offer_ids[:COLD_TRIES]],
        "store stats": [f"/v1/merchants/{m}/stats" for m in store_ids[:COLD_TRIES]],
        "owner stats": ["/v1/stats"] * 3,
    }
    rows = []
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=300,
    ) as client:
        for name, paths in views.items():
            took = []
            for path in paths:
                started = time.perf_counter()
                client.get(path).raise_for_status()
                took.append((time.perf_counter() - started) * 1000)
            rows.append(
                Row(
                    "stats",
                    f"{size // 1000:,}k claims, {name}, uncached, 1 client",
                    "median / max ms",
                    f"{median(took):,.0f} / {max(took):,.0f}",
                    "",
                    "",
                    "",
                    None,
                )
            )
    return rows


def _wrk(port: int, paths: list[str], key: str, *, seconds: float, connections: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.writelines(f"{p}\n" for p in paths)
    try:
        out = run_wrk(
            port,
            PATHS_LUA,
            {"BENCH_PATHS": f.name, "BENCH_AUTH": f"Bearer {key}"},
            seconds=seconds,
            connections=connections,
        )
    finally:
        os.unlink(f.name)
    return _parse_wrk(out)


# ---------------------------------------------------------------------------------- the data


async def ensure_claims(
    url: str, size: int
) -> tuple[tuple[str, list[uuid.UUID], list[uuid.UUID]], bool]:
    """The owner holding `size` claims (its key, stores and offers), loaded unless it is
    there; and whether it loaded."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS bench_stats_meta (
                   seed bigint, size bigint, owner_id uuid, api_key text);
               -- bench/offers.py keeps every stored offer's H3 covering here
               CREATE TABLE IF NOT EXISTS bench_offer_cell (cell bigint NOT NULL,
                                                            offer_id uuid NOT NULL)"""
        )
        found = await conn.fetchrow(
            """SELECT b.owner_id, b.api_key FROM bench_stats_meta b
               JOIN owner o ON o.id = b.owner_id WHERE b.seed = $1 AND b.size = $2
                AND (SELECT count(*) FROM claim c JOIN offer f ON f.id = c.offer_id
                     JOIN merchant m ON m.id = f.merchant_id WHERE m.owner_id = b.owner_id
                    ) = $2""",
            SEED,
            size,
        )
        loaded = found is None
        if found is None:
            await conn.execute(
                """DELETE FROM owner WHERE id IN (SELECT owner_id FROM bench_stats_meta
                                                 WHERE size = $1)""",
                size,
            )
            await conn.execute("DELETE FROM bench_stats_meta WHERE size = $1", size)
            found = await _load(conn, size)
        owner_id, key = found
        stores = await conn.fetch(
            "SELECT id FROM merchant WHERE owner_id = $1 ORDER BY external_id", owner_id
        )
        offers = await conn.fetch(
            """SELECT o.id FROM offer o JOIN merchant m ON m.id = o.merchant_id
               WHERE m.owner_id = $1 ORDER BY o.id""",
            owner_id,
        )
        return (key, [r[0] for r in stores], [r[0] for r in offers]), loaded
    finally:
        await conn.close()


async def _load(conn: asyncpg.Connection, size: int) -> tuple[uuid.UUID, str]:
    rng = np.random.default_rng(SEED + size)
    key = new_api_key()
    owner_id = await conn.fetchval(
        "INSERT INTO owner (name, api_key_hash) VALUES ($1, $2) RETURNING id",
        f"stats bench {size}",
        hashlib.sha256(key.encode()).digest(),
    )
    app_id = await conn.fetchval(
        """INSERT INTO app (name, app_key_hash, signing_secret) VALUES ($1, $2, 'x')
           RETURNING id""",
        f"stats bench {size}",
        secrets.token_bytes(32),
    )
    places: list[tuple[float, float]] = []
    offers: list[offers_bench._Offer] = []
    for n in range(STORES_PER_OWNER):
        _, clat, clng, tz = STORES[n % len(STORES)]
        lat = clat + rng.normal(0, 0.02)
        lng = clng + rng.normal(0, 0.02)
        store_id = await conn.fetchval(
            """INSERT INTO merchant (owner_id, external_id, name, category, location, h3,
                                     timezone)
               VALUES ($1, $2, $3, 'cafe', ST_SetSRID(ST_MakePoint($5, $4), 4326)::geography,
                       $6, $7) RETURNING id""",
            owner_id,
            f"stats-{size}-{n:02d}",
            f"Stats store {n}",
            lat,
            lng,
            cell_of(lat, lng),
            tz,
        )
        for _ in range(OFFERS_PER_STORE):
            fence = circle_fence(lat, lng, 500)
            offer_id = uuid.uuid4()
            record = (
                offer_id, store_id, "stats bench offer", json.dumps(fence.geojson),
                offers_bench._ewkb(fence.shape), lat, lng, 500.0,
                datetime(2020, 1, 1, tzinfo=UTC), None, None, 0,
            )  # fmt: skip
            offers.append(offers_bench._Offer(offer_id, fence.shape, record))
            places.append((lat, lng))
    await offers_bench._insert_offers(conn, offers)
    await conn.execute(
        "UPDATE offer SET per_user_limit = NULL WHERE id = ANY($1)", [o.id for o in offers]
    )
    shares = await _shares(conn, rng, [o.id for o in offers], app_id)
    now = datetime.now(UTC)
    first = now - timedelta(days=DAYS)
    batch = 200_000
    await conn.execute("SET maintenance_work_mem = '256MB'")
    for start in range(0, size, batch):
        k = min(batch, size - start)
        which = rng.integers(0, len(offers), k)
        at = rng.uniform(0, DAYS * 86400, k)
        redeem_after = rng.uniform(60, 2 * 86400, k)
        redeemed = rng.random(k) < 0.4
        users = rng.integers(0, max(1, size // 5), k)
        north, east = rng.normal(0, 150, k), rng.normal(0, 150, k)
        via = rng.random(k) < 0.1
        share_pick = rng.integers(0, SHARES_PER_OFFER, k)
        records = []
        for i in range(k):
            o = int(which[i])
            lat0, lng0 = places[o]
            lat = lat0 + north[i] / 111_320
            lng = lng0 + east[i] / (111_320 * math.cos(math.radians(lat0)))
            claimed_at = first + timedelta(seconds=float(at[i]))
            done = claimed_at + timedelta(seconds=float(redeem_after[i]))
            records.append(
                (
                    secrets.token_hex(13).upper(),
                    offers[o].id,
                    app_id,
                    f"user-{int(users[i])}",
                    claimed_at,
                    done if redeemed[i] and done < now else None,
                    cell_of(lat, lng, 9),
                    shares[o][int(share_pick[i])] if via[i] else None,
                )
            )
        await conn.copy_records_to_table(
            "claim",
            records=records,
            columns=[
                "code", "offer_id", "app_id", "user_id", "claimed_at", "redeemed_at", "cell",
                "share",
            ],
        )  # fmt: skip
    ids = [o.id for o in offers]
    await conn.execute(
        """INSERT INTO offer_stats (offer_id, t, claims, redemptions)
           SELECT offer_id, t, sum(c), sum(r) FROM (
               SELECT offer_id, date_bin('15 minutes', claimed_at, '2000-01-01 00:00+00') AS t,
                      1 AS c, 0 AS r FROM claim WHERE offer_id = ANY($1)
               UNION ALL
               SELECT offer_id, date_bin('15 minutes', redeemed_at, '2000-01-01 00:00+00'), 0, 1
               FROM claim WHERE offer_id = ANY($1) AND redeemed_at IS NOT NULL
           ) AS each GROUP BY offer_id, t""",
        ids,
    )
    await conn.execute(
        """UPDATE offer o SET claimed = c.n, redeemed = c.r
           FROM (SELECT offer_id, count(*) AS n, count(redeemed_at) AS r FROM claim
                 WHERE offer_id = ANY($1) GROUP BY offer_id) AS c
           WHERE o.id = c.offer_id""",
        ids,
    )
    await conn.execute(
        "INSERT INTO bench_stats_meta VALUES ($1, $2, $3, $4)", SEED, size, owner_id, key
    )
    for table in ("claim", "offer_stats", "share", "offer"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    return owner_id, key


async def _shares(
    conn: asyncpg.Connection,
    rng: np.random.Generator,
    offer_ids: list[uuid.UUID],
    app_id: uuid.UUID,
) -> list[list[str]]:
    """SHARES_PER_OFFER shares per offer in a random tree (each under a random earlier one, or
    a root one time in ten); their codes per offer."""
    out = []
    records = []
    for offer_id in offer_ids:
        codes: list[str] = []
        paths: list[list[str]] = []
        for n in range(SHARES_PER_OFFER):
            code = "".join(_ALPHABET[int(i)] for i in rng.integers(0, 62, 22))
            parent = int(rng.integers(0, n)) if n and rng.random() > 0.1 else None
            if parent is not None and len(paths[parent]) >= 32:  # the depth bound: a new root
                parent = None
            path = [*paths[parent], code] if parent is not None else [code]
            codes.append(code)
            paths.append(path)
            records.append(
                (
                    code, offer_id, app_id, f"sharer-{n}",
                    codes[parent] if parent is not None else None, len(path) - 1, path,
                )
            )  # fmt: skip
        out.append(codes)
    await conn.copy_records_to_table(
        "share",
        records=records,
        columns=["code", "offer_id", "app_id", "user_id", "parent", "depth", "path"],
    )
    return out
