"""Route of location tracking (API.md "Location events and webhooks")."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import apps, tracking
from app.db import driver_connection
from app.routes import callers, params, presenters
from app.routes.responses import json_body, problems
from app.schemas.tracking import TrackIn, TrackOut

router = APIRouter(tags=["tracking"], route_class=params.KnownQueryRoute)


@router.post(
    "/v1/track",
    response_model=TrackOut,
    responses=problems(401, 403, 409, 422, 429),
    openapi_extra=callers.secured_by(callers.app_user),
)
async def track(request: Request, body: TrackIn) -> Response:
    """Report where an app's user is (1..100 points): the fence events (`fence.entered`,
    `fence.exited`, `fence.dwelled`) the points caused, and the offers at the newest point.
    Needs an app key (with `user_id`) or a user token."""
    async with driver_connection(request) as conn:
        caller = await callers.app_user(request, conn)
        tracked = await tracking.track(
            conn,
            app_id=caller.app_id,
            user_id=apps.user_of(caller, body.user_id),
            points=[tracking.Point(p.lat, p.lng, p.at, p.accuracy_m) for p in body.points],
            coord=body.coord,
            limits=request.app.state.limits,
        )
    return json_body(presenters.tracked_json(tracked, body.coord))
