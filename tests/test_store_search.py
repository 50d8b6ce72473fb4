"""An owner's store search (GET /v1/merchants?external_id=&q=) against a brute-force oracle, its
paging, its isolation between owners, and the trigram index it walks at chain scale."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries import merchants as merchants_sql
from tests.factories import owner_with_headers

NAMES = [
    "星巴克 厦门阿罗海店",
    "星巴克 上海南京路店",
    "喜茶 深圳海岸城店",
    "Starbucks Reserve Roastery",
    "STARBUCKS airport",
    "Tea 100% natural",
    "tea_house",
    "Coffee \\ Bar",
    "Kahvila Äiti",
]


async def stores(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every page of a listing."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/merchants", params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["results"]
        cursor = body["next_cursor"]
        if cursor is None:
            return found


@pytest.fixture
async def chain(
    client: httpx.AsyncClient, conn: AsyncConnection
) -> tuple[uuid.UUID, dict[str, str]]:
    owner_id, headers = await owner_with_headers(conn, "Chain")
    for i, name in enumerate(NAMES):
        body = {
            "external_id": f"S-{i:03d}",
            "name": name,
            "category": "coffee",
            "location": {"lat": 24.48 + i / 1000, "lng": 118.1},
        }
        response = await client.post("/v1/merchants", json=body, headers=headers)
        assert response.status_code == 201, response.text
    _, other = await owner_with_headers(conn, "Other chain")
    body = {"external_id": "S-000", "name": "星巴克 别家店", "category": "coffee",
            "location": {"lat": 24.5, "lng": 118.1}}  # fmt: skip
    assert (await client.post("/v1/merchants", json=body, headers=other)).status_code == 201
    return owner_id, headers


async def test_a_store_number_finds_that_one_store_of_the_owner_only(
    client: httpx.AsyncClient, chain: tuple[uuid.UUID, dict[str, str]]
) -> None:
    _, headers = chain
    found = await stores(client, headers, external_id="S-002")
    assert [s["name"] for s in found] == ["喜茶 深圳海岸城店"]
    assert await stores(client, headers, external_id="s-002") == []  # exact, as stored
    assert await stores(client, headers, external_id="S-0") == []  # not a prefix search


async def test_a_chinese_substring_finds_the_names_that_hold_it(
    client: httpx.AsyncClient, chain: tuple[uuid.UUID, dict[str, str]]
) -> None:
    _, headers = chain
    found = await stores(client, headers, q="巴克")
    assert sorted(s["name"] for s in found) == ["星巴克 上海南京路店", "星巴克 厦门阿罗海店"]
    assert [s["name"] for s in await stores(client, headers, q="阿罗海")] == ["星巴克 厦门阿罗海店"]


async def test_the_name_search_ignores_case_and_takes_wildcards_literally(
    client: httpx.AsyncClient, chain: tuple[uuid.UUID, dict[str, str]]
) -> None:
    _, headers = chain
    names = sorted(s["name"] for s in await stores(client, headers, q="starbucks"))
    assert names == ["STARBUCKS airport", "Starbucks Reserve Roastery"]
    assert [s["name"] for s in await stores(client, headers, q="100%")] == ["Tea 100% natural"]
    assert [s["name"] for s in await stores(client, headers, q="a_h")] == ["tea_house"]
    assert [s["name"] for s in await stores(client, headers, q="e \\ b")] == ["Coffee \\ Bar"]
    assert [s["name"] for s in await stores(client, headers, q="äiti")] == ["Kahvila Äiti"]
    assert len(await stores(client, headers, q="  ")) == len(NAMES)  # blank: no filter


async def test_both_filters_together_and_bad_ones(
    client: httpx.AsyncClient, chain: tuple[uuid.UUID, dict[str, str]], admin: dict[str, str]
) -> None:
    owner_id, headers = chain
    assert len(await stores(client, headers, q="星巴克", external_id="S-001")) == 1
    assert await stores(client, headers, q="喜茶", external_id="S-001") == []
    as_admin = await stores(client, admin, q="星巴克", owner_id=str(owner_id))
    assert len(as_admin) == 2
    for bad in ({"q": "x" * 201}, {"external_id": ""}, {"q": "a\x00"}):
        response = await client.get("/v1/merchants", params=bad, headers=headers)
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_cursor_of_one_search_does_not_page_another(
    client: httpx.AsyncClient, chain: tuple[uuid.UUID, dict[str, str]]
) -> None:
    _, headers = chain
    first = await client.get("/v1/merchants", params={"q": "a", "limit": 1}, headers=headers)
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    again = await client.get(
        "/v1/merchants", params={"q": "b", "limit": 1, "cursor": cursor}, headers=headers
    )
    assert again.status_code == 422


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(needle=st.text(alphabet="星巴克店aAsStT_%\\ e1", min_size=1, max_size=3))
async def test_the_name_search_equals_a_brute_force_scan(
    client: httpx.AsyncClient, chain: tuple[uuid.UUID, dict[str, str]], needle: str
) -> None:
    _, headers = chain
    expected = sorted(n for n in NAMES if needle.strip().lower() in n.lower())
    found = sorted(s["name"] for s in await stores(client, headers, q=needle))
    assert found == expected


async def test_the_owner_name_search_walks_the_trigram_index(
    conn: AsyncConnection, driver: Any
) -> None:
    """At chain scale (here 30,000 stores of one owner among others) a search for a rare name
    reads the trigram index, not every store of the owner in id order."""
    owner_id, _ = await owner_with_headers(conn, "Big chain")
    other_id, _ = await owner_with_headers(conn, "Neighbour")
    # Built after the rows, as a bulk load would: faster than 80,000 GIN insertions. DDL in the
    # test's transaction, rolled back with it.
    await driver.execute("DROP INDEX ix_merchant_owner_id_name_trgm")
    await driver.execute(
        """INSERT INTO merchant (owner_id, external_id, name, category, location, h3, timezone)
           SELECT CASE WHEN g % 4 = 0 THEN $2::uuid ELSE $1::uuid END, 'N-' || g,
                  '门店 ' || md5(g::text), 'coffee',
                  ST_SetSRID(ST_MakePoint(121 + g / 1e6, 31), 4326)::geography, 0, 'UTC'
           FROM generate_series(1, 40000) g""",
        owner_id,
        other_id,
    )
    await driver.execute(
        "CREATE INDEX ix_merchant_owner_id_name_trgm ON merchant"
        " USING gin (owner_id, name gin_trgm_ops)"
    )
    await driver.execute("ANALYZE merchant")
    stmt = merchants_sql.owner_stores(
        owner_id=owner_id, after=None, limit=21, external_id=None, name_contains="a1b2c"
    )
    dialect = pg_asyncpg.dialect()  # type: ignore[no-untyped-call]
    sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    explained = await driver.fetchval(f"EXPLAIN (FORMAT JSON) {sql}")
    assert "ix_merchant_owner_id_name_trgm" in json.dumps(explained)
