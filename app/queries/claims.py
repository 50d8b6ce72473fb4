"""SQL of claims: handing out codes without ever overselling, idempotent claim requests, and
redeeming a code once.

A claim is one statement (`take_code`) in the caller's transaction: a conditional UPDATE of
the offer's counter, then a conditional upsert of the user's counter, then the code. Whatever
the concurrency, PostgreSQL re-checks each condition on the newest row version once the row
lock is free, so neither counter can pass its limit, and the CHECK constraints of the tables
stand behind that. Nothing is read into Python and written back.

Every path that locks rows locks the offer first (claims, redeeming, PATCH, DELETE with its
cascade), so no two of them can deadlock.

Claims run on the asyncpg driver (the claim route is a hot path too); redeeming runs on
SQLAlchemy Core like the other owner writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries.sql import ewkt


@dataclass(slots=True)
class ClaimGate:
    """What decides whether a claim may be tried at all, at the instant of the claim."""

    starts_at: datetime
    ends_at: datetime | None
    started: bool
    active: bool
    inside: bool  # the user's point lies in the fence
    quantity: int | None
    claimed: int
    per_user_limit: int | None


@dataclass(slots=True)
class Taken:
    """The outcome of `take_code`: a claim time, or None with the reason."""

    claimed_at: datetime | None
    counted: bool  # the offer was active with a code left (so a refusal was the user's limit)


@dataclass(slots=True)
class StoredResponse:
    user_id: str
    status: int
    body: str  # JSON text, exactly as first sent


@dataclass(slots=True)
class ClaimRow:
    code: str
    offer_id: UUID
    user_id: str
    claimed_at: datetime
    redeemed_at: datetime | None


@dataclass(slots=True)
class RedeemTarget:
    code: str
    offer_id: UUID
    owner_id: UUID  # of the offer's merchant
    redeemed_at: datetime | None


_GATE = """
    SELECT o.starts_at, o.ends_at, o.starts_at <= $3,
           o.starts_at <= $3 AND (o.ends_at IS NULL OR $3 < o.ends_at),
           CASE WHEN o.radius_m IS NULL THEN ST_Covers(o.fence, $2::geography::geometry)
                ELSE ST_DWithin(o.center, $2::geography, o.radius_m) END,
           o.quantity, o.claimed, o.per_user_limit
    FROM offer o WHERE o.id = $1"""

# The offer's counter first (the lock order of module docstring), then the user's, then the code.
# A user at their limit leaves the offer's counter raised: the caller rolls the transaction back.
_TAKE = """
    WITH counted AS (
        UPDATE offer o SET claimed = o.claimed + 1
        WHERE o.id = $1
          AND o.starts_at <= $4 AND (o.ends_at IS NULL OR $4 < o.ends_at)
          AND (o.quantity IS NULL OR o.claimed < o.quantity)
        RETURNING o.id, o.per_user_limit
    ), mine AS (
        INSERT INTO offer_claimant AS c (offer_id, user_id, claims)
        SELECT id, $2, 1 FROM counted
        ON CONFLICT (offer_id, user_id) DO UPDATE SET claims = c.claims + 1
        WHERE c.claims < coalesce((SELECT per_user_limit FROM counted), 2147483647)
        RETURNING c.offer_id
    ), made AS (
        INSERT INTO claim (code, offer_id, user_id, claimed_at)
        SELECT $3, offer_id, $2, $4 FROM mine
        RETURNING claimed_at
    )
    SELECT (SELECT claimed_at FROM made), EXISTS (SELECT FROM counted)"""

_OPEN_REQUEST = """
    INSERT INTO claim_request AS r (offer_id, key, user_id) VALUES ($1, $2, $3)
    ON CONFLICT (offer_id, key) DO UPDATE
        SET user_id = excluded.user_id, status = NULL, body = NULL, created_at = now()
        WHERE r.created_at < now() - make_interval(secs => $4)
    RETURNING true"""


async def claim_gate(
    conn: asyncpg.Connection, *, offer_id: UUID, lat: float, lng: float, now: datetime
) -> ClaimGate | None:
    """The offer's window and stock at `now`, and whether the WGS-84 point is in its fence."""
    row = await conn.fetchrow(_GATE, offer_id, ewkt(lat, lng), now)
    return ClaimGate(*row) if row else None


async def take_code(
    conn: asyncpg.Connection, *, offer_id: UUID, user_id: str, code: str, now: datetime
) -> Taken:
    """Count one claim at `now` on the offer and the user, and store the code; see the module
    docstring. On a refusal the transaction holds a partial count: the caller must roll it back.
    """
    claimed_at, counted = await conn.fetchrow(_TAKE, offer_id, user_id, code, now)
    return Taken(claimed_at, counted)


async def open_claim_request(
    conn: asyncpg.Connection, *, offer_id: UUID, key: str, user_id: str, ttl_s: float
) -> bool:
    """Take the key for this request: True if it is new (or older than `ttl_s`, so reusable).

    False if another request has it; when that one has not committed yet, this waits until it
    does (or rolls back, and then the key is taken here). Raises ForeignKeyViolationError when
    the offer does not exist.
    """
    return bool(await conn.fetchval(_OPEN_REQUEST, offer_id, key, user_id, ttl_s))


async def stored_response(
    conn: asyncpg.Connection, *, offer_id: UUID, key: str
) -> StoredResponse | None:
    row = await conn.fetchrow(
        "SELECT user_id, status, body::text FROM claim_request WHERE offer_id = $1 AND key = $2",
        offer_id,
        key,
    )
    return StoredResponse(*row) if row else None


async def store_response(
    conn: asyncpg.Connection, *, offer_id: UUID, key: str, status: int, body: str
) -> None:
    await conn.execute(
        "UPDATE claim_request SET status = $3, body = $4::json WHERE offer_id = $1 AND key = $2",
        offer_id,
        key,
        status,
        body,
    )


async def purge_claim_requests(conn: asyncpg.Connection, *, ttl_s: float, batch: int) -> None:
    """Delete up to `batch` stored responses older than `ttl_s`, skipping rows in use."""
    await conn.execute(
        """DELETE FROM claim_request WHERE (offer_id, key) IN (
               SELECT offer_id, key FROM claim_request
               WHERE created_at < now() - make_interval(secs => $1)
               ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)""",
        ttl_s,
        batch,
    )


async def redeem_target(conn: AsyncConnection, *, code: str) -> RedeemTarget | None:
    """The claim of a code and who owns its offer; locks the offer (the lock order)."""
    row = (
        await conn.execute(
            text(
                """SELECT c.code, c.offer_id, m.owner_id, c.redeemed_at
                   FROM claim c JOIN offer o ON o.id = c.offer_id
                   JOIN merchant m ON m.id = o.merchant_id
                   WHERE c.code = :code
                   FOR NO KEY UPDATE OF o"""
            ),
            {"code": code},
        )
    ).one_or_none()
    return RedeemTarget(*row) if row else None


async def redeem(conn: AsyncConnection, *, code: str, now: datetime) -> ClaimRow | None:
    """Mark the code redeemed at `now` and count it on its offer; None if it already was."""
    row = (
        await conn.execute(
            text(
                """WITH done AS (
                       UPDATE claim SET redeemed_at = :now
                       WHERE code = :code AND redeemed_at IS NULL
                       RETURNING code, offer_id, user_id, claimed_at, redeemed_at
                   ), counted AS (
                       UPDATE offer o SET redeemed = o.redeemed + 1
                       FROM done WHERE o.id = done.offer_id
                   )
                   SELECT code, offer_id, user_id, claimed_at, redeemed_at FROM done"""
            ),
            {"code": code, "now": now},
        )
    ).one_or_none()
    return ClaimRow(*row) if row else None
