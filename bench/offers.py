"""Case `offers`: /v1/offers/here against the bare PostGIS query, and a claim storm.

Targets (issue 3): over 100,000 offers with 16 clients, the service at >= 0.8x the bare
endpoint's requests/s with a p99 no more than 1.25x the bare endpoint's; claims at >= 1,000
codes/s over HTTP, and not one code more than an offer's quantity.

- offers/here: query points mostly inside fences (a random point of a random offer's fence), a
  tenth in the countryside. The bare endpoint (bench/bare_app.py) runs the plain query:
  ST_Covers on the fence (+ ST_DWithin for circles), the window, the stock, ORDER BY distance
  to the store LIMIT 20, and returns the same fields.
- H3 evidence: the same bare query with its candidates taken from an H3 covering (each fence's
  cells at resolution 9, overlapping mode, in table bench_offer_cell) instead of the GiST
  index, over HTTP and as bare SQL on 16 connections, with its results checked against the
  GiST query's. The service uses H3 only if this wins (see the README). Like an index, the
  covering holds every offer the bench stores, the storms' too (`_insert_offers`): an offer
  without cells is one the GiST query finds and the H3 query cannot (with a storm's 2,020
  circles in the table, 143 of 1,000 query points differed).
- Claim storms, each request from a new user of one of STORM_APPS apps in turn (their keys;
  the rate limits on; a new user per request never meets the per-user limit, and the per-app
  limit is raised in SERVICE_ENV so that the storm measures the limits' cost, not their
  refusals: at the default 6,000 a minute, 1,000 claims/s would take 10 apps at their
  limit): over 2,000 offers of 20 codes (stock to spare),
  once without and once with an Idempotency-Key per request (codes/s), once naming a share of
  the offer (the deepest of a chain of SHARE_CHAIN shares made for the storm: attribution is
  stored on the claim in the same statement), then on 20 "hot" offers
  of 50 codes until well past sold out (then 409s). Afterwards the database is checked: codes
  stored == the offers' counters == 201s counted by wrk (give or take the requests in flight
  when wrk stops), every hot offer holds exactly its quantity, none more.

The 100,000 offers are loaded once (table bench_offers_meta remembers seed and size) on the
merchants of bench/data.py; a storm's offers are made for it and deleted after.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import asyncpg
import h3.api.basic_int as h3i
import httpx
import numpy as np
import shapely

from bench import data
from bench.bare_app import OFFERS_HERE, OFFERS_HERE_H3
from bench.harness import Row, alternate, run_wrk, server, versus
from spatial import CoordSystem, circle_fence, polygon_fence
from spatial.geofence import covering_cells

SEED = 20261123
OFFERS = 100_000
OFFER_BATCH = 100_000
H3_RES = 9
ACTIVE_FROM = datetime(2026, 1, 1, tzinfo=UTC)
CLAIMS_LUA = Path(__file__).with_name("claims.lua")
HOT_OFFERS, HOT_QUANTITY = 20, 50
COLD_OFFERS, COLD_QUANTITY = 2_000, 30  # three runs of ~10 s at ~1,500 codes/s leave stock
SHARE_CHAIN = 3  # shares per cold offer, each below the one before
ADMIN_KEY = "bench-admin-key"
STORM_APPS = 16
# The service as the storms need it: an admin key to make their apps, and the apps' limit far
# above what one process can claim (the counters are still written on every claim).
SERVICE_ENV = {"NEARBY_ADMIN_KEY": ADMIN_KEY, "NEARBY_APP_CLAIMS_PER_MINUTE": "1000000000"}


def run(database_url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    started = time.monotonic()
    if asyncio.run(ensure_offers(database_url)):
        print(f"bench: loaded {OFFERS:,} offers in {time.monotonic() - started:.0f} s", flush=True)
    points = asyncio.run(query_points(database_url, 5000, seed=3))
    rows: list[Row] = []
    with (
        server("app.main:create_app", database_url, factory=True, env=SERVICE_ENV) as service,
        server("bench.bare_app:app", database_url) as bare,
    ):
        loads = alternate(
            {"service": service, "bare": bare, "bare H3": bare},
            {
                "service": "/v1/offers/here",
                "bare": "/bare/offers_here",
                "bare H3": "/bare/offers_here_h3",
            },
            points,
            rounds=rounds,
            seconds=seconds,
            connections=connections,
            query={"service": "&limit=20"},
        )
        errors = {name: load.errors for name, load in loads.items() if load.errors}
        if errors:
            raise SystemExit(f"bench: errors in offers/here: {errors}")
        s, b, h = loads["service"], loads["bare"], loads["bare H3"]
        rows += versus("offers", f"{OFFERS // 1000}k offers, here", s, b)
        rows += versus("offers", "H3 vs GiST, HTTP", h, b, targets=False, p50=False)
        rows += claim_storm(
            service, database_url, seconds=seconds, rounds=rounds, connections=connections
        )
    rows += asyncio.run(sql_only(database_url, points, seconds=seconds, connections=connections))
    return rows


# ---------------------------------------------------------------------------------- the data


async def ensure_offers(url: str, size: int = OFFERS) -> bool:
    """Load `size` offers unless they are there; True when it loaded.

    Their H3 coverings too when `size` is OFFERS, the set of this case, whose H3 variant reads
    them: covering a fence costs more than making it, and the larger and smaller sets of
    bench/scale_data.py are only read through the GiST index."""
    conn = await asyncpg.connect(url)
    try:
        await data.hold_loading_lock(conn)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS bench_offers_meta (seed bigint, size bigint);
               CREATE TABLE IF NOT EXISTS bench_offer_cell (cell bigint NOT NULL,
                                                            offer_id uuid NOT NULL)"""
        )
        # Reloading the merchants (bench/data.py) empties `offer` by cascade, not the marker.
        if await conn.fetchval(
            """SELECT EXISTS (SELECT FROM bench_offers_meta WHERE seed = $1 AND size = $2)
                      AND EXISTS (SELECT FROM offer WHERE title = 'bench offer')""",
            SEED,
            size,
        ):
            return False
        await conn.execute("TRUNCATE offer CASCADE; TRUNCATE bench_offer_cell, bench_offers_meta")
        await conn.execute("DROP INDEX IF EXISTS bench_offer_cell_cell")
        merchants = await conn.fetchval("SELECT size FROM bench_meta LIMIT 1")
        rng = np.random.default_rng(SEED)
        picked = rng.choice(merchants, size=size, replace=False)
        for start in range(0, size, OFFER_BATCH):  # in batches: 1M shapes do not fit in memory
            stores = await conn.fetch(
                """SELECT m.id, ST_Y(m.location::geometry), ST_X(m.location::geometry)
                   FROM unnest($1::text[]) WITH ORDINALITY AS p(external_id, n)
                   JOIN merchant m ON m.external_id = p.external_id ORDER BY p.n""",
                [f"b-{i}" for i in picked[start : start + OFFER_BATCH]],
            )
            await _insert_offers(
                conn,
                [_offer(rng, store_id, lat, lng) for store_id, lat, lng in stores],
                cells=size == OFFERS,
            )
        await conn.execute("CREATE INDEX bench_offer_cell_cell ON bench_offer_cell (cell)")
        await conn.execute("INSERT INTO bench_offers_meta VALUES ($1, $2)", SEED, size)
        await conn.execute("VACUUM ANALYZE offer")
        await conn.execute("VACUUM ANALYZE bench_offer_cell")
        return True
    finally:
        await conn.close()


@dataclass(frozen=True)
class _Offer:
    id: uuid.UUID
    shape: Any
    record: tuple[Any, ...]


def _offer(rng: np.random.Generator, store_id: uuid.UUID, lat: float, lng: float) -> _Offer:
    """One offer around its store: a circle (55%) or an irregular polygon of 6-40 vertices,
    radii around 300 m; 80% active, 10% ended, 10% not started; 60% with a quantity, some sold
    out."""
    offer_id = uuid.UUID(int=int(rng.integers(0, 2**62)) << 64 | int(rng.integers(0, 2**62)))
    size_m = float(np.clip(math.exp(rng.normal(math.log(300), 0.7)), 60, 3000))
    if rng.random() < 0.55:
        fence = circle_fence(lat, lng, size_m)
    else:
        k = int(rng.integers(6, 41))
        angles = (np.arange(k) + rng.uniform(-0.3, 0.3, k)) * 2 * math.pi / k
        reach = size_m * rng.uniform(0.5, 1.0, k)
        ring = [
            [
                lng + r * math.cos(a) / (111_320 * math.cos(math.radians(lat))),
                lat + r * math.sin(a) / 111_320,
            ]
            for a, r in zip(angles, reach, strict=True)
        ]
        fence = polygon_fence("Polygon", [ring + ring[:1]], CoordSystem.WGS84)
    window = rng.random()
    starts = datetime(2099, 1, 1, tzinfo=UTC) if window < 0.1 else ACTIVE_FROM
    ends = datetime(2026, 2, 1, tzinfo=UTC) if 0.1 <= window < 0.2 else None
    quantity = int(rng.integers(50, 1001)) if rng.random() < 0.6 else None
    claimed = quantity if quantity is not None and rng.random() < 0.08 else 0
    circle = fence.circle
    record = (
        offer_id,
        store_id,
        "bench offer",
        json.dumps(fence.geojson),
        _ewkb(fence.shape),
        circle.lat if circle else None,
        circle.lng if circle else None,
        circle.radius_m if circle else None,
        starts,
        ends,
        quantity,
        claimed,
    )
    return _Offer(offer_id, fence.shape, record)


_STAGING = """CREATE TEMP TABLE IF NOT EXISTS offer_staging (
    id uuid, merchant_id uuid, title text, geofence text, fence bytea, lat float8, lng float8,
    radius_m float8, starts_at timestamptz, ends_at timestamptz, quantity int, claimed int)"""


async def _insert_offers(
    conn: asyncpg.Connection, offers: list[_Offer], *, cells: bool = True
) -> None:
    """COPY the offers in, through a staging table (asyncpg has no binary codec for PostGIS
    types), and with `cells` their covering cells into bench_offer_cell: every offer the offers
    case stores has them, or the H3 query would miss it (see the module docstring)."""
    await conn.execute(_STAGING)
    await conn.execute("TRUNCATE offer_staging")
    await conn.copy_records_to_table("offer_staging", records=[o.record for o in offers])
    await conn.execute(
        """INSERT INTO offer (id, merchant_id, title, geofence, fence, center, radius_m,
                              starts_at, ends_at, quantity, claimed, per_user_limit)
           SELECT id, merchant_id, title, geofence::jsonb, ST_GeomFromEWKB(fence),
                  ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, radius_m,
                  starts_at, ends_at, quantity, claimed, 1
           FROM offer_staging"""
    )
    if cells:
        covering = [(cell, o.id) for o in offers for cell in covering_cells(o.shape, H3_RES)]
        await conn.copy_records_to_table("bench_offer_cell", records=covering)


def _ewkb(shape: Any) -> bytes:
    return bytes(shapely.to_wkb(shapely.set_srid(shape, 4326), include_srid=True))


async def query_points(url: str, n: int, *, seed: int) -> list[tuple[float, float]]:
    """n points: nine in ten inside the fence of a random offer (within 0.9 of a circle's
    radius, within 20 m of a polygon's store), one in ten in the countryside."""
    rng = np.random.default_rng(seed)
    conn = await asyncpg.connect(url)
    try:
        inside = await conn.fetch(
            """SELECT ST_Y(coalesce(o.center, m.location)::geometry),
                      ST_X(coalesce(o.center, m.location)::geometry),
                      coalesce(o.radius_m * 0.9, 20)
               FROM offer o JOIN merchant m ON m.id = o.merchant_id
               WHERE o.title = 'bench offer' ORDER BY o.id LIMIT $1""",
            n - n // 10,
        )
    finally:
        await conn.close()
    points = []
    for lat, lng, reach_m in inside:
        r, theta = reach_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        points.append(
            (
                lat + r * math.sin(theta) / 111_320,
                lng + r * math.cos(theta) / (111_320 * math.cos(math.radians(lat))),
            )
        )
    points += data.sparse_points(n // 10, seed=seed)
    order = rng.permutation(len(points))
    return [points[i] for i in order]


# ------------------------------------------------------------------------------- claim storm


def claim_storm(port: int, url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    """Per round, on offers of its own: claims without and with an Idempotency-Key on plenty of
    stock, then a sell-out on the hot offers; then the database is checked. A short round warms
    up first."""
    apps = [_new_app(port) for _ in range(STORM_APPS)]
    keys = ",".join(key for _, key in apps)
    try:
        sharer = apps[0][0]
        _storm_round(port, url, keys, sharer, seconds=min(3.0, seconds), connections=connections)
        runs = [
            _storm_round(port, url, keys, sharer, seconds=seconds, connections=connections)
            for _ in range(rounds)
        ]
    finally:
        for app_id, _ in apps:
            _revoke_app(port, app_id)

    def mid(name: str) -> float:
        values: list[float] = [r[name] for r in runs]
        return median(values)

    oversold = sum(r["oversold"] for r in runs)
    consistent = all(r["consistent"] for r in runs)
    sold = HOT_OFFERS * HOT_QUANTITY
    return [
        _row(
            "claims, no key",
            "codes/s",
            mid("plain_per_s"),
            None,
            ">= 1,000",
            mid("plain_per_s") >= 1000,
        ),
        _row("claims, no key", "p50 ms", mid("plain_p50"), None, "", None, digits=2),
        _row("claims, no key", "p99 ms", mid("plain_p99"), None, "", None, digits=2),
        _row("claims, Idempotency-Key", "codes/s", mid("keyed_per_s"), None, "", None),
        _row("claims, Idempotency-Key", "p99 ms", mid("keyed_p99"), None, "", None, digits=2),
        _row(
            "claims, through a share",
            "codes/s",
            mid("shared_per_s"),
            mid("plain_per_s"),
            ">= 1,000",
            mid("shared_per_s") >= 1000,
        ),
        _row("claims, through a share", "p99 ms", mid("shared_p99"), None, "", None, digits=2),
        Row(
            "offers",
            "claims, through a share",
            "attributed",
            f"{mid('attributed'):,.0f}",
            "",
            "",
            "= codes",
            all(r["attributed_ok"] for r in runs),
        ),
        Row(
            "offers",
            f"sell-out, {HOT_OFFERS} x {HOT_QUANTITY} codes",
            "codes issued",
            f"{mid('hot_codes'):,.0f}",
            f"{sold:,}",
            f"{mid('hot_refused'):,.0f} x 409",
            "= quantity",
            all(r["hot_codes"] == sold for r in runs),
        ),
        Row(
            "offers",
            "all claim storms",
            "oversold codes",
            str(oversold),
            "",
            "",
            "0",
            oversold == 0 and consistent,
        ),
    ]


def _new_app(port: int) -> tuple[str, str]:
    """A new app of the service for the storms: its id and key."""
    made = httpx.post(
        f"http://127.0.0.1:{port}/v1/apps",
        json={"name": "bench storms"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    made.raise_for_status()
    return str(made.json()["id"]), str(made.json()["app_key"])


def _revoke_app(port: int, app_id: str) -> None:
    httpx.delete(
        f"http://127.0.0.1:{port}/v1/apps/{app_id}",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ).raise_for_status()


def _storm_round(
    port: int, url: str, app_keys: str, sharer: str, *, seconds: float, connections: int
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    offers = asyncio.run(_storm_offers(url, run_id))
    hot, cold = offers[:HOT_OFFERS], offers[HOT_OFFERS:]
    ids = [o for o, _, _ in offers]
    shares = asyncio.run(_storm_shares(url, [o for o, _, _ in cold], uuid.UUID(sharer)))
    try:
        plain = _wrk_claims(
            port,
            cold,
            f"{run_id}p",
            app_keys,
            keyed=False,
            seconds=seconds,
            connections=connections,
        )
        keyed = _wrk_claims(
            port, cold, f"{run_id}k", app_keys, keyed=True, seconds=seconds, connections=connections
        )
        shared = _wrk_claims(
            port,
            cold,
            f"{run_id}s",
            app_keys,
            keyed=False,
            seconds=seconds,
            connections=connections,
            shares=shares,
        )
        sell = _wrk_claims(
            port,
            hot,
            f"{run_id}h",
            app_keys,
            keyed=False,
            seconds=min(seconds, 5.0),
            connections=connections,
        )
        checked = asyncio.run(_check_storm(url, ids))
    finally:
        asyncio.run(_drop_storm(url, ids))
    answered = plain["created"] + keyed["created"] + shared["created"] + sell["created"]
    # wrk stops counting with requests in flight: those may still have claimed a code.
    consistent = (
        checked["codes"] == checked["counted"]
        and 0 <= checked["codes"] - answered <= 3 * connections
    )
    return {
        "plain_per_s": plain["created"] / plain["seconds"],
        "plain_p50": plain["p50_ms"],
        "plain_p99": plain["p99_ms"],
        "keyed_per_s": keyed["created"] / keyed["seconds"],
        "keyed_p99": keyed["p99_ms"],
        "shared_per_s": shared["created"] / shared["seconds"],
        "shared_p99": shared["p99_ms"],
        "attributed": checked["attributed"],
        "attributed_ok": 0 <= checked["attributed"] - shared["created"] <= connections,
        "hot_codes": checked["hot_codes"],
        "hot_refused": sell["refused"],
        "oversold": checked["oversold"],
        "consistent": consistent,
    }


def _wrk_claims(
    port: int,
    offers: list[tuple[uuid.UUID, float, float]],
    run_id: str,
    app_keys: str,
    *,
    keyed: bool,
    seconds: float,
    connections: int,
    shares: dict[uuid.UUID, str] | None = None,
) -> dict[str, float]:
    """With `shares` (offer -> share code), every claim names its offer's share."""
    path = f"/tmp/bench-claims-{run_id}.txt"
    with open(path, "w") as f:
        f.writelines(
            f"{o},{lat!r},{lng!r}" + (f",{shares[o]}" if shares else "") + "\n"
            for o, lat, lng in offers
        )
    env = {
        "BENCH_OFFERS": path,
        "BENCH_RUN": run_id,
        "BENCH_KEYED": "1" if keyed else "0",
        "BENCH_APP_KEYS": app_keys,
    }
    try:
        out = run_wrk(port, CLAIMS_LUA, env, seconds=seconds, connections=connections)
    finally:
        os.unlink(path)
    requests, duration_s, refused, p50_ms, p99_ms = _parse(out)
    return {
        "created": requests - refused,
        "refused": refused,
        "seconds": duration_s,
        "p50_ms": p50_ms,
        "p99_ms": p99_ms,
    }


async def _storm_offers(url: str, run_id: str) -> list[tuple[uuid.UUID, float, float]]:
    """HOT_OFFERS + COLD_OFFERS fresh offers, each a 300 m circle around a bench store."""
    conn = await asyncpg.connect(url)
    try:
        stores = await conn.fetch(
            """SELECT id, ST_Y(location::geometry), ST_X(location::geometry) FROM merchant
               WHERE external_id = ANY($1::text[])""",
            [f"b-{i}" for i in range(HOT_OFFERS + COLD_OFFERS)],
        )
        offers, out = [], []
        for n, (store_id, lat, lng) in enumerate(stores):
            fence = circle_fence(lat, lng, 300)
            offer_id = uuid.uuid4()
            quantity = HOT_QUANTITY if n < HOT_OFFERS else COLD_QUANTITY
            geojson = json.dumps(fence.geojson)
            record = (
                offer_id,
                store_id,
                f"storm {run_id}",
                geojson,
                _ewkb(fence.shape),
                lat,
                lng,
                300.0,
                ACTIVE_FROM,
                None,
                quantity,
                0,
            )
            offers.append(_Offer(offer_id, fence.shape, record))
            out.append((offer_id, lat, lng))
        await _insert_offers(conn, offers)
        return out
    finally:
        await conn.close()


async def _storm_shares(
    url: str, offer_ids: list[uuid.UUID], app_id: uuid.UUID
) -> dict[uuid.UUID, str]:
    """A chain of SHARE_CHAIN shares on each offer (by users of `app_id`); the deepest's code."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            """WITH RECURSIVE chain AS (
                   SELECT o AS offer_id, 0 AS depth, NULL::text AS parent,
                          ARRAY[replace(gen_random_uuid()::text, '-', '')] AS path
                   FROM unnest($1::uuid[]) AS o
                   UNION ALL
                   SELECT offer_id, depth + 1, path[depth + 1],
                          path || replace(gen_random_uuid()::text, '-', '')
                   FROM chain WHERE depth + 1 < $3
               ), made AS (
                   INSERT INTO share (code, offer_id, app_id, user_id, parent, depth, path)
                   SELECT path[depth + 1], offer_id, $2, 'sharer-' || depth, parent, depth, path
                   FROM chain
                   RETURNING offer_id, code, depth
               )
               SELECT offer_id, code FROM made WHERE depth = $3 - 1""",
            offer_ids,
            app_id,
            SHARE_CHAIN,
        )
        return {row[0]: row[1] for row in rows}
    finally:
        await conn.close()


async def _check_storm(url: str, offer_ids: list[uuid.UUID]) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM claim WHERE offer_id = ANY($1)),
                      sum(claimed), sum(greatest(claimed - quantity, 0)),
                      sum(claimed) FILTER (WHERE quantity = $2),
                      (SELECT count(*) FROM claim
                       WHERE offer_id = ANY($1) AND share IS NOT NULL)
               FROM offer WHERE id = ANY($1)""",
            offer_ids,
            HOT_QUANTITY,
        )
        codes, counted, oversold, hot, attributed = row
        return {
            "codes": codes,
            "counted": counted,
            "oversold": oversold,
            "hot_codes": hot,
            "attributed": attributed,
        }
    finally:
        await conn.close()


async def _drop_storm(url: str, offer_ids: list[uuid.UUID]) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM offer WHERE id = ANY($1)", offer_ids)
        await conn.execute("DELETE FROM bench_offer_cell WHERE offer_id = ANY($1)", offer_ids)
    finally:
        await conn.close()


def _parse(out: str) -> tuple[int, float, int, float, float]:
    """wrk's summary: requests, seconds, non-2xx responses, p50 and p99 in ms."""
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    assert found is not None, out
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[found.group(3)]
    refused = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))

    def percentile(p: str) -> float:
        hit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert hit is not None, out
        return float(hit.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[hit.group(2)]

    if re.search(r"Socket errors", out):
        raise SystemExit(f"bench: socket errors in the claim storm:\n{out}")
    return (
        int(found.group(1)),
        float(found.group(2)) * scale,
        refused,
        percentile("50"),
        percentile("99"),
    )


# --------------------------------------------------------------------------- bare SQL: H3 vs GiST


async def sql_only(
    url: str, points: list[tuple[float, float]], *, seconds: float, connections: int
) -> list[Row]:
    """Both bare queries straight on `connections` connections: same results, then q/s."""
    pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)
    try:
        async with pool.acquire() as conn:
            differ = await differing(conn, points[:1000])
        rates: dict[str, list[float]] = {"gist": [], "h3": []}
        for _ in range(3):
            for name in rates:
                rates[name].append(await _drive(pool, name, points, seconds=min(seconds, 5.0)))
    finally:
        await pool.close()
    gist, h3 = median(rates["gist"]), median(rates["h3"])
    return [
        _row("H3 vs GiST, bare SQL", "queries/s", h3, gist, "", None),
        Row(
            "offers",
            "H3 vs GiST, bare SQL",
            "differing results",
            f"{differ} of 1,000",
            "",
            "",
            "0",
            differ == 0,
        ),
    ]


async def differing(conn: asyncpg.Connection, points: list[tuple[float, float]]) -> int:
    """At how many of the points the H3 query's offers (all of them, not 20) differ from the
    GiST query's, both at the same instant."""
    now = datetime.now(UTC)
    differ = 0
    for lat, lng in points:
        gist = await conn.fetch(OFFERS_HERE, lat, lng, now, 1000)
        cells = await conn.fetch(OFFERS_HERE_H3, lat, lng, now, 1000, _cell(lat, lng))
        differ += {r["id"] for r in gist} != {r["id"] for r in cells}
    return differ


async def _drive(
    pool: asyncpg.Pool, name: str, points: list[tuple[float, float]], *, seconds: float
) -> float:
    deadline = time.monotonic() + seconds
    done = 0
    now = datetime.now(UTC)

    async def client(offset: int) -> None:
        nonlocal done
        i = offset * 7919
        async with pool.acquire() as conn:
            while time.monotonic() < deadline:
                lat, lng = points[i % len(points)]
                if name == "gist":
                    await conn.fetch(OFFERS_HERE, lat, lng, now, 20)
                else:
                    await conn.fetch(OFFERS_HERE_H3, lat, lng, now, 20, _cell(lat, lng))
                done += 1
                i += 1

    started = time.monotonic()
    await asyncio.gather(*(client(k) for k in range(pool.get_max_size())))
    return done / (time.monotonic() - started)


def _cell(lat: float, lng: float) -> int:
    return int(h3i.latlng_to_cell(lat, lng, H3_RES))


def _row(
    scenario: str,
    what: str,
    value: float,
    baseline: float | None,
    target: str,
    ok: bool | None,
    digits: int = 0,
) -> Row:
    ratio = f"{value / baseline:.2f}x" if baseline else ""
    return Row(
        "offers",
        scenario,
        what,
        f"{value:,.{digits}f}",
        f"{baseline:,.{digits}f}" if baseline is not None else "",
        ratio,
        target,
        ok,
    )
