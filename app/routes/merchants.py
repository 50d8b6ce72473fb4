"""Routes of owners and merchants (API.md: "Owners and keys", "Merchants")."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from app import merchants
from app.db import Conn, public_read
from app.routes import params, presenters
from app.routes.callers import Admin, Caller
from app.routes.params import Coord, Cursor, Limit
from app.routes.responses import problems
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
    row, api_key = await merchants.create_owner(conn, name=body.name)
    return OwnerOut(id=row.id, name=row.name, api_key=api_key, created_at=row.created_at)


@router.post(
    "/v1/merchants", status_code=201, responses=problems(401, 403, 409, 422), tags=["merchants"]
)
async def create_merchant(conn: Conn, caller: Caller, body: MerchantIn) -> MerchantOut:
    row = await merchants.register(conn, principal=caller, body=body)
    return presenters.merchant(row, body.coord)


@router.get("/v1/merchants", responses=problems(401, 403, 422), tags=["merchants"])
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


@router.get("/v1/merchants/{merchant_id}", responses=problems(404, 422), tags=["merchants"])
async def get_merchant(
    request: Request, merchant_id: UUID, coord: Coord = CoordSystem.WGS84
) -> MerchantOut:
    """A merchant, for anyone (read on a replica unless the request carries a credential)."""
    row = await public_read(request, lambda conn: merchants.get(conn, merchant_id=merchant_id))
    return presenters.merchant(row, coord)


@router.patch(
    "/v1/merchants/{merchant_id}", responses=problems(401, 403, 404, 409, 422), tags=["merchants"]
)
async def patch_merchant(
    conn: Conn, caller: Caller, merchant_id: UUID, body: MerchantPatch
) -> MerchantOut:
    row = await merchants.edit(conn, principal=caller, merchant_id=merchant_id, patch=body)
    return presenters.merchant(row, body.coord)


@router.delete(
    "/v1/merchants/{merchant_id}",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    tags=["merchants"],
)
async def delete_merchant(conn: Conn, caller: Caller, merchant_id: UUID) -> Response:
    await merchants.remove(conn, principal=caller, merchant_id=merchant_id)
    return Response(status_code=204)
