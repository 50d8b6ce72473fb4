"""Case `nearby`: /v1/search/nearby (radius 1 km, limit 20) against the bare PostGIS query.

Targets (issue 2): the service at >= 0.8x the bare endpoint's requests/s, with a p99 no more than
1.25x the bare endpoint's, both in dense city centres and in sparse suburbs.
"""

from __future__ import annotations

from bench import data
from bench.harness import Row, alternate, server, versus


def run(database_url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    scenarios = {
        "dense centre": data.dense_points(5000, seed=1),
        "sparse suburbs": data.sparse_points(5000, seed=2),
    }
    rows: list[Row] = []
    with (
        server("app.main:create_app", database_url, factory=True) as service,
        server("bench.bare_app:app", database_url) as bare,
    ):
        for scenario, points in scenarios.items():
            loads = alternate(
                {"service": service, "bare": bare},
                {"service": "/v1/search/nearby", "bare": "/bare/nearby"},
                points,
                rounds=rounds,
                seconds=seconds,
                connections=connections,
                query={"service": "&radius=1000&limit=20", "bare": "&radius=1000"},
            )
            s, b = loads["service"], loads["bare"]
            if s.errors or b.errors:
                raise SystemExit(
                    f"bench: {s.errors} service and {b.errors} bare errors in {scenario}"
                )
            rows += versus("nearby", scenario, s, b)
    return rows
