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
    type: EventType = Field(description="What happened.")
    at: datetime = Field(description="When it happened (RFC 3339, UTC).")
    owner_id: UUID = Field(description="The owner whose store or offer it concerns.")
    offer_id: UUID | None = Field(
        description="The offer, for offer and claim events and fence events."
    )
    merchant_id: UUID | None = Field(description="The store, when the event concerns one.")
    user_id: str | None = Field(description="The app's user, for claims and fence events.")
    app_id: UUID | None = Field(description="The app of that user.")
    data: dict[str, Any] = Field(description="The event's own fields (see docs/api.md).")


class EventPage(BaseModel):
    results: list[EventOut] = Field(description="The events, in commit order.")
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
    limit: int = Field(100, ge=1, le=1000, description="At most this many events (1-1000).")
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
    events: Annotated[list[EventType], Field(min_length=1, max_length=7)] = Field(
        description="The event types to deliver (at least one)."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "url": "https://hooks.example.com/nearby",
                    "events": ["offer.claimed", "claim.redeemed"],
                }
            ]
        }
    }


class WebhookOut(BaseModel):
    id: UUID = Field(description="The webhook's id.")
    owner_id: UUID = Field(description="The owner whose events it receives.")
    url: str = Field(description="Where deliveries are POSTed.")
    events: list[EventType] = Field(description="The event types delivered.")
    created_at: datetime = Field(description="When it was created (RFC 3339, UTC).")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Signs every delivery; shown only in this answer.")


class WebhookList(BaseModel):
    results: list[WebhookOut] = Field(description="The owner's webhooks.")


class DeliveryOut(BaseModel):
    event_id: str = Field(description="The event delivered.")
    event_type: EventType = Field(description="Its type.")
    status: DeliveryStatus = Field(
        description="pending (to be tried or retried), delivered or failed (gave up)."
    )
    attempts: int = Field(description="Attempts so far.")
    next_attempt_at: datetime | None = Field(description="While pending.")
    last_attempt_at: datetime | None = Field(description="When it was last tried.")
    last_status: int | None = Field(description="The receiver's HTTP status, if it answered.")
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    delivered_at: datetime | None = Field(description="When the receiver accepted it (2xx).")
    created_at: datetime = Field(description="When the delivery was queued.")


class DeliveryPage(BaseModel):
    results: list[DeliveryOut] = Field(description="The page's deliveries.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
