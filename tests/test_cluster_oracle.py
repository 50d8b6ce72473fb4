"""Cluster counts of GCJ-02 and BD-09 viewports against a brute-force oracle on real PostGIS:
convert every store to the request's system, keep those inside the box, count them per cell.

The stores crowd the box's edges on purpose (a hair inside or outside them, as the request's
system has it), near the mainland's outline (Shenzhen / Hong Kong, where GCJ-02 stops), inside
it (Shanghai), away from it (Paris) and astride the antimeridian.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import h3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection

from app import search
from app.queries.search import Filters
from spatial import BBox, CoordSystem, cell_of, from_wgs84, to_wgs84
from tests.factories import create_owner

# (lat, lng) of a corner near which each box lies
PLACES = [(22.50, 114.05), (31.20, 121.45), (48.85, 2.35), (10.0, 179.9), (-16.5, -179.99)]
SYSTEMS = [CoordSystem.GCJ02, CoordSystem.BD09]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    lat0, lng0 = draw(st.sampled_from(PLACES))
    height = draw(st.floats(0.0005, 0.3))
    width = draw(st.floats(0.0005, 0.3))
    min_lat = lat0 + draw(st.floats(-0.1, 0.1))
    min_lng = lng0 + draw(st.floats(-0.1, 0.1))
    max_lat, max_lng = min_lat + height, min_lng + width
    bbox = BBox(min_lat, _wrap(min_lng), max_lat, _wrap(max_lng))
    system = draw(st.sampled_from(SYSTEMS))
    positions = []  # in `system`: near the edges, and anywhere around the box
    for _ in range(draw(st.integers(0, 60))):
        side = draw(st.sampled_from(["lat", "lng", "any"]))
        lat = draw(st.floats(min_lat - 0.02, max_lat + 0.02))
        lng = draw(st.floats(min_lng - 0.02, max_lng + 0.02))
        hair = draw(st.floats(1e-7, 1e-3)) * draw(st.sampled_from([-1, 1]))
        if side == "lat":
            lat = draw(st.sampled_from([min_lat, max_lat])) + hair
        elif side == "lng":
            lng = draw(st.sampled_from([min_lng, max_lng])) + hair
        positions.append((max(-90.0, min(90.0, lat)), _wrap(lng)))
    return {
        "bbox": bbox,
        "system": system,
        "stores": [to_wgs84(lat, lng, system) for lat, lng in positions],
        "categories": draw(st.lists(st.sampled_from(["a", "b"]), min_size=len(positions))),
        "filter": draw(st.sampled_from([(), ("a",)])),
        "resolution": draw(st.integers(0, 12)),
    }


def _wrap(lng: float) -> float:
    return (lng + 180.0) % 360.0 - 180.0


def oracle(scenario: dict[str, Any]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for (lat, lng), category in zip(scenario["stores"], scenario["categories"], strict=False):
        if scenario["filter"] and category not in scenario["filter"]:
            continue
        if scenario["bbox"].contains(*from_wgs84(lat, lng, scenario["system"])):
            cell = h3.latlng_to_cell(lat, lng, 15)
            counts[h3.cell_to_parent(cell, scenario["resolution"])] += 1
    return counts


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenarios())
async def test_cluster_counts_match_the_converted_positions_exactly(
    conn: AsyncConnection, driver: Any, scenario: dict[str, Any]
) -> None:
    owner, _ = await create_owner(conn)
    async with conn.begin_nested() as savepoint:
        await driver.executemany(
            """INSERT INTO merchant (id, owner_id, name, category, location, h3, timezone)
               VALUES ($1, $2, 'm', $3, ST_SetSRID(ST_MakePoint($4, $5), 4326)::geography, $6,
               'UTC')""",
            [
                (uuid.uuid4(), owner.id, category, lng, lat, cell_of(lat, lng))
                for (lat, lng), category in zip(
                    scenario["stores"], scenario["categories"], strict=False
                )
            ],
        )
        result = await search.cluster_counts(
            driver,
            bbox=scenario["bbox"],
            coord=scenario["system"],
            resolution=scenario["resolution"],
            filters=Filters(categories=scenario["filter"]),
            limit=10_000,
        )
        await savepoint.rollback()
    assert {c.cell: c.count for c in result.clusters} == dict(oracle(scenario))
