"""Routes of webhooks and their deliveries (API.md "Location events and webhooks")."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from app import webhooks
from app.db import Conn
from app.queries.webhooks import DeliveryRow, WebhookRow
from app.routes import params
from app.routes.callers import Caller
from app.routes.responses import problems
from app.schemas.events import (
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookOut,
)

OwnerId = Annotated[UUID | None, Query(description="Required with the admin key.")]

router = APIRouter(tags=["webhooks"], route_class=params.KnownQueryRoute)


@router.post("/v1/webhooks", status_code=201, responses=problems(401, 403, 409, 422))
async def create_webhook(
    request: Request, conn: Conn, caller: Caller, body: WebhookIn, owner_id: OwnerId = None
) -> WebhookCreated:
    """Subscribe a URL to the owner's events; the answer shows the signing secret, once."""
    created = await webhooks.create(
        conn,
        principal=caller,
        owner_id=owner_id,
        url=body.url,
        events=body.events,
        allow_private=request.app.state.settings.webhook_allow_private,
        box=request.app.state.apps.box,
    )
    return WebhookCreated(**_webhook(created.webhook).model_dump(), secret=created.secret)


@router.get("/v1/webhooks", responses=problems(401, 403, 422))
async def list_webhooks(conn: Conn, caller: Caller, owner_id: OwnerId = None) -> WebhookList:
    rows = await webhooks.list_of(conn, principal=caller, owner_id=owner_id)
    return WebhookList(results=[_webhook(row) for row in rows])


@router.delete("/v1/webhooks/{webhook_id}", status_code=204, responses=problems(401, 403, 404, 422))
async def delete_webhook(conn: Conn, caller: Caller, webhook_id: UUID) -> Response:
    await webhooks.delete(conn, principal=caller, webhook_id=webhook_id)
    return Response(status_code=204)


@router.get("/v1/webhooks/{webhook_id}/deliveries", responses=problems(401, 403, 404, 422))
async def list_deliveries(
    conn: Conn,
    caller: Caller,
    webhook_id: UUID,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DeliveryPage:
    """The webhook's deliveries (one per event, with its attempts), newest event first."""
    rows, next_cursor = await webhooks.deliveries(
        conn,
        principal=caller,
        webhook_id=webhook_id,
        status=status,
        after_cursor=cursor,
        limit=limit,
    )
    return DeliveryPage(results=[_delivery(row) for row in rows], next_cursor=next_cursor)


def _webhook(row: WebhookRow) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        owner_id=row.owner_id,
        url=row.url,
        events=row.events,
        created_at=row.created_at,
    )


def _delivery(row: DeliveryRow) -> DeliveryOut:
    return DeliveryOut(
        event_id=str(row.event_id),
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_at,
        last_attempt_at=row.last_at,
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
    )
