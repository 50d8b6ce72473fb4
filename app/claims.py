"""Claim use cases: hand out a code of an offer to an app's user standing in its fence, show
codes to their cashier and their user, and redeem a code at the store.

A claim without a key is one statement on the driver connection (queries/claims.py): it counts
the attempt against the rate limits (app/ratelimit.py: per user of the app, then per app; a
429 counts nothing further), claims only if they allow it, and reads the offer's summary for
the response. The claim is all or nothing: it reads the offer for the messages (404; 409 not
active; 403 outside the fence; 409 per-user limit; 409 sold out), and counts the claim on the
offer and on the user and stores the code only if the newest rows allow it, so no offer ever
hands out more than its quantity. Being one statement, it needs no transaction. A code taken
writes its events (offer.claimed, and offer.sold_out with the last code) in the claim
statement itself, and redeeming writes claim.redeemed in its transaction (app/events.py).
(Before the limits, one round trip measured about 1,500 claims/s over HTTP on one worker,
where BEGIN, a check, the claim and COMMIT made about 750; the limits in a round trip of
their own cost a third of that, folded into the claim statement they cost little: see
docs/design.md.)

With an Idempotency-Key (scoped to the offer and the app) a preflight statement runs in a
transaction and first takes the key, then counts the limits: a repeat waits on that row until
the first request commits, finds the key taken, counts nothing and returns the first response,
status and body byte for byte (also a 403 or 409), with the header `Idempotent-Replayed: true`.
A 429 rolls back, key and counts alike, so retrying the key later claims. A key reused by
another user_id is a 422: a code is never shown to a user it was not given to. Keys are kept 24
hours; every 16th keyed claim of a process deletes up to 100 expired ones (measured: deleting
on every claim cost a quarter of the claim rate).

Codes are 128 random bits in RFC 4648 base32 (26 characters, A-Z and 2-7; redeeming accepts
lower case too).
"""

from __future__ import annotations

import base64
import itertools
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app import attribution, cursor, events, ratelimit
from app.auth import AppUser, Principal
from app.db import constraint_errors
from app.errors import (
    AlreadyRedeemed,
    Conflict,
    Forbidden,
    InvalidInput,
    LimitReached,
    NotActive,
    NotFound,
    OutsideFence,
    SoldOut,
    problem_of,
)
from app.queries import claims as claims_sql
from app.queries import offers as offers_sql
from app.queries import shares as shares_sql
from app.queries.claims import (
    ClaimGate,
    ClaimRecord,
    ClaimRow,
    NewClaim,
    OfferSummary,
    UserClaim,
)
from app.queries.offers import OfferRow
from app.queries.ratelimit import Hit
from app.ratelimit import Clock, Limits
from spatial import CoordSystem, from_wgs84, to_wgs84
from spatial.h3cells import cell_of

IDEMPOTENCY_TTL_S = 24 * 3600.0
CLAIM_CELL_RES = 9  # the H3 resolution of where a claim was made, kept for statistics
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


@dataclass(frozen=True)
class Attempt:
    """A claim as the app asked for it: where its user stands, in `coord`."""

    offer_id: UUID
    app_id: UUID
    user_id: str
    lat: float
    lng: float
    coord: CoordSystem
    accuracy_m: float  # 0 when the app did not say
    key: str | None
    share: str | None = None  # the share code the user came through


async def claim(conn: asyncpg.Connection, attempt: Attempt, *, limits: Limits) -> Outcome:
    """Claim a code for the app's user at the point; see the module docstring."""
    clock = Clock.now()
    hits = limits.claim(attempt.app_id, attempt.user_id)
    key = attempt.key
    if key is None:  # one statement, atomic on its own: no transaction needed
        return Outcome(201, await _claim_counted(conn, attempt, hits, clock))
    async with conn.transaction():
        pre = await _preflight(conn, attempt, key, hits, clock)
        if not pre.fresh:
            stored = await claims_sql.stored_response(
                conn, offer_id=attempt.offer_id, app_id=attempt.app_id, key=key
            )
            return _replay(stored, attempt.user_id)
        ratelimit.raise_if_refused(hits, pre.counted, clock)  # rolls the key back too
        offer = _offer_of(pre, attempt)
        try:
            outcome = Outcome(201, await _take(conn, attempt, offer, key, datetime.now(UTC)))
        except (Forbidden, Conflict) as exc:  # nothing was written but the key
            outcome = Outcome(exc.status, bytes(problem_of(exc).body))
            await claims_sql.store_response(
                conn,
                offer_id=attempt.offer_id,
                app_id=attempt.app_id,
                key=key,
                status=outcome.status,
                body=outcome.body.decode(),
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
        raise AlreadyRedeemed(f"The code {code} has already been redeemed")
    await events.emit(
        conn,
        events.new(
            "claim.redeemed",
            owner_id=target.owner_id,
            at=now,
            offer_id=row.offer_id,
            merchant_id=target.merchant_id,
            user_id=row.user_id,
            app_id=target.app_id,
            data={
                "code": row.code,
                "claimed_at": row.claimed_at.isoformat(),
                "redeemed_at": now.isoformat(),
            },
        ),
    )
    return row


async def look_up(
    conn: AsyncConnection, *, caller: Principal | AppUser, code: str
) -> tuple[ClaimRecord, OfferRow]:
    """A code and its offer, for the offer's owner (or the admin), or the app and user that
    claimed it."""
    code = code.upper()
    record = await claims_sql.claim_by_code(conn, code=code)
    if record is None:
        raise NotFound(f"There is no claim with code {code}")
    allowed = (
        caller.may_see(record.app_id, record.user_id)
        if isinstance(caller, AppUser)
        else caller.may_write(record.owner_id)
    )
    if not allowed:
        raise Forbidden("This code was claimed by another user or for another owner's offer")
    offer = await offers_sql.offer_by_id(conn, offer_id=record.offer_id)
    assert offer is not None, "a claim's offer exists while the claim does"
    return record, offer


async def of_user(
    conn: AsyncConnection,
    *,
    caller: AppUser,
    user_id: str,
    after_cursor: str | None,
    limit: int,
) -> tuple[list[UserClaim], str | None]:
    """A user's codes, newest first, for their app (or their own token)."""
    if not caller.may_see(caller.app_id, user_id):
        raise Forbidden("A user token shows only its own user's codes")
    query = cursor.fingerprint("user-claims", str(caller.app_id), user_id)
    before = None
    if after_cursor is not None:
        at, code = cursor.read(after_cursor, query, datetime.fromisoformat, str)
        before = (at, code)
    rows = await claims_sql.claims_of_user(
        conn, app_id=caller.app_id, user_id=user_id, before=before, limit=limit + 1
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor.encode([rows[-1].claimed_at.isoformat(), rows[-1].code], query)
    return rows, next_cursor


def offer_summary_body(offer: OfferSummary, offer_id: UUID, coord: CoordSystem) -> dict[str, Any]:
    """The offer of a claim as a claim's response and a user's list show it, in `coord`."""
    lat, lng = offer.merchant_lat, offer.merchant_lng
    if coord is not CoordSystem.WGS84:
        lat, lng = from_wgs84(lat, lng, coord)
    return {
        "id": str(offer_id),
        "title": offer.title,
        "ends_at": offer.ends_at,
        "merchant": {
            "id": str(offer.merchant_id),
            "name": offer.merchant_name,
            "category": offer.merchant_category,
            "address": offer.merchant_address,
            "phone": offer.merchant_phone,
            "location": {"lat": lat, "lng": lng},
        },
    }


def _response(
    attempt: Attempt, offer: OfferSummary, code: str, now: datetime, share: str | None
) -> bytes:
    """A code's 201 JSON; `share` is the share the claim is attributed to."""
    body = {
        "code": code,
        "offer_id": str(attempt.offer_id),
        "user_id": attempt.user_id,
        "claimed_at": now,
        "offer": offer_summary_body(offer, attempt.offer_id, attempt.coord),
        "share": share,
    }
    return orjson.dumps(body, option=_JSON)


async def _claim_counted(
    conn: asyncpg.Connection, attempt: Attempt, hits: list[Hit], clock: Clock
) -> bytes:
    """A claim without a key, counted against the limits in its one statement: the code's
    JSON, or the refusal's error (a 429 first); a refusal writes nothing but the counts."""
    made = _new_claim(attempt, datetime.now(UTC))
    claimed = await claims_sql.claim_counted(
        conn, made, hits=hits, window_no=clock.window_no, fraction=clock.fraction
    )
    await ratelimit.purge_now_and_then(conn, clock)
    ratelimit.raise_if_refused(hits, claimed.counted, clock)
    if claimed.taken is None or claimed.offer is None:
        raise _no_offer(attempt.offer_id)
    if claimed.taken.claimed_at is not None:
        return _response(attempt, claimed.offer, made.code, made.now, claimed.taken.share)
    if not claimed.taken.share_known:
        raise _unknown_share()
    raise await _refusal(conn, attempt, claimed.taken, made)


async def _take(
    conn: asyncpg.Connection, attempt: Attempt, offer: OfferSummary, key: str, now: datetime
) -> bytes:
    """A keyed claim's code JSON (stored for the key too), or the refusal's error; a refusal
    writes nothing."""
    made = _new_claim(attempt, now)
    response = _response(attempt, offer, made.code, now, await _attributed(conn, attempt))
    with constraint_errors(_OFFER_GONE, attempt.offer_id):
        taken = await claims_sql.take_code(conn, made, key=key, response=response.decode())
    if taken is None:
        raise _no_offer(attempt.offer_id)
    if taken.claimed_at is not None:
        return response
    if not taken.share_known:
        raise _unknown_share()
    raise await _refusal(conn, attempt, taken, made)


async def _attributed(conn: asyncpg.Connection, attempt: Attempt) -> str | None:
    """The share a keyed claim will be attributed to, for the response stored with its key
    before the claim statement runs: the rule of app/attribution.py, as the statement applies
    it. A share that is not the offer's gives None here, and the claim a 422."""
    if attempt.share is None:
        return None
    row = await shares_sql.share_of_offer(conn, code=attempt.share, offer_id=attempt.offer_id)
    if row is None:
        return None
    share = attribution.Share(row.code, row.parent, (row.app_id, row.user_id))
    claimant = (attempt.app_id, attempt.user_id)
    return attribution.attributed_share({row.code: share}, row.code, claimant)


def _new_claim(attempt: Attempt, now: datetime) -> NewClaim:
    """The attempt as the claim statement takes it, with a new code: in WGS-84, with its
    resolution-9 cell."""
    lat, lng = to_wgs84(attempt.lat, attempt.lng, attempt.coord)
    return NewClaim(
        offer_id=attempt.offer_id,
        user_id=attempt.user_id,
        lat=lat,
        lng=lng,
        accuracy_m=attempt.accuracy_m,
        app_id=attempt.app_id,
        code=new_code(),
        now=now,
        cell=cell_of(lat, lng, CLAIM_CELL_RES),
        share=attempt.share,
    )


def _unknown_share() -> InvalidInput:
    return InvalidInput.at(["body", "share"], "is not a share of this offer")


async def _refusal(
    conn: asyncpg.Connection, attempt: Attempt, taken: claims_sql.Taken, made: NewClaim
) -> Forbidden | Conflict:
    """Why nothing was taken: the offer as the claim found it, read again if it sold out."""
    gate = taken.gate
    if not gate.active:
        return _inactive(gate)
    if not gate.inside:
        return OutsideFence(
            "The user is not inside this offer's geofence"
            if attempt.accuracy_m <= claims_sql.PRESENCE_SLACK_M
            else "The user is not inside this offer's geofence, or the position's accuracy"
            f" circle ({attempt.accuracy_m:g} m) reaches more than"
            f" {claims_sql.PRESENCE_SLACK_M:g} m outside it"
        )
    if taken.open:
        return LimitReached(
            f"The user {attempt.user_id!r} already holds the {gate.per_user_limit} code(s) per"
            " user this offer allows"
        )
    # It sold out, maybe since the gate's read (the lock re-checks the newest row), or, rarely,
    # its owner just changed it: read it again for the message.
    again = await claims_sql.claim_gate(
        conn,
        offer_id=made.offer_id,
        lat=made.lat,
        lng=made.lng,
        accuracy_m=made.accuracy_m,
        now=made.now,
    )
    return _inactive(again) if again and not again.active else _sold_out(again or gate)


async def _preflight(
    conn: asyncpg.Connection, attempt: Attempt, key: str, hits: list[Hit], clock: Clock
) -> claims_sql.Preflight:
    with constraint_errors(_OFFER_GONE, attempt.offer_id):
        pre = await claims_sql.preflight(
            conn,
            offer_id=attempt.offer_id,
            app_id=attempt.app_id,
            user_id=attempt.user_id,
            key=key,
            ttl_s=IDEMPOTENCY_TTL_S,
            hits=hits,
            window_no=clock.window_no,
            fraction=clock.fraction,
        )
    await ratelimit.purge_now_and_then(conn, clock)
    return pre


def _offer_of(pre: claims_sql.Preflight, attempt: Attempt) -> OfferSummary:
    if pre.offer is None:
        raise _no_offer(attempt.offer_id)
    return pre.offer


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


def _inactive(gate: ClaimGate) -> NotActive:
    if gate.started and gate.ends_at is not None:
        return NotActive(f"This offer is not active now: it ended at {gate.ends_at.isoformat()}")
    return NotActive(f"This offer is not active now: it starts at {gate.starts_at.isoformat()}")


def _sold_out(gate: ClaimGate) -> SoldOut:
    return SoldOut(f"This offer is sold out: all {gate.quantity} codes have been claimed")
