"""Routes of the searches (API.md: "Nearby search"). The hot path: see presenters and queries."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from app import discovery, presenters, query_params
from app.db import driver_connection
from app.queries import Filters
from app.routes.responses import json_body, problems
from app.schemas import (
    BBoxPage,
    BBoxQuery,
    BoxQuery,
    Cluster,
    ClusterPage,
    ClusterQuery,
    NearbyPage,
    NearbyQuery,
)
from spatial import BBox

router = APIRouter()


@router.get(
    "/v1/search/nearby",
    response_model=NearbyPage,
    responses=problems(422),
    tags=["search"],
    openapi_extra=query_params.openapi(NearbyQuery),
)
async def search_nearby(request: Request) -> Response:
    """Every merchant within `radius` metres, nearest first (geodesic on WGS-84), ties by id."""
    params = query_params.read(NearbyQuery, request)
    open_at = (params.at or datetime.now(UTC)) if params.open_now else None
    async with driver_connection(request) as conn:
        result = await discovery.nearby(
            conn,
            lat=params.lat,
            lng=params.lng,
            coord=params.coord,
            radius_m=params.radius,
            filters=Filters(params.category, params.q, open_at),
            limit=params.limit,
            after_cursor=params.cursor,
            open_now=params.open_now,
        )
    return json_body(presenters.nearby_json(result.hits, params.coord, result.next_cursor))


@router.get(
    "/v1/search/bbox",
    response_model=BBoxPage,
    responses=problems(422),
    tags=["search"],
    openapi_extra=query_params.openapi(BBoxQuery),
)
async def search_bbox(request: Request) -> Response:
    """Merchants in a viewport, the `limit` nearest its centre; min_lng > max_lng crosses 180°."""
    params = query_params.read(BBoxQuery, request)
    async with driver_connection(request) as conn:
        page = await discovery.in_bbox(
            conn,
            bbox=_bbox(params),
            coord=params.coord,
            filters=Filters(params.category),
            limit=params.limit,
        )
    return json_body(presenters.bbox_json(page.items, params.coord, page.has_more))


@router.get(
    "/v1/search/clusters",
    response_model=ClusterPage,
    response_model_exclude_none=True,
    responses=problems(422),
    tags=["search"],
    openapi_extra=query_params.openapi(ClusterQuery),
)
async def search_clusters(request: Request) -> ClusterPage:
    """Merchant counts per H3 cell, for map pins and heat maps."""
    params = query_params.read(ClusterQuery, request)
    async with driver_connection(request) as conn:
        result = await discovery.cluster_counts(
            conn,
            bbox=_bbox(params),
            coord=params.coord,
            resolution=params.resolution,
            filters=Filters(params.category),
            limit=params.limit,
            boundaries=params.boundaries,
        )
    return ClusterPage(
        clusters=[
            Cluster(h3=c.cell, count=c.count, lat=c.lat, lng=c.lng, boundary=c.boundary)
            for c in result.clusters
        ],
        resolution=result.resolution,
        coord=params.coord,
        truncated=result.truncated,
    )


def _bbox(params: BoxQuery) -> BBox:
    return BBox(params.min_lat, params.min_lng, params.max_lat, params.max_lng)
