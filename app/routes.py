"""The HTTP routes of ../shared/API.md. Each handler: parameters -> a use case -> a schema."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from app import discovery, merchants, owners, presenters, queries, query_params
from app.auth import Admin, Caller
from app.db import Conn, ReadConn, SearchConn
from app.errors import PROBLEM_JSON, NotReady
from app.migrate import head_revision
from app.queries import Filters
from app.schemas import (
    BBoxPage,
    BBoxQuery,
    BoxQuery,
    Cluster,
    ClusterPage,
    ClusterQuery,
    Health,
    MerchantIn,
    MerchantList,
    MerchantOut,
    MerchantPatch,
    NearbyPage,
    NearbyQuery,
    OwnerIn,
    OwnerOut,
    Problem,
    Readiness,
)
from spatial import BBox, CoordSystem


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Problem details"}
        for status in statuses
    }


Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=512)]
Coord = Annotated[CoordSystem, Query(description="Coordinate system of every position in and out.")]

router = APIRouter()

# ----------------------------------------------------------------------------- owners, merchants


@router.post("/v1/owners", status_code=201, responses=_problems(401, 403, 422), tags=["owners"])
async def create_owner(conn: Conn, _: Admin, body: OwnerIn) -> OwnerOut:
    row, api_key = await owners.create(conn, name=body.name)
    return OwnerOut(id=row.id, name=row.name, api_key=api_key, created_at=row.created_at)


@router.post(
    "/v1/merchants", status_code=201, responses=_problems(401, 403, 409, 422), tags=["merchants"]
)
async def create_merchant(conn: Conn, caller: Caller, body: MerchantIn) -> MerchantOut:
    row = await merchants.register(conn, principal=caller, body=body)
    return presenters.merchant(row, body.coord)


@router.get("/v1/merchants", responses=_problems(401, 403, 422), tags=["merchants"])
async def list_merchants(
    conn: Conn,
    caller: Caller,
    owner_id: UUID | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    coord: Coord = CoordSystem.WGS84,
) -> MerchantList:
    """The caller's own merchants in a stable order (the admin key names an `owner_id`)."""
    rows, next_cursor = await merchants.list_own(
        conn, principal=caller, owner_id=owner_id, after_cursor=cursor, limit=limit
    )
    return MerchantList(results=presenters.merchants(rows, coord), next_cursor=next_cursor)


@router.get("/v1/merchants/{merchant_id}", responses=_problems(404, 422), tags=["merchants"])
async def get_merchant(
    conn: ReadConn, merchant_id: UUID, coord: Coord = CoordSystem.WGS84
) -> MerchantOut:
    return presenters.merchant(await merchants.get(conn, merchant_id=merchant_id), coord)


@router.patch(
    "/v1/merchants/{merchant_id}", responses=_problems(401, 403, 404, 409, 422), tags=["merchants"]
)
async def patch_merchant(
    conn: Conn, caller: Caller, merchant_id: UUID, body: MerchantPatch
) -> MerchantOut:
    row = await merchants.edit(conn, principal=caller, merchant_id=merchant_id, patch=body)
    return presenters.merchant(row, body.coord)


@router.delete(
    "/v1/merchants/{merchant_id}",
    status_code=204,
    responses=_problems(401, 403, 404, 422),
    tags=["merchants"],
)
async def delete_merchant(conn: Conn, caller: Caller, merchant_id: UUID) -> Response:
    await merchants.remove(conn, principal=caller, merchant_id=merchant_id)
    return Response(status_code=204)


# ---------------------------------------------------------------------------------------- search


@router.get(
    "/v1/search/nearby",
    response_model=NearbyPage,
    responses=_problems(422),
    tags=["search"],
    openapi_extra=query_params.openapi(NearbyQuery),
)
async def search_nearby(
    conn: SearchConn, params: Annotated[NearbyQuery, Depends(query_params.parser(NearbyQuery))]
) -> Response:
    """Every merchant within `radius` metres, nearest first (geodesic on WGS-84), ties by id."""
    open_at = (params.at or datetime.now(UTC)) if params.open_now else None
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
    return _json(presenters.nearby_json(result.hits, params.coord, result.next_cursor))


@router.get(
    "/v1/search/bbox",
    response_model=BBoxPage,
    responses=_problems(422),
    tags=["search"],
    openapi_extra=query_params.openapi(BBoxQuery),
)
async def search_bbox(
    conn: SearchConn, params: Annotated[BBoxQuery, Depends(query_params.parser(BBoxQuery))]
) -> Response:
    """Merchants in a viewport, the `limit` nearest its centre; min_lng > max_lng crosses 180°."""
    page = await discovery.in_bbox(
        conn,
        bbox=_bbox(params),
        coord=params.coord,
        filters=Filters(params.category),
        limit=params.limit,
    )
    return _json(presenters.bbox_json(page.items, params.coord, page.has_more))


@router.get(
    "/v1/search/clusters",
    response_model=ClusterPage,
    responses=_problems(422),
    tags=["search"],
    openapi_extra=query_params.openapi(ClusterQuery),
)
async def search_clusters(
    conn: SearchConn, params: Annotated[ClusterQuery, Depends(query_params.parser(ClusterQuery))]
) -> ClusterPage:
    """Merchant counts per H3 cell, for map pins and heat maps."""
    result = await discovery.cluster_counts(
        conn,
        bbox=_bbox(params),
        coord=params.coord,
        resolution=params.resolution,
        filters=Filters(params.category),
        limit=params.limit,
    )
    return ClusterPage(
        clusters=[Cluster(h3=c.cell, count=c.count, lat=c.lat, lng=c.lng) for c in result.clusters],
        resolution=result.resolution,
        coord=params.coord,
        truncated=result.truncated,
    )


# ------------------------------------------------------------------------------------ operations


@router.get("/healthz", tags=["operations"])
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", responses=_problems(503), tags=["operations"])
async def readyz(conn: ReadConn) -> Readiness:
    revision, head = await queries.schema_revision(conn), head_revision()
    if revision != head:
        raise NotReady(f"The database is at migration {revision}, the service needs {head}")
    return Readiness(status="ok", revision=revision)


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics(request: Request) -> Response:
    body = request.app.state.metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _bbox(params: BoxQuery) -> BBox:
    return BBox(params.min_lat, params.min_lng, params.max_lat, params.max_lng)
