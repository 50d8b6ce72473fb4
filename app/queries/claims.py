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

A claim without an Idempotency-Key is one round trip: the same statement first counts the
attempt against the rate limits (queries/ratelimit.py) and claims only if they allow it. Its
counter rows stay locked until the claim commits, also while it waits for a busy offer; the
per-app limit is therefore counted on one of several shard rows of the app, picked at random
(app/ratelimit.py), so that claims of one app rarely queue behind each other. With a key, a
`preflight` statement takes the key and counts the limits in the keyed claim's transaction,
then `take_code` claims.

Presence (API.md: the accuracy circle may reach at most 50 m outside the fence): the point must
lie in the fence, and its distance to the fence's edge must be at least `accuracy_m - 50`,
i.e. the circle reaches at most 50 m past the edge. For a circle fence (centre c, radius R)
that is geodesic: d(c, p) <= R + 50 - accuracy_m. For a polygon the edge is its outline
without the seams the storage adds (cuts at the antimeridian, closures over a pole), cut into
pieces of 0.0005 degrees so that the great circles of geography follow the planar edges
within millimetres, each piece measured on the spheroid. Piece by piece, because PostGIS
measures a geography line from the point nearest on the sphere: where two edges are nearly
equally far (the middle of a square), that picked the wrong one, up to 0.7% too far.

Claims run on the asyncpg driver (the claim route is a hot path too: benchmarked); redeeming
runs on SQLAlchemy Core like the other owner writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.queries import events as events_sql
from app.queries import ratelimit as ratelimit_sql
from app.queries.ratelimit import Counted, Hit
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

    claimed_at: datetime | None
    open: bool  # inside, active and with a code left when locked: a refusal was the user's limit
    share_known: bool  # no share named, or a share of this offer
    share: str | None  # the share a code taken is attributed to (API: the claim's `share`)
    gate: ClaimGate


@dataclass(slots=True)
class OfferSummary:
    """What a claim's response shows of its offer and store (WGS-84)."""

    title: str
    ends_at: datetime | None
    merchant_id: UUID
    merchant_name: str
    merchant_category: str
    merchant_address: str | None
    merchant_phone: str | None
    merchant_lat: float
    merchant_lng: float


@dataclass(slots=True)
class Preflight:
    fresh: bool  # False: the Idempotency-Key was taken before (and is kept): nothing counted
    offer: OfferSummary | None  # None: no such offer
    counted: list[Counted]


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
class ClaimRecord(ClaimRow):
    app_id: UUID
    owner_id: UUID  # of the offer's merchant
    share: str | None  # the share the claim is attributed to


@dataclass(slots=True)
class UserClaim(ClaimRow):
    offer: OfferSummary
    share: str | None  # the share the claim is attributed to


@dataclass(slots=True)
class RedeemTarget:
    code: str
    offer_id: UUID
    owner_id: UUID  # of the offer's merchant
    redeemed_at: datetime | None
    merchant_id: UUID
    app_id: UUID  # whose user claimed the code


# Seams of stored fences that are not edges: cuts at the antimeridian, closures over a pole.
_SEAMS = (
    "'SRID=4326;MULTILINESTRING((180 -90,180 90),(-180 -90,-180 90),"
    "(-180 90,180 90),(-180 -90,180 -90))'::geometry"
)
EDGE_PIECE_DEG = 0.0005
PRESENCE_SLACK_M = 50.0
# The quarter-hour (UTC) of offer_stats an instant counts in.
QUARTER_OF = "date_bin('15 minutes', {}, timestamptz '2000-01-01 00:00+00')"
_COUNTS = ("claims", "redemptions")


def live_quarter_set(kind: str, at: str) -> str:
    """The SET clauses of an UPDATE of offer `o` that count one of `kind` ("claims" or
    "redemptions") at the instant `at` on the offer's live quarter (offer.stats_t and its
    counts, migration 0010): the same quarter adds one; a later one starts afresh (its
    predecessor goes to offer_stats, `spill_cte`); an earlier one (an instant older than a
    concurrent claim's that already moved the quarter on) leaves the row alone and goes to
    offer_stats itself."""
    q = QUARTER_OF.format(at)
    sets = [f"stats_t = greatest(o.stats_t, {q})"]
    for count in _COUNTS:
        add = int(count == kind)
        sets.append(
            f"""stats_{count} = CASE WHEN o.stats_t IS NULL OR o.stats_t < {q} THEN {add}
                                     WHEN o.stats_t = {q} THEN o.stats_{count} + {add}
                                     ELSE o.stats_{count} END"""
        )
    return ", ".join(sets)


def spill_cte(name: str, kind: str, at: str, old: str, done: str) -> str:
    """The CTE `name` that writes to offer_stats what `live_quarter_set` moves off the offer's
    row: the finished quarter when a later one starts, or the one count of an earlier quarter.
    `old` is SQL of the offer's row as locked before the update (columns id, stats_t,
    stats_claims, stats_redemptions), `done` a condition that the count happened."""
    q = QUARTER_OF.format(at)
    adds = ", ".join(str(int(count == kind)) for count in _COUNTS)
    return f"""{name} AS (
        INSERT INTO offer_stats AS s (offer_id, t, claims, redemptions)
        SELECT l.id, l.stats_t, l.stats_claims, l.stats_redemptions FROM {old} l
        WHERE {done} AND l.stats_t < {q} AND l.stats_claims + l.stats_redemptions > 0
        UNION ALL
        SELECT l.id, {q}, {adds} FROM {old} l WHERE {done} AND l.stats_t > {q}
        ON CONFLICT (offer_id, t) DO UPDATE
            SET claims = s.claims + excluded.claims,
                redemptions = s.redemptions + excluded.redemptions
    )"""


def fence_edge_pieces(fence: str, near: tuple[str, str] | None = None) -> str:
    """The set-returning SQL of the edge of the polygon fence `fence` (a geometry) in pieces
    whose `geom` to measure as geography (see the module docstring): the one way presence
    measures a point's distance to a polygon's edge, for claims and tracking alike.

    With `near` (SQL of a point geometry and of a reach in degrees), only the pieces of the
    edge's segments within that reach of the point (planar): the same pieces, where a segment
    that cannot be near is not cut up."""
    # The overlay with the seams (a GEOS difference, milliseconds) only where there can be one.
    edge = f"""CASE WHEN ST_XMin({fence}) > -180 AND ST_XMax({fence}) < 180
                      AND ST_YMin({fence}) > -90 AND ST_YMax({fence}) < 90
                 THEN ST_Boundary({fence})
                 ELSE ST_Difference(ST_Boundary({fence}), {_SEAMS}) END"""
    if near is None:
        return f"ST_DumpSegments(ST_Segmentize({edge}, {EDGE_PIECE_DEG}))"
    point, reach = near
    return f"""(SELECT piece.geom
        FROM ST_DumpSegments({edge}) AS segment,
             ST_DumpSegments(ST_Segmentize(segment.geom, {EDGE_PIECE_DEG})) AS piece
        WHERE ST_DWithin(segment.geom, {point}, {reach}))"""


def _gate_columns(now: str, point: str, accuracy: str) -> str:
    """ClaimGate's columns of offer `o` at the instant `now`, for the geography `point` reported
    with `accuracy` metres (see the module docstring)."""
    slack = PRESENCE_SLACK_M
    pieces = fence_edge_pieces("o.fence")
    return f"""o.starts_at, o.ends_at, o.starts_at <= {now} AS started,
        o.starts_at <= {now} AND (o.ends_at IS NULL OR {now} < o.ends_at) AS active,
        CASE WHEN o.radius_m IS NULL THEN
                 ST_Covers(o.fence, {point}::geography::geometry)
                 AND CASE WHEN {accuracy} <= {slack} THEN true
                          ELSE NOT EXISTS (
                              SELECT FROM {pieces} AS piece
                              WHERE ST_DWithin(piece.geom::geography, {point}::geography,
                                               {accuracy} - {slack}))
                     END
             ELSE ST_DWithin(o.center, {point}::geography, o.radius_m)
                 AND CASE WHEN {accuracy} <= {slack} THEN true
                          WHEN o.radius_m + {slack} < {accuracy} THEN false
                          ELSE ST_DWithin(o.center, {point}::geography,
                                          o.radius_m + {slack} - {accuracy})
                     END
        END AS inside,
        o.quantity, o.claimed, o.per_user_limit"""


_SUMMARY_COLUMNS = """o.title, o.ends_at, m.id, m.name, m.category, m.address, m.phone,
    ST_Y(m.location::geometry), ST_X(m.location::geometry)"""


@cache
def _preflight_statement(*, limits: int) -> str:
    """A keyed claim's first statement, in its transaction: take the key, count the attempt
    against `limits` limits, and read the offer's summary ($1 offer, $2 app, $3 key, $4 the
    key's lifetime in seconds, $5 user; counters from $6).

    A repeat waits on the key's row until the first request commits, then finds the key taken
    and counts nothing; only a fresh key is counted. Breaks one of OFFER_REFERENCES when the
    offer does not exist.
    """
    request = """request AS (
        INSERT INTO claim_request AS r (offer_id, app_id, key, user_id, status, body)
        VALUES ($1, $2, $3, $5, NULL, NULL)
        ON CONFLICT (offer_id, app_id, key) DO UPDATE
            SET user_id = excluded.user_id, status = NULL, body = NULL, created_at = now()
            WHERE r.created_at < now() - make_interval(secs => $4)
        RETURNING true
    )"""
    fresh = "EXISTS (SELECT FROM request)"
    counting, counted = ratelimit_sql.counting_sql(6, limits, gate=fresh)
    columns = [fresh, _SUMMARY_COLUMNS, *counted]
    return f"""
        WITH {", ".join([request, *counting])}
        SELECT {", ".join(columns)}
        FROM (SELECT) AS one
        LEFT JOIN (offer o JOIN merchant m ON m.id = o.merchant_id) ON o.id = $1::uuid"""


# offer.claimed for every code taken, and offer.sold_out with the one that took the last code.
_CLAIM_EVENTS = events_sql.emit_ctes(
    """SELECT k.type, $4::timestamptz, m.owner_id, c.id, c.merchant_id, $2::text, $7::uuid,
              k.data
       FROM counted c JOIN merchant m ON m.id = c.merchant_id
       CROSS JOIN LATERAL (VALUES
           ('offer.claimed', jsonb_build_object(
               'code', $3::text, 'claimed', c.claimed, 'quantity', c.quantity)),
           ('offer.sold_out', jsonb_build_object('claimed', c.claimed, 'quantity', c.quantity))
       ) AS k (type, data)
       WHERE k.type = 'offer.claimed' OR c.claimed = c.quantity"""
)


@cache
def _take_statement(*, keyed: bool, limits: int = 0) -> str:
    """All or nothing, in one statement ($1 offer, $2 user, $3 code, $4 now, $5 point, $6 its
    accuracy in metres, $7 app, $8 the point's resolution-9 H3 cell).

    The gate reads the offer as the statement found it, for the caller's messages. Then: lock
    the offer if the point is inside and it is active with a code left (after waiting for a
    concurrent claim, PostgreSQL re-checks that on the newest row), count the user if under
    their limit (ON CONFLICT re-checks the newest count), then the offer, then the code. A
    refusal writes nothing but the lock, so without a key no transaction is needed. A code
    taken writes its events in the same statement (events_sql.emit_ctes) and counts itself in
    its offer's live quarter-hour, on the offer's row it updates anyway (`live_quarter_set`;
    the first claim of a new quarter moves the finished one to offer_stats, `spill_cte`).

    Without a key, the statement also counts the attempt against `limits` rate limits first
    (counters from $10, see ratelimit_sql.counting_sql), tries the claim only if every one
    counted, and returns the offer's summary for the response: a claim is one round trip. The
    counter rows stay locked until the claim commits, so the per-app limit is spread over
    shards (app/ratelimit.py) that no two claims of an app are likely to share at once.

    Keyed ($10 key, $11 the success response): a code made is stored as the key's response
    (the key was taken, and the limits counted, by `preflight` in the same transaction; a
    refusal is stored by store_response).

    $9 is the share the claim came through, or NULL: it must be a share of this offer (else
    nothing is locked or written, and `share_known` is false). The claim is stored with it, or
    with its parent when it is the claimant's own share (app/attribution.py: no credit for
    one's own claim at one's own share).
    """
    assert not (keyed and limits), "a keyed claim counts its limits in its preflight"
    share = "$9::text"
    stored = ""
    if keyed:
        stored = """, stored AS (
            UPDATE claim_request SET status = 201, body = $11::json
            WHERE offer_id = $1 AND app_id = $7 AND key = $10 AND EXISTS (SELECT FROM made)
        )"""
    counting, counted = ratelimit_sql.counting_sql(10, limits, gate="true")
    allowed = f"AND EXISTS (SELECT FROM counted{limits - 1})" if limits else ""
    summary = ""
    if not keyed:
        counted_columns = "".join(f", {column}" for column in counted)
        summary = f""", {_SUMMARY_COLUMNS}{counted_columns}
        FROM (SELECT) AS one
        LEFT JOIN (offer o JOIN merchant m ON m.id = o.merchant_id) ON o.id = $1
        LEFT JOIN gate ON true"""
    else:
        summary = " FROM gate"
    live_claim = live_quarter_set("claims", "$4::timestamptz")
    made = "EXISTS (SELECT FROM made)"
    spilled = spill_cte("spilled", "claims", "$4::timestamptz", "locked", made)
    return f"""
        WITH {"".join(cte + ", " for cte in counting)}via AS (
            SELECT CASE WHEN s.app_id = $7 AND s.user_id = $2 THEN s.parent ELSE s.code END
                AS share
            FROM share s WHERE s.code = {share} AND s.offer_id = $1
        ), gate AS (
            SELECT {_gate_columns("$4", "$5", "$6::float8")} FROM offer o WHERE o.id = $1
        ), locked AS (
            SELECT o.id, o.per_user_limit, o.stats_t, o.stats_claims, o.stats_redemptions
            FROM offer o, gate
            WHERE o.id = $1 AND gate.inside {allowed}
              AND ({share} IS NULL OR EXISTS (SELECT FROM via))
              AND o.starts_at <= $4 AND (o.ends_at IS NULL OR $4 < o.ends_at)
              AND (o.quantity IS NULL OR o.claimed < o.quantity)
            FOR NO KEY UPDATE OF o
        ), mine AS (
            INSERT INTO offer_claimant AS c (offer_id, app_id, user_id, claims)
            SELECT id, $7, $2, 1 FROM locked
            ON CONFLICT (offer_id, app_id, user_id) DO UPDATE SET claims = c.claims + 1
            WHERE c.claims < coalesce((SELECT per_user_limit FROM locked), 2147483647)
            RETURNING c.offer_id
        ), counted AS (
            UPDATE offer o SET claimed = o.claimed + 1, {live_claim}
            WHERE o.id = (SELECT offer_id FROM mine)
              AND (o.quantity IS NULL OR o.claimed < o.quantity)
            RETURNING o.id, o.merchant_id, o.claimed, o.quantity
        ), made AS (
            INSERT INTO claim (code, offer_id, app_id, user_id, claimed_at, cell, share)
            SELECT $3, id, $7, $2, $4, $8, (SELECT share FROM via) FROM counted
            RETURNING claimed_at
        ), {spilled}{stored}, {_CLAIM_EVENTS}
        SELECT (SELECT claimed_at FROM made), EXISTS (SELECT FROM locked),
               {share} IS NULL OR EXISTS (SELECT FROM via), (SELECT share FROM via),
               gate.*{summary}"""


_TAKE_KEYED = _take_statement(keyed=True)
_GATE = f"SELECT {_gate_columns('$2', '$3', '$4::float8')} FROM offer o WHERE o.id = $1"


async def preflight(
    conn: asyncpg.Connection,
    *,
    offer_id: UUID,
    app_id: UUID,
    user_id: str,
    key: str,
    ttl_s: float,
    hits: list[Hit],
    window_no: int,
    fraction: float,
) -> Preflight:
    """Take a claim's Idempotency-Key, count the attempt against `hits` and read the offer's
    summary, in one statement (see _preflight_statement)."""
    counting = ratelimit_sql.counting_values(hits, window_no=window_no, fraction=fraction)
    row = await conn.fetchrow(
        _preflight_statement(limits=len(hits)), offer_id, app_id, key, ttl_s, user_id, *counting
    )
    assert row is not None
    offer = OfferSummary(*row[1:10]) if row[1] is not None else None
    return Preflight(row[0], offer, ratelimit_sql.counted(row, 10, len(hits)))


# The foreign keys a claim's rows hold on their offer: a claim of an offer that is not there
# breaks one of them.
OFFER_REFERENCES = (
    "fk_claim_offer_id_offer",
    "fk_offer_claimant_offer_id_offer",
    "fk_claim_request_offer_id_offer",
)


@dataclass(frozen=True, slots=True)
class NewClaim:
    """A claim as the claim statement takes it: `code` at `now` for the app's user at the
    WGS-84 point (in H3 `cell`, kept for statistics), reported with `accuracy_m`, through the
    `share` if any."""

    offer_id: UUID
    user_id: str
    lat: float
    lng: float
    accuracy_m: float
    app_id: UUID
    code: str
    now: datetime
    cell: int
    share: str | None = None

    def values(self) -> list[Any]:
        """$1..$9 of _take_statement."""
        return [
            self.offer_id,
            self.user_id,
            self.code,
            self.now,
            ewkt(self.lat, self.lng),
            self.accuracy_m,
            self.app_id,
            self.cell,
            self.share,
        ]


@dataclass(slots=True)
class Claimed:
    """The outcome of `claim_counted`: how the attempt counted against the rate limits, and,
    when the offer exists, what was taken and the offer's summary."""

    counted: list[Counted]
    taken: Taken | None  # None: no such offer
    offer: OfferSummary | None


async def claim_counted(
    conn: asyncpg.Connection,
    claim: NewClaim,
    *,
    hits: list[Hit],
    window_no: int,
    fraction: float,
) -> Claimed:
    """Count the attempt against `hits` and, if every one counted, make the `claim`: one
    statement (see _take_statement)."""
    row = await conn.fetchrow(
        _take_statement(keyed=False, limits=len(hits)),
        *claim.values(),
        *ratelimit_sql.counting_values(hits, window_no=window_no, fraction=fraction),
    )
    assert row is not None
    counted = ratelimit_sql.counted(row, 21, len(hits))
    if row[4] is None:  # the offer's starts_at: no offer
        return Claimed(counted, None, None)
    taken = Taken(row[0], row[1], row[2], row[3], ClaimGate(*row[4:12]))
    return Claimed(counted, taken, OfferSummary(*row[12:21]))


async def take_code(
    conn: asyncpg.Connection, claim: NewClaim, *, key: str, response: str
) -> Taken | None:
    """Make the `claim`, or nothing at all; None if there is no such offer. The `key` was
    taken by `preflight`: a code made is stored with its `response`.
    """
    row = await conn.fetchrow(_TAKE_KEYED, *claim.values(), key, response)
    return Taken(row[0], row[1], row[2], row[3], ClaimGate(*row[4:])) if row else None


async def claim_gate(
    conn: asyncpg.Connection,
    *,
    offer_id: UUID,
    lat: float,
    lng: float,
    accuracy_m: float,
    now: datetime,
) -> ClaimGate | None:
    """The offer's window and stock at `now`, and whether the WGS-84 point, reported with
    `accuracy_m`, counts as in its fence."""
    row = await conn.fetchrow(_GATE, offer_id, now, ewkt(lat, lng), accuracy_m)
    return ClaimGate(*row) if row else None


async def stored_response(
    conn: asyncpg.Connection, *, offer_id: UUID, app_id: UUID, key: str
) -> StoredResponse | None:
    row = await conn.fetchrow(
        """SELECT user_id, status, body::text FROM claim_request
           WHERE offer_id = $1 AND app_id = $2 AND key = $3""",
        offer_id,
        app_id,
        key,
    )
    return StoredResponse(*row) if row else None


async def store_response(
    conn: asyncpg.Connection, *, offer_id: UUID, app_id: UUID, key: str, status: int, body: str
) -> None:
    await conn.execute(
        """UPDATE claim_request SET status = $4, body = $5::json
           WHERE offer_id = $1 AND app_id = $2 AND key = $3""",
        offer_id,
        app_id,
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
                """SELECT c.code, c.offer_id, m.owner_id, c.redeemed_at, m.id, c.app_id
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
    """Mark the code redeemed at `now` and count it on its offer and its live quarter (the
    caller holds the offer's lock, redeem_target, so `live` reads the newest row); None if it
    already was."""
    row = (
        await conn.execute(
            text(
                f"""WITH done AS (
                       UPDATE claim SET redeemed_at = :now
                       WHERE code = :code AND redeemed_at IS NULL
                       RETURNING code, offer_id, user_id, claimed_at, redeemed_at
                   ), live AS (
                       SELECT o.id, o.stats_t, o.stats_claims, o.stats_redemptions
                       FROM offer o JOIN done ON o.id = done.offer_id
                   ), counted AS (
                       UPDATE offer o SET redeemed = o.redeemed + 1,
                           {live_quarter_set("redemptions", "CAST(:now AS timestamptz)")}
                       FROM done WHERE o.id = done.offer_id
                   ), {
                    spill_cte("spilled", "redemptions", "CAST(:now AS timestamptz)", "live", "true")
                }
                   SELECT code, offer_id, user_id, claimed_at, redeemed_at FROM done"""
            ),
            {"code": code, "now": now},
        )
    ).one_or_none()
    return ClaimRow(*row) if row else None


async def claim_by_code(conn: AsyncConnection, *, code: str) -> ClaimRecord | None:
    """A code with its app and the owner of its offer's store."""
    row = (
        await conn.execute(
            text(
                """SELECT c.code, c.offer_id, c.user_id, c.claimed_at, c.redeemed_at, c.app_id,
                          m.owner_id, c.share
                   FROM claim c JOIN offer o ON o.id = c.offer_id
                   JOIN merchant m ON m.id = o.merchant_id
                   WHERE c.code = :code"""
            ),
            {"code": code},
        )
    ).one_or_none()
    return ClaimRecord(*row) if row else None


async def claims_of_user(
    conn: AsyncConnection,
    *,
    app_id: UUID,
    user_id: str,
    before: tuple[datetime, str] | None,
    limit: int,
) -> list[UserClaim]:
    """A user's codes, newest first (claimed_at, then code, descending), after `before`."""
    after = "AND (c.claimed_at, c.code) < (:at, :code)" if before is not None else ""
    rows = await conn.execute(
        text(
            f"""SELECT c.code, c.offer_id, c.user_id, c.claimed_at, c.redeemed_at,
                       o.title, o.ends_at, m.id, m.name, m.category, m.address, m.phone,
                       ST_Y(m.location::geometry), ST_X(m.location::geometry), c.share
                FROM claim c JOIN offer o ON o.id = c.offer_id
                JOIN merchant m ON m.id = o.merchant_id
                WHERE c.app_id = :app_id AND c.user_id = :user_id {after}
                ORDER BY c.claimed_at DESC, c.code DESC
                LIMIT :limit"""
        ),
        {
            "app_id": app_id,
            "user_id": user_id,
            "limit": limit,
            **({"at": before[0], "code": before[1]} if before is not None else {}),
        },
    )
    return [
        UserClaim(row[0], row[1], row[2], row[3], row[4], OfferSummary(*row[5:14]), row[14])
        for row in rows
    ]
