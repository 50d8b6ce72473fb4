"""The baseline: a minimal FastAPI endpoint running the bare PostGIS nearby query.

`ST_DWithin` + `ORDER BY location <-> point LIMIT 20` on its own asyncpg pool (without asyncpg's
per-release reset round trip, which the service's pool does not make either), returning the same
merchant fields as the service (attributes passed through as raw JSON). No validation beyond
FastAPI's types, no exact spheroidal ranking, paging, filters, coordinate systems or metrics:
what the service adds on top is what the benchmark measures. Process tuning (gc.freeze after
start-up) is the same as the service's.

/bare/offers_here (and its H3 form): the fences covering a point, active now with codes left,
nearest store first, 20 of them, with the same fields as /v1/offers/here.
"""

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import h3.api.basic_int as h3i
import orjson
from fastapi import FastAPI, Response

NEARBY = """
    SELECT id, owner_id, external_id, name, category, tags, address, phone,
           ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lng, h3, timezone,
           opening_hours, attributes::text AS attributes, created_at, updated_at,
           ST_Distance(location, here) AS distance_m
    FROM merchant, (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS here) AS origin
    WHERE ST_DWithin(location, here, $3)
    ORDER BY location <-> here
    LIMIT 20"""


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset on release: the bare queries leave no session state behind, and asyncpg's
    default reset is a round trip per request that the service's pool does not make."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(
        os.environ["DATABASE_URL"], min_size=20, max_size=20, reset=_keep_session
    )
    gc.freeze()  # the same process tuning as the service, so the two compare like for like
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/bare/nearby")
async def nearby(lat: float, lng: float, radius: float = 1000) -> Response:
    async with app.state.pool.acquire() as conn:
        rows = await conn.fetch(NEARBY, lat, lng, radius)
    results = []
    for row in rows:
        item = dict(row)
        item["id"], item["owner_id"] = str(item["id"]), str(item["owner_id"])
        item["attributes"] = orjson.Fragment(item["attributes"])
        results.append(item)
    return Response(orjson.dumps({"results": results}), media_type="application/json")


# Offers whose fence covers the point ($1 lat, $2 lng), active at $3 with codes left, nearest
# store first, $4 of them. The H3 form takes its candidates from the covering cells ($5, the
# point's cell at bench/offers.py's H3_RES) instead of the GiST index on the fence.
_OFFER_COLUMNS = """
    o.id, o.merchant_id, o.title, o.description, o.geofence::text AS geofence, o.starts_at,
    o.ends_at, o.quantity, o.per_user_limit, o.claimed, o.redeemed, o.created_at, o.updated_at,
    m.name, m.category, m.address, m.phone,
    ST_Y(m.location::geometry) AS lat, ST_X(m.location::geometry) AS lng,
    ST_Distance(m.location, here::geography) AS distance_m"""
_OFFER_CONDITIONS = """
    ST_Covers(o.fence, here)
    AND (o.radius_m IS NULL OR ST_DWithin(o.center, here::geography, o.radius_m))
    AND o.starts_at <= $3 AND (o.ends_at IS NULL OR o.ends_at > $3)
    AND (o.quantity IS NULL OR o.claimed < o.quantity)"""
OFFERS_HERE = f"""
    SELECT {_OFFER_COLUMNS}
    FROM offer o JOIN merchant m ON m.id = o.merchant_id,
         (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326) AS here) AS origin
    WHERE {_OFFER_CONDITIONS}
    ORDER BY distance_m, o.id
    LIMIT $4"""
OFFERS_HERE_H3 = f"""
    SELECT {_OFFER_COLUMNS}
    FROM bench_offer_cell c JOIN offer o ON o.id = c.offer_id
         JOIN merchant m ON m.id = o.merchant_id,
         (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326) AS here) AS origin
    WHERE c.cell = $5 AND {_OFFER_CONDITIONS}
    ORDER BY distance_m, o.id
    LIMIT $4"""


@app.get("/bare/offers_here")
async def offers_here(lat: float, lng: float) -> Response:
    async with app.state.pool.acquire() as conn:
        rows = await conn.fetch(OFFERS_HERE, lat, lng, datetime.now(UTC), 20)
    return _offers_json(rows)


@app.get("/bare/offers_here_h3")
async def offers_here_h3(lat: float, lng: float) -> Response:
    cell = h3i.latlng_to_cell(lat, lng, 9)
    async with app.state.pool.acquire() as conn:
        rows = await conn.fetch(OFFERS_HERE_H3, lat, lng, datetime.now(UTC), 20, cell)
    return _offers_json(rows)


def _offers_json(rows: list[asyncpg.Record]) -> Response:
    results = []
    for row in rows:
        item = dict(row)
        for key in ("id", "merchant_id"):
            item[key] = str(item[key])
        item["geofence"] = orjson.Fragment(item["geofence"])
        item["remaining"] = None if row["quantity"] is None else row["quantity"] - row["claimed"]
        item["status"], item["coord"] = "active", "wgs84"  # every row is active at `at`
        item["merchant"] = {
            "id": item["merchant_id"],
            "name": item.pop("name"),
            "category": item.pop("category"),
            "address": item.pop("address"),
            "phone": item.pop("phone"),
            "location": {"lat": item.pop("lat"), "lng": item.pop("lng")},
        }
        results.append(item)
    return Response(orjson.dumps({"results": results}), media_type="application/json")
