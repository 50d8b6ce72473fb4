"""The data sets of case `scale`: merchants and offers at three sizes, one database each.

Each size lives in its own database on the server of DATABASE_URL and is reused while its seed
and size match (bench/data.py and bench/offers.py keep the markers); the 1M set is the one every
other case uses (`nearby_bench`). Loading is COPY into a staging table and one INSERT .. SELECT.
`python -m bench.scale_data` loads all three.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from bench import data, harness, offers


@dataclass(frozen=True)
class Size:
    name: str
    merchants: int
    offers: int
    database: str


SIZES = (
    Size("100k", 100_000, 10_000, "nearby_bench_100k"),
    Size("1M", 1_000_000, 100_000, "nearby_bench"),
    Size("5M", 5_000_000, 1_000_000, "nearby_bench_5m"),
)


def ensure(base_url: str, size: Size, *, with_offers: bool = True) -> str:
    """The URL of `size`'s database, loaded (printing how long a load took); its offers only
    `with_offers` (1M offers take many minutes: their fences are made in Python)."""
    url = harness.bench_database(base_url, size.database)
    started = time.monotonic()
    if asyncio.run(data.ensure_loaded(url, size.merchants)):
        print(f"bench: {size.name}: loaded merchants in {time.monotonic() - started:.0f} s")
    started = time.monotonic()
    if with_offers and asyncio.run(offers.ensure_offers(url, size.offers)):
        print(f"bench: {size.name}: loaded offers in {time.monotonic() - started:.0f} s")
    return url


if __name__ == "__main__":
    for size in SIZES:
        ensure(os.environ["DATABASE_URL"], size)
