"""SQL of events: the one statement that writes them (with a pending delivery for each webhook
that wants them), replay in commit order, and pruning.

Commit order. An identity value is taken when a row is inserted, not when its transaction
commits: under concurrency a lower id can commit later, so a reader paging by id could pass an
event that appears behind it afterwards and is never seen. Every event therefore records the id
of the transaction that wrote it (`txid`), and replay reads only the events of transactions
older than the oldest one still running (in the reader's snapshot, leaving out transactions
of other databases on the same server), in (txid, id) order. Every transaction below that
horizon has ended, and any event still to come belongs to a transaction at or above it, so it
sorts after everything already read: a cursor (txid, id) never skips anything. The price is on
the reading side only: replay waits for the oldest writing transaction of this database to
end. Writers take no extra lock, so claims do not queue behind each other for it; and
deliveries do not wait at all, since they are written with the event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

# What a statement gives `emit_ctes`, in this order.
NEW_EVENT_COLUMNS = "type, at, owner_id, offer_id, merchant_id, user_id, app_id, data"
_EVENT_COLUMNS = "id, txid, type, at, owner_id, offer_id, merchant_id, user_id, app_id, data::text"


@dataclass(frozen=True, slots=True)
class NewEvent:
    type: str
    at: datetime
    owner_id: UUID
    offer_id: UUID | None
    merchant_id: UUID | None
    user_id: str | None
    app_id: UUID | None
    data: str  # a JSON object


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    txid: int
    type: str
    at: datetime
    owner_id: UUID
    offer_id: UUID | None
    merchant_id: UUID | None
    user_id: str | None
    app_id: UUID | None
    data: str  # JSON text, as stored


def emit_ctes(source: str) -> str:
    """The data-modifying CTEs `emitted` and `fanned_out` that write the events `source` (a
    SELECT of NEW_EVENT_COLUMNS, `data` as jsonb) yields, and one pending delivery per event
    and webhook of its owner that subscribes to its type. Put them in a WITH of the statement
    that makes the change, so the events commit exactly when it does; `emitted` returns the
    events' rows (EventRow's columns)."""
    return f"""emitted AS (
            INSERT INTO event ({NEW_EVENT_COLUMNS})
            {source}
            RETURNING {_EVENT_COLUMNS}
        ), fanned_out AS (
            INSERT INTO delivery (event_id, webhook_id)
            SELECT e.id, w.id FROM emitted e
            JOIN webhook w ON w.owner_id = e.owner_id AND e.type = ANY (w.events)
        )"""


_EMIT = f"""
    WITH {
    emit_ctes(
        "SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::uuid[], $4::uuid[],"
        " $5::uuid[], $6::text[], $7::uuid[], $8::text[]::jsonb[])"
    )
}
    SELECT id FROM emitted ORDER BY id"""


async def emit(
    conn: AsyncConnection | asyncpg.Connection, *, events: Sequence[NewEvent]
) -> list[int]:
    """Write `events` in the caller's transaction (and their deliveries); their ids, in order.

    On a SQLAlchemy connection the statement goes through SQLAlchemy, which opens the
    connection's transaction first if no statement has yet (the bare driver would not).
    """
    if not events:
        return []
    columns = [
        list(c)
        for c in zip(
            *(
                (e.type, e.at, e.owner_id, e.offer_id, e.merchant_id, e.user_id, e.app_id, e.data)
                for e in events
            ),
            strict=True,
        )
    ]
    if isinstance(conn, asyncpg.Connection):
        return [r[0] for r in await conn.fetch(_EMIT, *columns)]
    return [r[0] for r in await conn.exec_driver_sql(_EMIT, tuple(columns))]


async def position_of(
    conn: AsyncConnection, *, owner_id: UUID, event_id: int
) -> tuple[int, int] | None:
    """The replay position (txid, id) of one of the owner's events, if it is still kept."""
    row = (
        await conn.exec_driver_sql(
            "SELECT txid, id FROM event WHERE id = $1 AND owner_id = $2", (event_id, owner_id)
        )
    ).one_or_none()
    return (row.txid, row.id) if row else None


# The oldest transaction that may still write events here: the oldest in progress at the
# statement's snapshot, leaving out those that pg_stat_activity shows belong to another
# database (they write no events here, and a long one there must not hold replay back). One
# that ended since the snapshot, or a prepared one, is kept in: that errs only towards waiting.
_HORIZON = """replay_horizon AS (
            SELECT coalesce(min(x::text::bigint),
                            pg_snapshot_xmax(pg_current_snapshot())::text::bigint) AS horizon
            FROM pg_snapshot_xip(pg_current_snapshot()) AS x
            WHERE x::text::bigint NOT IN (
                SELECT backend_xid::text::bigint FROM pg_stat_activity
                WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())
        )"""


async def replay(
    conn: AsyncConnection,
    *,
    owner_id: UUID,
    after: tuple[int, int] | None,
    types: Sequence[str] | None,
    limit: int,
    tail: bool = False,
) -> list[EventRow]:
    """The owner's committed events after the position `after`, in commit order (see above):
    the first `limit`, or with `tail` the last `limit` (the index walked backwards)."""
    txid, event_id = after if after is not None else (-1, -1)
    direction = "DESC" if tail else "ASC"
    rows = await conn.exec_driver_sql(
        f"""WITH {_HORIZON}
            SELECT {_EVENT_COLUMNS} FROM event
            WHERE owner_id = $1
              AND txid < (SELECT horizon FROM replay_horizon)
              AND (txid, id) > ($2, $3)
              AND ($4::text[] IS NULL OR type = ANY ($4))
            ORDER BY txid {direction}, id {direction}
            LIMIT $5""",
        (owner_id, txid, event_id, list(types) if types else None, limit),
    )
    found = [EventRow(*tuple(r)) for r in rows]
    return found[::-1] if tail else found


async def prune(conn: asyncpg.Connection, *, keep_s: float, batch: int) -> int:
    """Delete up to `batch` of the oldest events (and their deliveries) older than `keep_s`.

    Walks the primary key from the start: ids grow with time, so the oldest events are there,
    and no index on `at` slows every insert down for the sake of this.
    """
    done = await conn.execute(
        """DELETE FROM event WHERE id = ANY (ARRAY(
               SELECT id FROM event ORDER BY id LIMIT $2))
             AND at < now() - make_interval(secs => $1)""",
        keep_s,
        batch,
    )
    return int(done.split()[-1])
