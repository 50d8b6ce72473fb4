"""A seeded, city-clustered merchant set for the benchmarks, loaded once into its own database.

Cities get merchants in proportion to their weight, spread as a dense core (sigma ~1.5 km) and a
wider urban area (sigma ~8 km); a thin share is scattered over the countryside around them.
Categories follow a skewed (Zipf-like) mix, so some are common and some rare.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import asyncpg
import numpy as np

from app import opening_hours
from spatial import cell_of

SEED = 20261122


@dataclass(frozen=True)
class City:
    name: str
    lat: float
    lng: float
    weight: float
    timezone: str


CITIES = [
    City("Shanghai", 31.2304, 121.4737, 10, "Asia/Shanghai"),
    City("Beijing", 39.9042, 116.4074, 8, "Asia/Shanghai"),
    City("Shenzhen", 22.5431, 114.0579, 7, "Asia/Shanghai"),
    City("Guangzhou", 23.1291, 113.2644, 6, "Asia/Shanghai"),
    City("Chengdu", 30.5728, 104.0668, 5, "Asia/Shanghai"),
    City("Hangzhou", 30.2741, 120.1551, 4, "Asia/Shanghai"),
    City("Wuhan", 30.5928, 114.3055, 4, "Asia/Shanghai"),
    City("Xiamen", 24.4798, 118.0894, 2, "Asia/Shanghai"),
    City("Hong Kong", 22.3193, 114.1694, 3, "Asia/Hong_Kong"),
    City("Singapore", 1.3521, 103.8198, 3, "Asia/Singapore"),
    City("Tokyo", 35.6762, 139.6503, 6, "Asia/Tokyo"),
    City("Seoul", 37.5665, 126.9780, 4, "Asia/Seoul"),
    City("Helsinki", 60.1699, 24.9384, 1, "Europe/Helsinki"),
    City("London", 51.5074, -0.1278, 4, "Europe/London"),
    City("New York", 40.7128, -74.0060, 5, "America/New_York"),
    City("Sao Paulo", -23.5505, -46.6333, 4, "America/Sao_Paulo"),
]
CATEGORIES = [
    "restaurant",
    "cafe",
    "convenience",
    "clothes",
    "fast_food",
    "hairdresser",
    "pharmacy",
    "supermarket",
    "bakery",
    "bar",
    "bank",
    "books",
    "electronics",
    "florist",
    "jewelry",
    "optician",
    "bicycle",
    "toys",
    "tea",
    "karaoke",
]
HOURS = ["Mo-Su 08:00-22:00", "Mo-Fr 09:00-18:00; Sa 10:00-16:00", "Mo-Su 10:00-02:00", "24/7"]
CORE_SIGMA_M, URBAN_SIGMA_M, RURAL_RADIUS_M = 1_500, 8_000, 60_000
SHARES = (0.35, 0.55, 0.10)  # core, urban, countryside


def points(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lat, lng, city index) of n merchants."""
    weights = np.array([c.weight for c in CITIES], dtype=float)
    city = rng.choice(len(CITIES), size=n, p=weights / weights.sum())
    kind = rng.choice(3, size=n, p=SHARES)
    north = np.where(kind == 0, rng.normal(0, CORE_SIGMA_M, n), rng.normal(0, URBAN_SIGMA_M, n))
    east = np.where(kind == 0, rng.normal(0, CORE_SIGMA_M, n), rng.normal(0, URBAN_SIGMA_M, n))
    rural = kind == 2
    r = RURAL_RADIUS_M * np.sqrt(rng.random(rural.sum()))
    theta = rng.random(rural.sum()) * 2 * math.pi
    north[rural], east[rural] = r * np.cos(theta), r * np.sin(theta)
    clat = np.array([c.lat for c in CITIES])[city]
    clng = np.array([c.lng for c in CITIES])[city]
    lat = clat + north / 111_320.0
    lng = clng + east / (111_320.0 * np.cos(np.radians(clat)))
    return lat, lng, city


async def hold_loading_lock(conn: asyncpg.Connection) -> None:
    """Wait for, and hold until `conn` closes, the lock of loading bench data into its
    database: two benchmark runs checking and loading at once would both load (once, the
    offers' H3 coverings ended up twice in bench_offer_cell)."""
    await conn.execute("SELECT pg_advisory_lock(hashtext('nearby bench data'))")


async def ensure_loaded(url: str, n: int) -> bool:
    """Load n merchants into the database at `url` (already migrated) unless they are there.

    Returns True when it loaded. The marker table remembers seed and size.
    """
    conn = await asyncpg.connect(url)
    try:
        await hold_loading_lock(conn)
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_meta (seed bigint, size bigint)")
        if await conn.fetchval(
            "SELECT count(*) FROM bench_meta WHERE seed = $1 AND size = $2", SEED, n
        ):
            return False
        await conn.execute("TRUNCATE merchant, owner CASCADE; TRUNCATE bench_meta")
        owner_id = await conn.fetchval(
            "INSERT INTO owner (name, api_key_hash) VALUES ('bench', '\\x00') RETURNING id"
        )
        await _copy(conn, owner_id, n)
        await conn.execute("INSERT INTO bench_meta VALUES ($1, $2)", SEED, n)
        await conn.execute("VACUUM ANALYZE merchant")
        return True
    finally:
        await conn.close()


async def _copy(conn: asyncpg.Connection, owner_id: object, n: int) -> None:
    rng = np.random.default_rng(SEED)
    lat, lng, city = points(n, rng)
    zipf = 1.0 / np.arange(1, len(CATEGORIES) + 1)
    category = rng.choice(len(CATEGORIES), size=n, p=zipf / zipf.sum())
    hours = rng.choice(len(HOURS), size=n)
    minutes = [_multirange(opening_hours.parse(h)) for h in HOURS]
    await conn.execute(
        """CREATE TEMP TABLE staging (external_id text, name text, category text, lat float8,
           lng float8, h3 bigint, timezone text, opening_hours text, open_minutes text)"""
    )
    batch = 100_000
    for start in range(0, n, batch):
        rows = [
            (
                f"b-{i}",
                f"{CITIES[city[i]].name} {CATEGORIES[category[i]]} {i}",
                CATEGORIES[category[i]],
                float(lat[i]),
                float(lng[i]),
                cell_of(float(lat[i]), float(lng[i])),
                CITIES[city[i]].timezone,
                HOURS[hours[i]],
                minutes[hours[i]],
            )
            for i in range(start, min(n, start + batch))
        ]
        await conn.copy_records_to_table("staging", records=rows)
    await conn.execute(
        """INSERT INTO merchant (owner_id, external_id, name, category, location, h3, timezone,
                                 opening_hours, open_minutes)
           SELECT $1, external_id, name, category,
                  ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography, h3, timezone,
                  opening_hours, open_minutes::int4multirange
           FROM staging""",
        owner_id,
    )


def _multirange(intervals: list[tuple[int, int]]) -> str:
    return "{" + ",".join(f"[{a},{b})" for a, b in intervals) + "}"


def dense_points(n: int, seed: int) -> list[tuple[float, float]]:
    """Query points in city centres (within ~1 km of the centre)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c = CITIES[rng.integers(len(CITIES))]
        out.append(_offset(c, rng.normal(0, 700), rng.normal(0, 700)))
    return out


def sparse_points(n: int, seed: int) -> list[tuple[float, float]]:
    """Query points in outer suburbs and countryside (20-50 km from the centre)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        c = CITIES[rng.integers(len(CITIES))]
        r, theta = rng.uniform(20_000, 50_000), rng.uniform(0, 2 * math.pi)
        out.append(_offset(c, r * math.cos(theta), r * math.sin(theta)))
    return out


def _offset(city: City, north_m: float, east_m: float) -> tuple[float, float]:
    lat = city.lat + north_m / 111_320.0
    return lat, city.lng + east_m / (111_320.0 * math.cos(math.radians(city.lat)))


if __name__ == "__main__":
    import sys

    print(asyncio.run(ensure_loaded(sys.argv[1], int(sys.argv[2]))))
