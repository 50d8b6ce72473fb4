"""python -m bench [CASE ...]: load the benchmark data, run the cases, print one table.

Every case measures the service against a bare baseline in the same run (machines are noisy;
ratios travel, absolute numbers do not). The data set is loaded once into its own database,
`nearby_bench` (or --database), on the server of DATABASE_URL, and reused while its seed and
size match.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import time

from bench import (
    data,
    events,
    harness,
    home,
    imports,
    nearby,
    offers,
    scale,
    scale_data,
    stats,
    track,
)

CASES = {
    "nearby": nearby.run,
    "offers": offers.run,
    "home": home.run,
    "imports": imports.run,
    "events": events.run,
    "stats": stats.run,
    "track": track.run,
    "scale": scale.run,
}
# What a run without named cases runs: `scale` loads 5M merchants first, so it is asked for.
DEFAULT = ["nearby", "offers", "home", "imports", "events"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "cases", nargs="*", choices=[*CASES, []], help=f"default: {' '.join(DEFAULT)}"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="merchants to load")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--database",
        default="nearby_bench",
        help="database for the data set, on the server of DATABASE_URL (created and migrated)",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(size.name for size in scale_data.SIZES),
        help="scale: the data set sizes to measure growth on (comma-separated; 'none')",
    )
    parser.add_argument(
        "--no-pair", action="store_true", help="scale: skip the workers and replica part"
    )
    parser.add_argument(
        "--no-offers", action="store_true", help="scale: growth of the searches only"
    )
    args = parser.parse_args()
    CASES["scale"] = functools.partial(
        scale.run,
        sizes=[s for s in args.sizes.split(",") if s != "none"],
        pair=not args.no_pair,
        offers_here=not args.no_offers,
    )

    url = harness.bench_database(os.environ["DATABASE_URL"], args.database)
    started = time.monotonic()
    if asyncio.run(data.ensure_loaded(url, args.rows)):
        print(
            f"bench: loaded {args.rows:,} merchants in {time.monotonic() - started:.0f} s",
            flush=True,
        )
    rows = []
    for name in args.cases or DEFAULT:
        rows += CASES[name](
            url, seconds=args.seconds, rounds=args.rounds, connections=args.connections
        )
    harness.print_table(rows)


if __name__ == "__main__":
    main()
