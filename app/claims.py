"""Claim use cases: hand out a code of an offer to a user standing in its fence, and redeem a
code at the store.

A claim is one all-or-nothing statement on the driver connection (queries/claims.py): it reads
the offer for the messages (404; 409 not active; 403 outside the fence; 409 sold out; 409 the
user's limit), and counts the claim on the offer and on the user and stores the code only if
the newest rows allow it, so no offer ever hands out more than its quantity; a code taken writes
its events (offer.claimed, and offer.sold_out with the last code) in that same statement, and
redeeming writes claim.redeemed in its transaction (app/events.py). Atomic on its own,
it needs no transaction: a claim without a key is one round trip (measured over HTTP, one
worker: about 1,500 claims/s, where BEGIN, a check, the claim and COMMIT made about 750).

With an Idempotency-Key the same statement first takes the key (offer, key) with the response;
a refusal then replaces that response, in one transaction. A repeat waits on that row until the
first request commits, then returns the first response, status and body byte for byte (also a
403 or 409), with the header `Idempotent-Replayed: true`. A key reused by another user_id is a
422: a code is never shown to a user it was not given to. Keys are kept 24 hours; every 16th
keyed claim of a process deletes up to 100 expired ones (measured: deleting on every claim
cost a quarter of the claim rate).

Codes are 128 random bits in RFC 4648 base32 (26 characters, A-Z and 2-7; redeeming accepts
lower case too).
"""

from __future__ import annotations

import base64
import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app import events
from app.auth import Principal
from app.db import constraint_errors
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, problem_of
from app.queries import claims as claims_sql
from app.queries.claims import ClaimGate, ClaimRow
from spatial import CoordSystem, to_wgs84

IDEMPOTENCY_TTL_S = 24 * 3600.0
PURGE_EVERY, PURGE_BATCH = 16, 100  # every 16th keyed claim deletes up to 100 expired keys
_JSON = orjson.OPT_UTC_Z
_keyed_claims = itertools.count(1)


@dataclass(frozen=True)
class Outcome:
    """A claim's response: 201 with the code; under a key also a 403/409 problem (both stored
    for the key's repeats, which get them with `replayed`)."""

    status: int
    body: bytes  # JSON
    replayed: bool = False


def new_code() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")


async def claim(
    conn: asyncpg.Connection,
    *,
    offer_id: UUID,
    user_id: str,
    lat: float,
    lng: float,
    coord: CoordSystem,
    key: str | None,
) -> Outcome:
    """Claim a code for `user_id` at the point (in `coord`); see the module docstring."""
    lat, lng = to_wgs84(lat, lng, coord)
    now = datetime.now(UTC)  # the service's clock, as for offer windows and offers/here
    if key is None:  # one statement, atomic on its own: no transaction needed
        return Outcome(201, await _take(conn, offer_id, user_id, lat, lng, now))
    async with conn.transaction():
        try:
            outcome = Outcome(201, await _take(conn, offer_id, user_id, lat, lng, now, key))
        except _Replay:
            stored = await claims_sql.stored_response(conn, offer_id=offer_id, key=key)
            return _replay(stored, user_id)
        except (Forbidden, Conflict) as exc:  # nothing was written but the key
            outcome = Outcome(exc.status, bytes(problem_of(exc).body))
            await claims_sql.store_response(
                conn, offer_id=offer_id, key=key, status=outcome.status, body=outcome.body.decode()
            )
        if next(_keyed_claims) % PURGE_EVERY == 0:
            await purge_expired(conn)
        return outcome


async def purge_expired(conn: asyncpg.Connection) -> int:
    """Delete up to PURGE_BATCH keys older than the TTL; how many went."""
    return await claims_sql.purge_claim_requests(conn, ttl_s=IDEMPOTENCY_TTL_S, batch=PURGE_BATCH)


async def redeem(conn: AsyncConnection, *, principal: Principal, code: str) -> ClaimRow:
    """Redeem a code once, for the owner of its offer's store (or the admin); the event
    claim.redeemed is written in the same transaction."""
    code = code.upper()
    target = await claims_sql.redeem_target(conn, code=code)
    if target is None:
        raise NotFound(f"There is no claim with code {code}")
    if not principal.may_write(target.owner_id):
        raise Forbidden("This code belongs to another owner's offer")
    now = datetime.now(UTC)
    row = await claims_sql.redeem(conn, code=code, now=now) if target.redeemed_at is None else None
    if row is None:
        raise Conflict(f"The code {code} has already been redeemed")
    await events.emit(
        conn,
        events.new(
            "claim.redeemed",
            owner_id=target.owner_id,
            at=now,
            offer_id=row.offer_id,
            merchant_id=target.merchant_id,
            user_id=row.user_id,
            data={
                "code": row.code,
                "claimed_at": row.claimed_at.isoformat(),
                "redeemed_at": now.isoformat(),
            },
        ),
    )
    return row


async def _take(
    conn: asyncpg.Connection,
    offer_id: UUID,
    user_id: str,
    lat: float,
    lng: float,
    now: datetime,
    key: str | None = None,
) -> bytes:
    """The code's JSON (stored for `key` too), or the refusal's error; a refusal writes nothing."""
    code = new_code()
    body = {"code": code, "offer_id": str(offer_id), "user_id": user_id, "claimed_at": now}
    response = orjson.dumps(body, option=_JSON)
    with constraint_errors(_OFFER_GONE, offer_id):
        taken = await claims_sql.take_code(
            conn,
            offer_id=offer_id,
            user_id=user_id,
            lat=lat,
            lng=lng,
            code=code,
            now=now,
            key=key,
            response=response.decode(),
            ttl_s=IDEMPOTENCY_TTL_S,
        )
    if taken is None:
        raise _no_offer(offer_id)
    if not taken.fresh:
        raise _Replay
    if taken.claimed_at is not None:
        return response
    gate = taken.gate
    if not gate.active:
        raise _inactive(gate)
    if not gate.inside:
        raise Forbidden("The user is not inside this offer's geofence")
    if taken.open:
        raise Conflict(
            f"The user {user_id!r} already holds the {gate.per_user_limit} code(s) per user"
            " this offer allows"
        )
    # It sold out, maybe since the gate's read (the lock re-checks the newest row), or, rarely,
    # its owner just changed it: read it again for the message.
    again = await claims_sql.claim_gate(conn, offer_id=offer_id, lat=lat, lng=lng, now=now)
    raise _inactive(again) if again and not again.active else _sold_out(again or gate)


class _Replay(Exception):
    """The Idempotency-Key was taken by an earlier request: answer with its response."""


def _replay(stored: claims_sql.StoredResponse | None, user_id: str) -> Outcome:
    assert stored is not None, "a key that is taken and committed has its response"
    if stored.user_id != user_id:
        raise InvalidInput.at(
            ["header", "Idempotency-Key"], "was already used for this offer by another user_id"
        )
    return Outcome(stored.status, stored.body.encode(), replayed=True)


def _no_offer(offer_id: UUID) -> NotFound:
    return NotFound(f"There is no offer {offer_id}")


_OFFER_GONE = dict.fromkeys(claims_sql.OFFER_REFERENCES, _no_offer)


def _inactive(gate: ClaimGate) -> Conflict:
    if gate.started and gate.ends_at is not None:
        return Conflict(f"This offer is not active now: it ended at {gate.ends_at.isoformat()}")
    return Conflict(f"This offer is not active now: it starts at {gate.starts_at.isoformat()}")


def _sold_out(gate: ClaimGate) -> Conflict:
    return Conflict(f"This offer is sold out: all {gate.quantity} codes have been claimed")
