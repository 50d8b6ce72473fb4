"""The baseline: a minimal FastAPI endpoint running the bare PostGIS nearby query.

`ST_DWithin` + `ORDER BY location <-> point LIMIT 20` on its own asyncpg pool, returning the same
merchant fields as the service (attributes passed through as raw JSON). No validation beyond
FastAPI's types, no exact spheroidal ranking, paging, filters, coordinate systems or metrics:
what the service adds on top is what the benchmark measures. Process tuning (gc.freeze after
start-up) is the same as the service's.
"""

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
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


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=20, max_size=20)
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
