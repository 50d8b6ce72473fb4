"""Route of event replay (API.md "Location events and webhooks")."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app import events, merchants
from app.db import Conn
from app.routes import params
from app.routes.callers import Caller
from app.routes.responses import problems
from app.schemas.events import EventOut, EventPage, EventsQuery

router = APIRouter(tags=["events"], route_class=params.KnownQueryRoute)


@router.get(
    "/v1/events", responses=problems(401, 403, 422), openapi_extra=params.openapi(EventsQuery)
)
async def replay_events(request: Request, conn: Conn, caller: Caller) -> EventPage:
    """The owner's events in commit order, kept at least 7 days: replay from the last id seen."""
    query = params.read(EventsQuery, request)
    owner_id = await merchants.owner_for_writes(
        conn, caller, query.owner_id, loc=["query", "owner_id"]
    )
    page = await events.replay(
        conn,
        owner_id=owner_id,
        after=query.after,
        types=query.type,
        limit=query.limit,
        tail=query.tail,
    )
    return EventPage(
        results=[EventOut(**events.document(row)) for row in page.events],
        next_cursor=page.next_cursor,
    )
