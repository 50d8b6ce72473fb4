"""Routes of apps (API.md: "Apps and users"): the admin creates and revokes them."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import apps
from app.db import Conn
from app.routes import params
from app.routes.callers import Admin
from app.routes.params import AppId
from app.routes.responses import problems
from app.schemas.apps import AppIn, AppOut

router = APIRouter(route_class=params.KnownQueryRoute)


@router.post("/v1/apps", status_code=201, responses=problems(401, 403, 422), tags=["apps"])
async def create_app(request: Request, conn: Conn, _: Admin, body: AppIn) -> AppOut:
    """A new app: its key and its tokens' signing secret are shown only in this response."""
    directory: apps.Directory = request.app.state.apps
    made = await apps.create(conn, name=body.name, box=directory.box)
    return AppOut(
        id=made.row.id,
        name=made.row.name,
        app_key=made.app_key,
        signing_secret=made.signing_secret,
        created_at=made.row.created_at,
    )


@router.delete(
    "/v1/apps/{app_id}", status_code=204, responses=problems(401, 403, 404, 422), tags=["apps"]
)
async def revoke_app(request: Request, conn: Conn, _: Admin, app_id: AppId) -> Response:
    """Revoke an app: its key and its user tokens stop working; its claims stay."""
    await apps.revoke(conn, app_id=app_id, directory=request.app.state.apps)
    return Response(status_code=204)
