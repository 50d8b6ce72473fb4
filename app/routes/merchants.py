"""Routes of owners and merchants (API.md: "Owners and keys", "Merchants")."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from app import merchants
from app.db import Conn, public_read
from app.routes import params, presenters
from app.routes.callers import Admin, Caller
from app.routes.params import Coord, Cursor, Limit, MerchantId
from app.routes.responses import problems
from app.schemas.common import QueryText, Text200
from app.schemas.merchants import (
    MerchantIn,
    MerchantList,
    MerchantOut,
    MerchantPatch,
    OwnerIn,
    OwnerOut,
)
from spatial import CoordSystem

router = APIRouter(route_class=params.KnownQueryRoute)


@router.post("/v1/owners", status_code=201, responses=problems(401, 403, 422), tags=["owners"])
async def create_owner(conn: Conn, _: Admin, body: OwnerIn) -> OwnerOut:
    """A new owner (the admin key): its API key is shown only in this response."""
    row, api_key = await merchants.create_owner(conn, name=body.name)
    return OwnerOut(id=row.id, name=row.name, api_key=api_key, created_at=row.created_at)


@router.post(
    "/v1/merchants", status_code=201, responses=problems(401, 403, 409, 422), tags=["merchants"]
)
async def create_merchant(conn: Conn, caller: Caller, body: MerchantIn) -> MerchantOut:
    """Register a store; 409 when the owner already has one with this `external_id`."""
    row = await merchants.register(conn, principal=caller, body=body)
    return presenters.merchant(row, body.coord)


@router.get("/v1/merchants", responses=problems(401, 403, 422), tags=["merchants"])
async def list_merchants(
    conn: Conn,
    caller: Caller,
    owner_id: Annotated[
        UUID | None, Query(description="Whose stores: required with the admin key.")
    ] = None,
    external_id: Annotated[
        QueryText | None,
        Query(
            description="Only the store with this store number (exact match).",
            examples=["SH-0001"],
        ),
    ] = None,
    q: Annotated[
        Text200 | None,
        Query(
            description="Only stores whose name contains this text, ignoring case (Chinese"
            " included); leading and trailing blanks are ignored.",
            examples=["咖啡"],
        ),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    coord: Coord = CoordSystem.WGS84,
) -> MerchantList:
    """The caller's own merchants in a stable order (the admin key names an `owner_id`),
    optionally the one of a store number (`external_id`) or those whose name holds `q`."""
    rows, next_cursor = await merchants.list_own(
        conn,
        principal=caller,
        owner_id=owner_id,
        after_cursor=cursor,
        limit=limit,
        external_id=external_id,
        q=q.strip() if q is not None else None,
    )
    return MerchantList(results=presenters.merchants(rows, coord), next_cursor=next_cursor)


@router.get("/v1/merchants/{merchant_id}", responses=problems(404, 422), tags=["merchants"])
async def get_merchant(
    request: Request, merchant_id: MerchantId, coord: Coord = CoordSystem.WGS84
) -> MerchantOut:
    """A store, for anyone (read on a replica unless the request carries a credential)."""
    row = await public_read(request, lambda conn: merchants.get(conn, merchant_id=merchant_id))
    return presenters.merchant(row, coord)


@router.patch(
    "/v1/merchants/{merchant_id}", responses=problems(401, 403, 404, 409, 422), tags=["merchants"]
)
async def patch_merchant(
    conn: Conn, caller: Caller, merchant_id: MerchantId, body: MerchantPatch
) -> MerchantOut:
    """Change a store (its owner or the admin): only the fields given."""
    row = await merchants.edit(conn, principal=caller, merchant_id=merchant_id, patch=body)
    return presenters.merchant(row, body.coord)


@router.delete(
    "/v1/merchants/{merchant_id}",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    tags=["merchants"],
)
async def delete_merchant(conn: Conn, caller: Caller, merchant_id: MerchantId) -> Response:
    """Remove a store and its offers (its owner or the admin)."""
    await merchants.remove(conn, principal=caller, merchant_id=merchant_id)
    return Response(status_code=204)
