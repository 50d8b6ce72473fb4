"""offers/here finds fences through the GiST index on `fence` under the service's generic plans,
with or without a category, and joins each store by its key; a claim touches only its offer."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries import offers as offers_sql
from app.queries.claims import _preflight_statement, _take_statement
from spatial import circle_fence
from tests.factories import create_app, create_owner
from tests.test_query_plans import _indexes, plan

AT = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
async def seeded(conn: AsyncConnection, driver: Any) -> Any:
    owner, _ = await create_owner(conn)
    rng = random.Random(11)
    stores = [
        (
            owner.id,
            f"m{i}",
            rng.choice(["tea", "coffee"]),
            121.4 + rng.random() * 0.2,
            31.1 + rng.random() * 0.2,
        )
        for i in range(1000)
    ]
    ids = await driver.fetch(
        """INSERT INTO merchant (owner_id, name, category, location, h3, timezone)
           SELECT o, n, c, ST_SetSRID(ST_MakePoint(x, y), 4326)::geography, 0, 'UTC'
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::float8[], $5::float8[])
                AS s(o, n, c, x, y)
           RETURNING id, ST_Y(location::geometry), ST_X(location::geometry)""",
        *map(list, zip(*stores, strict=True)),
    )
    rows = []
    for merchant_id, lat, lng in ids * 3:
        fence = circle_fence(lat, lng, rng.uniform(100, 2000))
        rows.append(
            (
                merchant_id,
                fence.shape.wkt,
                lat,
                lng,
                fence.circle.radius_m if fence.circle else None,
            )
        )
    await driver.executemany(
        """INSERT INTO offer (merchant_id, title, geofence, fence, center, radius_m, starts_at)
           VALUES ($1, 't', '{}', ST_GeomFromText($2, 4326),
                   ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography, $5, '2026-01-01Z')""",
        rows,
    )
    # Counters and kept Idempotency-Keys as a busy service has them: one per user (and app)
    # active in the last minutes, one per keyed claim of the last day.
    await driver.execute(
        """INSERT INTO rate_counter (name, subject, window_no, prev, cur)
           SELECT 'claims', 'app/user-' || i, 29000000, 0, 1 FROM generate_series(1, 2000) i"""
    )
    app = await create_app(conn, "Plans app")
    await driver.execute(
        """INSERT INTO claim_request (offer_id, app_id, key, user_id, status, body)
           SELECT o.id, $1, 'key-' || i, 'user', 201, '{}'
           FROM (SELECT id FROM offer LIMIT 100) o, generate_series(1, 20) i""",
        app.row.id,
    )
    # Root shares as an offer being passed around has them (one per sharing user): without
    # them the table's statistics may say it is empty, and a scan of nothing is cheapest.
    await driver.execute(
        """INSERT INTO share (code, offer_id, app_id, user_id, depth, path)
           SELECT 'S' || o.n || 'x' || i, o.id, $1, 'sharer-' || i, 0,
                  ARRAY['S' || o.n || 'x' || i]
           FROM (SELECT id, row_number() OVER () AS n FROM offer LIMIT 100) o,
                generate_series(1, 20) i""",
        app.row.id,
    )
    await driver.execute(
        "ANALYZE offer; ANALYZE merchant; ANALYZE rate_counter; ANALYZE claim_request;"
        " ANALYZE share"
    )
    return driver


async def test_offers_here_reads_the_fence_index(seeded: Any) -> None:
    statement, values = offers_sql.here_statement(
        offers_sql.Here(lat=31.2, lng=121.5, at=AT, categories=[], limit=21)
    )
    assert _indexes(await plan(seeded, statement, values)) == {"ix_offer_fence", "pk_merchant"}


async def test_offers_here_with_categories_and_a_cursor_still_reads_the_fence_index(
    seeded: Any,
) -> None:
    statement, values = offers_sql.here_statement(
        offers_sql.Here(
            lat=31.2,
            lng=121.5,
            at=AT,
            categories=["tea", "coffee"],
            limit=21,
            after=(120.5, uuid.uuid4()),
        )
    )
    assert _indexes(await plan(seeded, statement, values)) == {"ix_offer_fence", "pk_merchant"}


COUNTING: list[Any] = [29000000, 0.5, "claims", "app/user", 10, "app-claims", "app#0", 750]


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_claim_reads_by_keys_and_scans_no_table(seeded: Any, keyed: bool) -> None:
    offer_id = await seeded.fetchval("SELECT id FROM offer LIMIT 1")
    point, app_id = "SRID=4326;POINT(121.5 31.2)", uuid.uuid4()
    cell, share = 0x8931AA42803FFFF, "S1"  # the claim's H3 cell; a share's code
    values: list[Any] = [offer_id, "user", "CODE", AT, point, 120.0, app_id, cell, share]
    if keyed:  # the key's row, taken by the preflight, gets the response by its key
        values += [f"key-{uuid.uuid4()}", '{"code": "CODE"}']
        statement = _take_statement(keyed=True)
    else:  # the one round trip also counts the rate limits
        values += COUNTING
        statement = _take_statement(keyed=False, limits=2)
    explained = await plan(seeded, statement, values)
    assert "Seq Scan" not in explained
    # The offer by its key (and the key's row, or the counters), the share named by its key;
    # for the events of a code taken, its store's owner and that owner's webhooks by their
    # indexes too. (The rollup's upsert finds its row by pk_offer_stats, its conflict arbiter.)
    events = {"pk_offer", "pk_merchant", "ix_webhook_owner_id", "uq_share_offer_id_code"}
    extra = {"pk_claim_request"} if keyed else {"pk_rate_counter"}
    assert _indexes(explained) == events | extra
    assert '"Conflict Arbiter Indexes": ["pk_offer_stats"]' in explained


async def test_a_keyed_claims_preflight_reads_its_counters_and_the_offer_by_their_keys(
    seeded: Any,
) -> None:
    offer_id = await seeded.fetchval("SELECT id FROM offer LIMIT 1")
    values = [offer_id, uuid.uuid4(), "key", 86400.0, "user", *COUNTING]
    explained = await plan(seeded, _preflight_statement(limits=2), values)
    assert "Seq Scan" not in explained
    assert _indexes(explained) == {"pk_offer", "pk_merchant", "pk_rate_counter"}
