"""SQL of claims: handing out codes without ever overselling, idempotent claim requests, and
redeeming a code once.

A claim is one statement (`take_code`, all or nothing): lock the offer's row if the user is
inside its fence and it has a code left, a conditional upsert of the user's counter, then the
offer's counter and the code.
Whatever the concurrency, PostgreSQL re-checks each condition on the newest row version once
the row lock is free, so neither counter can pass its limit, and the CHECK constraints of the
tables stand behind that. Nothing is read into Python and written back.

Every path that locks rows locks the offer first (claims, redeeming, PATCH, DELETE with its
cascade), so no two of them can deadlock.

Claims run on the asyncpg driver (the claim route is a hot path too: benchmarked); redeeming
runs on SQLAlchemy Core like the other owner writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries import events as events_sql
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
    """The outcome of `take_code`: a claim time, or None and what the offer looked like."""

    fresh: bool  # False: the key was taken by an earlier request, nothing was claimed
    claimed_at: datetime | None
    open: bool  # inside, active and with a code left when locked: a refusal was the user's limit
    gate: ClaimGate


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
    merchant_id: UUID


def _gate_columns(now: str, point: str) -> str:
    """ClaimGate's columns of offer `o` at the instant `now`, for the geography `point`."""
    return f"""o.starts_at, o.ends_at, o.starts_at <= {now} AS started,
        o.starts_at <= {now} AND (o.ends_at IS NULL OR {now} < o.ends_at) AS active,
        CASE WHEN o.radius_m IS NULL THEN ST_Covers(o.fence, {point}::geography::geometry)
             ELSE ST_DWithin(o.center, {point}::geography, o.radius_m) END AS inside,
        o.quantity, o.claimed, o.per_user_limit"""


# offer.claimed for every code taken, and offer.sold_out with the one that took the last code.
_CLAIM_EVENTS = events_sql.emit_ctes(
    """SELECT k.type, $4::timestamptz, m.owner_id, c.id, c.merchant_id, $2::text, NULL::uuid,
              k.data
       FROM counted c JOIN merchant m ON m.id = c.merchant_id
       CROSS JOIN LATERAL (VALUES
           ('offer.claimed', jsonb_build_object(
               'code', $3::text, 'claimed', c.claimed, 'quantity', c.quantity)),
           ('offer.sold_out', jsonb_build_object('claimed', c.claimed, 'quantity', c.quantity))
       ) AS k (type, data)
       WHERE k.type = 'offer.claimed' OR c.claimed = c.quantity"""
)


def _take_statement(*, keyed: bool) -> str:
    """All or nothing, in one statement ($1 offer, $2 user, $3 code, $4 now, $5 point).

        The gate reads the offer as the statement found it, for the caller's messages. Then: lock
        the offer if the point is inside and it is active with a code left (after waiting for a
        concurrent claim, PostgreSQL re-checks that on the newest row), count the user if under
        their limit (ON CONFLICT re-checks the newest count), then the offer, then the code. A
        refusal writes nothing but the lock, so without a key no transaction is needed. A code
    taken writes its events in the same statement (events_sql.emit_ctes).

        Keyed ($6 key, $7 the success response, $8 the key's lifetime in seconds): first take the
        key (a repeat waits here for the first request to commit, then finds the key taken and
        claims nothing), storing the success response with it; a refusal must replace that
        response (store_response) in the same transaction.
    """
    request, fresh = "", "true"
    if keyed:
        request = """request AS (
            INSERT INTO claim_request AS r (offer_id, key, user_id, status, body)
            VALUES ($1, $6, $2, 201, $7::json)
            ON CONFLICT (offer_id, key) DO UPDATE
                SET user_id = excluded.user_id, status = 201, body = excluded.body,
                    created_at = now()
                WHERE r.created_at < now() - make_interval(secs => $8)
            RETURNING true
        ),"""
        fresh = "EXISTS (SELECT FROM request)"
    return f"""
        WITH {request} gate AS (
            SELECT {_gate_columns("$4", "$5")} FROM offer o WHERE o.id = $1
        ), locked AS (
            SELECT o.id, o.per_user_limit FROM offer o, gate
            WHERE o.id = $1 AND gate.inside AND {fresh}
              AND o.starts_at <= $4 AND (o.ends_at IS NULL OR $4 < o.ends_at)
              AND (o.quantity IS NULL OR o.claimed < o.quantity)
            FOR NO KEY UPDATE OF o
        ), mine AS (
            INSERT INTO offer_claimant AS c (offer_id, user_id, claims)
            SELECT id, $2, 1 FROM locked
            ON CONFLICT (offer_id, user_id) DO UPDATE SET claims = c.claims + 1
            WHERE c.claims < coalesce((SELECT per_user_limit FROM locked), 2147483647)
            RETURNING c.offer_id
        ), counted AS (
            UPDATE offer o SET claimed = o.claimed + 1
            WHERE o.id = (SELECT offer_id FROM mine)
              AND (o.quantity IS NULL OR o.claimed < o.quantity)
            RETURNING o.id, o.merchant_id, o.claimed, o.quantity
        ), made AS (
            INSERT INTO claim (code, offer_id, user_id, claimed_at)
            SELECT $3, id, $2, $4 FROM counted
            RETURNING claimed_at
        ), {_CLAIM_EVENTS}
        SELECT {fresh}, (SELECT claimed_at FROM made), EXISTS (SELECT FROM locked), gate.*
        FROM gate"""


_TAKE = _take_statement(keyed=False)
_TAKE_KEYED = _take_statement(keyed=True)
_GATE = f"SELECT {_gate_columns('$2', '$3')} FROM offer o WHERE o.id = $1"


# The foreign keys a claim's rows hold on their offer: a claim of an offer that is not there
# breaks one of them.
OFFER_REFERENCES = (
    "fk_claim_offer_id_offer",
    "fk_offer_claimant_offer_id_offer",
    "fk_claim_request_offer_id_offer",
)


async def take_code(
    conn: asyncpg.Connection,
    *,
    offer_id: UUID,
    user_id: str,
    lat: float,
    lng: float,
    code: str,
    now: datetime,
    key: str | None = None,
    response: str | None = None,
    ttl_s: float = 0.0,
) -> Taken | None:
    """Claim `code` at `now` for the user at the WGS-84 point, or nothing at all; None if there
    is no such offer. With a `key` (and its success `response` and lifetime `ttl_s`), see
    _take_statement; breaks one of OFFER_REFERENCES when the offer does not exist.
    """
    point = ewkt(lat, lng)
    if key is None:
        row = await conn.fetchrow(_TAKE, offer_id, user_id, code, now, point)
    else:
        row = await conn.fetchrow(
            _TAKE_KEYED, offer_id, user_id, code, now, point, key, response, ttl_s
        )
    return Taken(row[0], row[1], row[2], ClaimGate(*row[3:])) if row else None


async def claim_gate(
    conn: asyncpg.Connection, *, offer_id: UUID, lat: float, lng: float, now: datetime
) -> ClaimGate | None:
    """The offer's window and stock at `now`, and whether the WGS-84 point is in its fence."""
    row = await conn.fetchrow(_GATE, offer_id, now, ewkt(lat, lng))
    return ClaimGate(*row) if row else None


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


async def purge_claim_requests(conn: asyncpg.Connection, *, ttl_s: float, batch: int) -> int:
    """Delete up to `batch` stored responses older than `ttl_s`, skipping rows in use.

    By ctid: a join on the key measured 3 ms on a table of 25k rows (its generic plan scans
    the whole table), this reads the `created_at` index and the rows it names.
    """
    done = await conn.execute(
        """DELETE FROM claim_request WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM claim_request
               WHERE created_at < now() - make_interval(secs => $1)
               ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED))""",
        ttl_s,
        batch,
    )
    return int(done.split()[-1])


async def redeem_target(conn: AsyncConnection, *, code: str) -> RedeemTarget | None:
    """The claim of a code and who owns its offer; locks the offer (the lock order)."""
    row = (
        await conn.execute(
            text(
                """SELECT c.code, c.offer_id, m.owner_id, c.redeemed_at, m.id
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
