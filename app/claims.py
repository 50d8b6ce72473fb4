"""Claim use cases: hand out a code of an offer to a user standing in its fence, and redeem a
code at the store.

A claim is one transaction on the driver connection: a check (404, 409 not active, 403 outside
the fence, 409 sold out), then one conditional statement that counts the claim on the offer and
on the user and stores the code (queries/claims.py). The check only picks the error message;
the statement alone decides, so no offer ever hands out more than its quantity.

With an Idempotency-Key the transaction first takes the key (offer, key). A repeat waits on that
row until the first request commits, then returns the first response, status and body byte for
byte (also a 403 or 409), with the header `Idempotent-Replayed: true`. A key reused by another
user_id is a 422: a code is never shown to a user it was not given to. Keys are kept 24 hours;
each keyed claim deletes a few expired ones.

Codes are 128 random bits in RFC 4648 base32 (26 characters, A-Z and 2-7; redeeming accepts
lower case too).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app import queries
from app.auth import Principal
from app.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from app.queries import ClaimGate, ClaimRow
from spatial import CoordSystem, to_wgs84

IDEMPOTENCY_TTL_S = 24 * 3600.0
_PURGE_BATCH = 20
_JSON = orjson.OPT_UTC_Z


@dataclass(frozen=True)
class Outcome:
    """A claim's response: 201 with the code, or a stored 403/409 problem on a replay."""

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
    wgs_lat, wgs_lng = to_wgs84(lat, lng, coord)
    async with conn.transaction():
        if key is None:
            return Outcome(201, await _claim(conn, offer_id, user_id, wgs_lat, wgs_lng))
        try:
            fresh = await queries.open_claim_request(
                conn, offer_id=offer_id, key=key, user_id=user_id, ttl_s=IDEMPOTENCY_TTL_S
            )
        except asyncpg.ForeignKeyViolationError:
            raise _no_offer(offer_id) from None
        if not fresh:
            return _replay(await queries.stored_response(conn, offer_id=offer_id, key=key), user_id)
        await queries.purge_claim_requests(conn, ttl_s=IDEMPOTENCY_TTL_S, batch=_PURGE_BATCH)
        try:
            async with conn.transaction():  # a savepoint: a refusal undoes the counts, not the key
                outcome = Outcome(201, await _claim(conn, offer_id, user_id, wgs_lat, wgs_lng))
        except (Forbidden, Conflict) as exc:
            outcome = Outcome(exc.status, problem_body(exc))
        await queries.store_response(
            conn, offer_id=offer_id, key=key, status=outcome.status, body=outcome.body.decode()
        )
        return outcome


async def redeem(conn: AsyncConnection, *, principal: Principal, code: str) -> ClaimRow:
    """Redeem a code once, for the owner of its offer's store (or the admin)."""
    code = code.upper()
    target = await queries.redeem_target(conn, code=code)
    if target is None:
        raise NotFound(f"There is no claim with code {code}")
    if not principal.may_write(target.owner_id):
        raise Forbidden("This code belongs to another owner's offer")
    now = datetime.now(UTC)
    row = await queries.redeem(conn, code=code, now=now) if target.redeemed_at is None else None
    if row is None:
        raise Conflict(f"The code {code} has already been redeemed")
    return row


def problem_body(exc: DomainError) -> bytes:
    """The problem details errors.py renders for `exc`, as stored for a replay."""
    body = {
        "type": f"/problems/{exc.slug}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    return orjson.dumps(body)


async def _claim(
    conn: asyncpg.Connection, offer_id: UUID, user_id: str, lat: float, lng: float
) -> bytes:
    now = datetime.now(UTC)  # the service's clock, as for offer windows and offers/here
    gate = await queries.claim_gate(conn, offer_id=offer_id, lat=lat, lng=lng, now=now)
    if gate is None:
        raise _no_offer(offer_id)
    if not gate.active:
        raise _inactive(gate)
    if not gate.inside:
        raise Forbidden("The user is not inside this offer's geofence")
    if gate.quantity is not None and gate.claimed >= gate.quantity:
        raise _sold_out(gate)
    code = new_code()
    taken = await queries.take_code(conn, offer_id=offer_id, user_id=user_id, code=code, now=now)
    if taken.claimed_at is None:
        if taken.counted:
            raise Conflict(
                f"The user {user_id!r} already holds the {gate.per_user_limit} code(s) per user"
                " this offer allows"
            )
        # It sold out or ended since the check, which read no lock; that row is the truth now.
        again = await queries.claim_gate(conn, offer_id=offer_id, lat=lat, lng=lng, now=now)
        raise _inactive(again) if again is not None and not again.active else _sold_out(gate)
    body = {"code": code, "offer_id": str(offer_id), "user_id": user_id}
    return orjson.dumps(body | {"claimed_at": taken.claimed_at}, option=_JSON)


def _replay(stored: queries.StoredResponse | None, user_id: str) -> Outcome:
    assert stored is not None, "a key that is taken and committed has its response"
    if stored.user_id != user_id:
        raise InvalidInput.at(
            ["header", "Idempotency-Key"], "was already used for this offer by another user_id"
        )
    return Outcome(stored.status, stored.body.encode(), replayed=True)


def _no_offer(offer_id: UUID) -> NotFound:
    return NotFound(f"There is no offer {offer_id}")


def _inactive(gate: ClaimGate) -> Conflict:
    if gate.started and gate.ends_at is not None:
        return Conflict(f"This offer is not active now: it ended at {gate.ends_at.isoformat()}")
    return Conflict(f"This offer is not active now: it starts at {gate.starts_at.isoformat()}")


def _sold_out(gate: ClaimGate) -> Conflict:
    return Conflict(f"This offer is sold out: all {gate.quantity} codes have been claimed")
