"""SQL of webhooks and their deliveries: the owner's webhooks, and the work queue of the
delivery loop (app/delivery.py).

A delivery is due when pending and `next_at` has passed. `take_due` takes due ones with
FOR UPDATE SKIP LOCKED, so processes taking at once get different rows, and in the same
statement moves their `next_at` a lease ahead and counts the attempt: while one process sends,
no other takes the row, and if that process dies the row is due again when the lease runs out.
`record` writes the outcomes; an attempt whose lease ran out and was taken again records only a
success (the newer attempt owns the row otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries.events import EventRow


@dataclass(frozen=True, slots=True)
class WebhookRow:
    id: UUID
    owner_id: UUID
    url: str
    events: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    event_id: int
    event_type: str
    status: str
    attempts: int
    next_at: datetime | None  # while pending
    last_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery taken for one attempt (the `attempts`-th), with what it needs to be sent."""

    event_id: int
    webhook_id: UUID
    attempts: int
    age_s: float  # since the delivery was written, by the database's clock
    url: str
    secret: str
    event: EventRow


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of an attempt: the delivery's new status, and when to try again."""

    event_id: int
    webhook_id: UUID
    attempts: int
    status: str  # pending (a retry), delivered or failed
    retry_in_s: float
    http_status: int | None
    error: str | None


_WEBHOOK_COLUMNS = "id, owner_id, url, events, created_at"


async def insert_webhook(
    conn: AsyncConnection,
    *,
    owner_id: UUID,
    url: str,
    events: Sequence[str],
    secret: str,
    most: int,
) -> WebhookRow | None:
    """A new webhook of the owner, or None if the owner has `most` already.

    The owner's row is locked first, so two requests at once cannot both pass the count.
    """
    await conn.execute(
        text("SELECT FROM owner WHERE id = :owner_id FOR NO KEY UPDATE"), {"owner_id": owner_id}
    )
    row = (
        await conn.execute(
            text(
                f"""INSERT INTO webhook (owner_id, url, events, secret)
                    SELECT CAST(:owner_id AS uuid), CAST(:url AS text),
                           CAST(:events AS text[]), CAST(:secret AS text)
                    WHERE (SELECT count(*) FROM webhook WHERE owner_id = :owner_id)
                          < CAST(:most AS integer)
                    RETURNING {_WEBHOOK_COLUMNS}"""
            ),
            {
                "owner_id": owner_id,
                "url": url,
                "events": list(events),
                "secret": secret,
                "most": most,
            },
        )
    ).one_or_none()
    return WebhookRow(*row) if row else None


async def webhooks_of(conn: AsyncConnection, *, owner_id: UUID) -> list[WebhookRow]:
    rows = await conn.execute(
        text(
            f"""SELECT {_WEBHOOK_COLUMNS} FROM webhook WHERE owner_id = :owner_id
                ORDER BY created_at, id"""
        ),
        {"owner_id": owner_id},
    )
    return [WebhookRow(*row) for row in rows]


async def webhook_by_id(conn: AsyncConnection, *, webhook_id: UUID) -> WebhookRow | None:
    row = (
        await conn.execute(
            text(f"SELECT {_WEBHOOK_COLUMNS} FROM webhook WHERE id = :id"), {"id": webhook_id}
        )
    ).one_or_none()
    return WebhookRow(*row) if row else None


async def delete_webhook(conn: AsyncConnection, *, webhook_id: UUID) -> None:
    """Delete the webhook and (by the cascade) its deliveries, sent or not."""
    await conn.execute(text("DELETE FROM webhook WHERE id = :id"), {"id": webhook_id})


async def deliveries(
    conn: AsyncConnection,
    *,
    webhook_id: UUID,
    status: str | None,
    before_event_id: int | None,
    limit: int,
) -> list[DeliveryRow]:
    """The webhook's deliveries, newest event first, before `before_event_id` if given."""
    rows = await conn.execute(
        text(
            """SELECT d.event_id, e.type, d.status, d.attempts,
                      CASE WHEN d.status = 'pending' THEN d.next_at END, d.last_at,
                      d.last_status, d.last_error, d.delivered_at, d.created_at
               FROM delivery d JOIN event e ON e.id = d.event_id
               WHERE d.webhook_id = :webhook_id
                 AND (CAST(:status AS text) IS NULL OR d.status = :status)
                 AND (CAST(:before AS bigint) IS NULL OR d.event_id < :before)
               ORDER BY d.event_id DESC
               LIMIT :limit"""
        ),
        {"webhook_id": webhook_id, "status": status, "before": before_event_id, "limit": limit},
    )
    return [DeliveryRow(*row) for row in rows]


_TAKE_DUE = """
    WITH due AS (
        SELECT event_id, webhook_id FROM delivery
        WHERE status = 'pending' AND next_at <= now()
        ORDER BY next_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ), taken AS (
        UPDATE delivery d
        SET next_at = now() + make_interval(secs => $1), attempts = d.attempts + 1
        FROM due
        WHERE d.event_id = due.event_id AND d.webhook_id = due.webhook_id
        RETURNING d.event_id, d.webhook_id, d.attempts,
                  extract(epoch FROM now() - d.created_at)::float8 AS age_s
    )
    SELECT t.event_id, t.webhook_id, t.attempts, t.age_s, w.url, w.secret,
           e.id, e.txid, e.type, e.at, e.owner_id, e.offer_id, e.merchant_id, e.user_id,
           e.app_id, e.data::text
    FROM taken t
    JOIN webhook w ON w.id = t.webhook_id
    JOIN event e ON e.id = t.event_id"""


async def take_due(conn: asyncpg.Connection, *, lease_s: float, most: int) -> list[Due]:
    """Take up to `most` due deliveries for one attempt each (see the module docstring).
    Run it outside a transaction: the lease must be committed before anything is sent."""
    rows = await conn.fetch(_TAKE_DUE, lease_s, most)
    return [Due(r[0], r[1], r[2], r[3], r[4], r[5], EventRow(*r[6:])) for r in rows]


async def record(conn: asyncpg.Connection, *, outcomes: Sequence[Outcome]) -> int:
    """Store the outcomes of attempts; how many rows changed."""
    if not outcomes:
        return 0
    done = await conn.execute(
        """UPDATE delivery d
           SET status = o.status, next_at = now() + make_interval(secs => o.retry_in_s),
               last_at = now(), last_status = o.http_status, last_error = o.error,
               delivered_at = CASE WHEN o.status = 'delivered' THEN now() END
           FROM unnest($1::bigint[], $2::uuid[], $3::int[], $4::text[], $5::float8[],
                       $6::int[], $7::text[])
                AS o (event_id, webhook_id, attempts, status, retry_in_s, http_status, error)
           WHERE d.event_id = o.event_id AND d.webhook_id = o.webhook_id
             AND d.status = 'pending'
             AND (d.attempts = o.attempts OR o.status = 'delivered')""",
        [o.event_id for o in outcomes],
        [o.webhook_id for o in outcomes],
        [o.attempts for o in outcomes],
        [o.status for o in outcomes],
        [o.retry_in_s for o in outcomes],
        [o.http_status for o in outcomes],
        [o.error for o in outcomes],
    )
    return int(done.split()[-1])
