"""The search statements walk the intended index under the generic plans the service uses.

Two GiST indexes cover `location` and the planner cannot tell them apart by cost, so the schema
makes the choice (see the first migration); these plans pin it. ../shared/BASELINES.md: the
wrong index of the two cost half the throughput.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries import search as search_sql
from app.queries.search import Filters
from spatial import parent_masks
from tests.factories import create_owner

CATEGORIES = ["coffee", "tea", "noodles", "books", "florist"]


@pytest.fixture
async def seeded(conn: AsyncConnection, driver: Any) -> Any:
    owner, _ = await create_owner(conn)
    rng = random.Random(7)
    await driver.executemany(
        """INSERT INTO merchant (owner_id, name, category, location, h3, timezone)
           VALUES ($1, $2, $3, ST_SetSRID(ST_MakePoint($4, $5), 4326)::geography, 0, 'UTC')""",
        [
            (
                owner.id,
                f"m{i}",
                rng.choice(CATEGORIES),
                121.4 + rng.random() * 0.2,
                31.1 + rng.random() * 0.2,
            )
            for i in range(3000)
        ],
    )
    await driver.execute("ANALYZE merchant")
    return driver


async def plan(driver: Any, statement: str, values: list[Any]) -> str:
    name = f"plan_{uuid.uuid4().hex[:8]}"
    await driver.execute(f"PREPARE {name} AS {statement}")
    try:
        arguments = ", ".join(_literal(v) for v in values)
        explained = await driver.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({arguments})")
        return explained if isinstance(explained, str) else json.dumps(explained)
    finally:
        await driver.execute(f"DEALLOCATE {name}")


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        value = "{" + ",".join(value) + "}"
    return "'" + str(value).replace("'", "''") + "'"


def _indexes(plan_json: str) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Index Name" in node:
                found.add(node["Index Name"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(json.loads(plan_json))
    return found


async def test_the_service_plans_generically(seeded: Any) -> None:
    assert await seeded.fetchval("SHOW plan_cache_mode") == "force_generic_plan"


async def test_nearby_without_category_walks_the_plain_location_index(seeded: Any) -> None:
    statement, values = search_sql.near_statement(
        search_sql.Near(lat=31.2, lng=121.5, filters=Filters(), window=28, radius_m=1000)
    )
    assert _indexes(await plan(seeded, statement, values)) == {"ix_merchant_location"}


async def test_nearby_with_one_category_walks_the_category_index(seeded: Any) -> None:
    statement, values = search_sql.near_statement(
        search_sql.Near(lat=31.2, lng=121.5, filters=Filters(["tea"]), window=28, radius_m=1000)
    )
    assert _indexes(await plan(seeded, statement, values)) == {"ix_merchant_category_location"}


async def test_nearby_with_several_categories_walks_the_category_index_once_each(
    seeded: Any,
) -> None:
    statement, values = search_sql.near_statement(
        search_sql.Near(
            lat=31.2, lng=121.5, filters=Filters(["tea", "books", "tea"]), window=28, radius_m=1000
        )
    )
    explained = await plan(seeded, statement, values)
    assert _indexes(explained) == {"ix_merchant_category_location"}
    assert explained.count('"Index Name": "ix_merchant_category_location"') == 2


async def test_nearby_with_text_and_hours_filters_still_walks_the_location_index(
    seeded: Any,
) -> None:
    filters = Filters((), "ab", datetime(2026, 11, 22, tzinfo=UTC))
    statement, values = search_sql.near_statement(
        search_sql.Near(lat=31.2, lng=121.5, filters=filters, window=28, radius_m=1000)
    )
    assert _indexes(await plan(seeded, statement, values)) == {"ix_merchant_location"}


async def test_a_viewport_walks_outward_from_its_centre(seeded: Any) -> None:
    statement, values = search_sql.near_statement(
        search_sql.Near(
            lat=31.2,
            lng=121.5,
            filters=Filters(),
            window=28,
            radius_m=8000,
            envelopes=[(121.45, 31.15, 121.55, 31.25)],
        )
    )
    assert _indexes(await plan(seeded, statement, values)) == {"ix_merchant_location"}


async def test_clusters_read_the_viewport_through_the_geometry_index(seeded: Any) -> None:
    keep, set_bits = parent_masks(9)
    statement, values = search_sql.cluster_statement(
        envelopes=[(121.45, 31.15, 121.55, 31.25)],
        keep_mask=keep,
        set_bits=set_bits,
        filters=Filters(),
        limit=100,
    )
    assert _indexes(await plan(seeded, statement, values)) == {"ix_merchant_location_geometry"}
