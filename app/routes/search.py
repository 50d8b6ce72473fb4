"""Routes of the searches (API.md: "Nearby search"). The hot path: see presenters and queries."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from fastapi import APIRouter, Request, Response

from app import offers, search
from app.db import driver_read
from app.offers import HereResult
from app.queries.search import Filters
from app.routes import params, presenters
from app.routes.responses import json_body, problems
from app.schemas.search import (
    BBoxPage,
    BBoxQuery,
    BoxQuery,
    Cluster,
    ClusterPage,
    ClusterQuery,
    NearbyPage,
    NearbyQuery,
)
from app.search import NearbyResult
from spatial import BBox

router = APIRouter(route_class=params.KnownQueryRoute)

# include=offers gives GET /v1/offers/here's first page at its default size.
OFFERS_HERE_LIMIT = 20


@router.get(
    "/v1/search/nearby",
    response_model=NearbyPage,
    responses=problems(422),
    tags=["search"],
    openapi_extra=params.openapi(NearbyQuery),
)
async def search_nearby(request: Request) -> Response:
    """Every merchant within `radius` metres, nearest first (geodesic on WGS-84), ties by id;
    with `include=offers`, the first page also lists the offers that apply at the point."""
    query = params.read(NearbyQuery, request)
    open_at = (query.at or datetime.now(UTC)) if query.open_now else None

    async def page(conn: asyncpg.Connection) -> tuple[NearbyResult, HereResult | None]:
        result = await search.nearby(
            conn,
            lat=query.lat,
            lng=query.lng,
            coord=query.coord,
            radius_m=query.radius,
            filters=Filters(query.category, query.q, open_at),
            limit=query.limit,
            after_cursor=query.cursor,
            open_now=query.open_now,
        )
        if query.include != "offers" or query.cursor is not None:
            return result, None
        here = await offers.here(
            conn,
            lat=query.lat,
            lng=query.lng,
            coord=query.coord,
            at=query.at,
            categories=query.category,
            limit=OFFERS_HERE_LIMIT,
            after_cursor=None,
        )
        return result, here

    result, offers_here = await driver_read(request, page)
    return json_body(
        presenters.nearby_json(
            result.hits, query.coord, result.next_cursor, result.radius_m, offers_here
        )
    )


@router.get(
    "/v1/search/bbox",
    response_model=BBoxPage,
    responses=problems(422),
    tags=["search"],
    openapi_extra=params.openapi(BBoxQuery),
)
async def search_bbox(request: Request) -> Response:
    """Merchants in a viewport, the `limit` nearest its centre; min_lng > max_lng crosses 180°."""
    query = params.read(BBoxQuery, request)
    page = await driver_read(
        request,
        lambda conn: search.in_bbox(
            conn,
            bbox=_bbox(query),
            coord=query.coord,
            filters=Filters(query.category, owner_id=query.owner_id),
            limit=query.limit,
        ),
    )
    return json_body(presenters.bbox_json(page.items, query.coord, page.has_more))


@router.get(
    "/v1/search/clusters",
    response_model=ClusterPage,
    response_model_exclude_none=True,
    responses=problems(422),
    tags=["search"],
    openapi_extra=params.openapi(ClusterQuery),
)
async def search_clusters(request: Request) -> ClusterPage:
    """Merchant counts per H3 cell, for map pins and heat maps."""
    query = params.read(ClusterQuery, request)
    result = await driver_read(
        request,
        lambda conn: search.cluster_counts(
            conn,
            bbox=_bbox(query),
            coord=query.coord,
            resolution=query.resolution,
            filters=Filters(query.category, owner_id=query.owner_id),
            limit=query.limit,
            boundaries=query.boundaries,
        ),
    )
    return ClusterPage(
        clusters=[
            Cluster(h3=c.cell, count=c.count, lat=c.lat, lng=c.lng, boundary=c.boundary)
            for c in result.clusters
        ],
        resolution=result.resolution,
        coord=query.coord,
        truncated=result.truncated,
    )


def _bbox(params: BoxQuery) -> BBox:
    return BBox(params.min_lat, params.min_lng, params.max_lat, params.max_lng)
