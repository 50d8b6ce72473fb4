"""Shapes of events, webhooks and their deliveries (API.md "Location events and webhooks")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from app.schemas.common import Strict

EventType = Literal[
    "fence.entered",
    "fence.exited",
    "fence.dwelled",
    "offer.claimed",
    "claim.redeemed",
    "offer.sold_out",
    "import.finished",
]
DeliveryStatus = Literal["pending", "delivered", "failed"]


class EventOut(BaseModel):
    id: str = Field(description="Stable; what a receiver dedupes on and replay's `after`.")
    type: EventType
    at: datetime
    owner_id: UUID
    offer_id: UUID | None
    merchant_id: UUID | None
    user_id: str | None
    app_id: UUID | None
    data: dict[str, Any]


class EventPage(BaseModel):
    results: list[EventOut]
    next_cursor: str | None = Field(
        description="The id of the last event returned (or the `after` given): the next `after`."
    )


class EventsQuery(Strict):
    after: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = Field(
        None, description="An event id: the events committed after it."
    )
    type: Annotated[list[EventType], Field(max_length=7)] = Field(
        [], description="Repeatable: only events of these types."
    )
    limit: int = Field(100, ge=1, le=1000)
    tail: bool = Field(
        False,
        description="The last `limit` of those events instead of the first (still in commit"
        " order): where a live view starts, without paging through the 7 days kept.",
    )
    owner_id: UUID | None = Field(None, description="Required with the admin key.")


class WebhookIn(Strict):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = Field(
        description="http(s); private, loopback and link-local hosts are refused."
    )
    events: Annotated[list[EventType], Field(min_length=1, max_length=7)]


class WebhookOut(BaseModel):
    id: UUID
    owner_id: UUID
    url: str
    events: list[EventType]
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every delivery; shown only in this answer.")


class WebhookList(BaseModel):
    results: list[WebhookOut]


class DeliveryOut(BaseModel):
    event_id: str
    event_type: EventType
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="While pending.")
    last_attempt_at: datetime | None
    last_status: int | None = Field(description="The receiver's HTTP status, if it answered.")
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryPage(BaseModel):
    results: list[DeliveryOut]
    next_cursor: str | None
