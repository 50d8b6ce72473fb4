"""Events: what happened to an owner's offers, codes and imports, for webhooks and replay.

An event exists exactly when the change it reports committed: it is written by the statement or
in the transaction that makes the change (`emit` here, or queries/events.emit_ctes inside a
statement such as the claim's). The one shape of an event, for replay and webhook bodies alike,
is `document`:

    {"id", "type", "at", "owner_id", "offer_id", "merchant_id", "user_id", "app_id", "data"}

`id` is a decimal string, stable for the event's life, the key a receiver dedupes on and the
`after` of replay. Replay returns events in commit order (see queries/events.py for how).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app.errors import InvalidInput
from app.queries import events as events_sql
from app.queries.events import EventRow, NewEvent
from app.tables import EVENT_TYPES

KEEP_S = 7 * 24 * 3600.0  # events are kept at least this long, then pruned
PRUNE_BATCH = 1000


@dataclass(frozen=True)
class Page:
    events: list[EventRow]
    next_cursor: str | None  # the id of the last event, for `after`; None when there was none


def new(
    type: str,
    *,
    owner_id: UUID,
    at: datetime,
    offer_id: UUID | None = None,
    merchant_id: UUID | None = None,
    user_id: str | None = None,
    app_id: UUID | None = None,
    data: dict[str, Any],
) -> NewEvent:
    assert type in EVENT_TYPES, type
    return NewEvent(
        type, at, owner_id, offer_id, merchant_id, user_id, app_id, orjson.dumps(data).decode()
    )


async def emit(conn: AsyncConnection | asyncpg.Connection, *events: NewEvent) -> list[int]:
    """Write `events` in the caller's transaction, with their pending webhook deliveries."""
    return await events_sql.emit(conn, events=events)


async def replay(
    conn: AsyncConnection,
    *,
    owner_id: UUID,
    after: str | None,
    types: Sequence[str] | None,
    limit: int,
    tail: bool = False,
) -> Page:
    """The owner's events after the event `after` (its id), in commit order: the first `limit`
    of them, or with `tail` the last `limit`."""
    position = None
    if after is not None:
        event_id = int(after) if after.isdigit() and len(after) < 19 else None
        if event_id is not None:
            position = await events_sql.position_of(conn, owner_id=owner_id, event_id=event_id)
        if position is None:
            raise InvalidInput.at(
                ["query", "after"],
                f"is not the id of one of this owner's events still kept (events are kept"
                f" {KEEP_S / 86400:.0f} days); start again without it",
            )
    rows = await events_sql.replay(
        conn, owner_id=owner_id, after=position, types=types, limit=limit, tail=tail
    )
    last = str(rows[-1].id) if rows else after
    return Page(rows, last)


def document(row: EventRow) -> dict[str, Any]:
    """An event as the API shows it (replay) and sends it (webhooks)."""
    return {
        "id": str(row.id),
        "type": row.type,
        "at": row.at,
        "owner_id": str(row.owner_id),
        "offer_id": _text(row.offer_id),
        "merchant_id": _text(row.merchant_id),
        "user_id": row.user_id,
        "app_id": _text(row.app_id),
        "data": orjson.loads(row.data),
    }


def body(row: EventRow) -> bytes:
    """The JSON a webhook receives: `document`, times in UTC."""
    return orjson.dumps(document(row), option=orjson.OPT_UTC_Z)


def _text(value: UUID | None) -> str | None:
    # str(): asyncpg's own UUID type is one orjson does not know
    return None if value is None else str(value)


async def prune(conn: asyncpg.Connection, *, keep_s: float = KEEP_S) -> int:
    """Delete events older than `keep_s` in batches; how many went."""
    total = 0
    while (done := await events_sql.prune(conn, keep_s=keep_s, batch=PRUNE_BATCH)) > 0:
        total += done
    return total
