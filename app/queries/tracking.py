"""SQL of location tracking: what a tracking call reads (the user, the fences near its points,
the user's open visits, the offers at its newest point: queries/offers.py's SELECT, numbered
after the read's own parameters) and the one statement that writes its outcome (visits, the
user's newest point, the events; the user's row alone when nothing else changed), plus pruning.

Where a point stands towards a fence, given its accuracy circle (radius `acc`):
- a circle fence (centre c, radius R, geodesic on the spheroid): inside when d(c, p) <= R - acc,
  outside when d(c, p) > R + acc, else on the edge (d measured once, ST_Distance; and only
  when the distance on the sphere, a third of the cost, within SPHEROID_SLACK of the spheroid's,
  leaves it open);
- a polygon fence: on the edge when acc > 0 and some piece of its edge (queries/claims.py
  `fence_edge_pieces`, the claims' own measure) lies within acc of the point; else inside when
  the polygon covers the point (planar in lng/lat, edges included), else outside.
"On the edge" (the circle straddles it) changes nothing. Only pairs whose boxes meet are
measured (the GiST index on `fence`, against the box of the accuracy circle); every other active
fence is certainly outside.

A call's two statements need no transaction between them: the read sees one snapshot; the
write bumps the user's `version` only if it is still the one read, and writes everything else
only if it did (an optimistic lock). A call that lost the race reads again.

The read gives one row of the call's own (the rate limits' outcome, the user's newest point and
version), a row per fence (and point near it, or of an open visit near no point) where the
points may cause an event, and a row per offer here (OfferHit's columns): the offers are sent
once, whatever the number of fences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from uuid import UUID

import asyncpg

from app.queries import events as events_sql
from app.queries import offers as offers_sql
from app.queries import ratelimit as ratelimit_sql
from app.queries.claims import fence_edge_pieces
from app.queries.events import EventRow, NewEvent
from app.queries.offers import Here, OfferHit
from app.queries.ratelimit import Counted, Hit
from spatial.ranking import ABSOLUTE_SLACK_M, SPHEROID_SLACK

# Where a point stands towards a fence.
INSIDE, EDGE, OUTSIDE = "in", "edge", "out"

# A user's `seen_at` (pruning's clock) moves only once it is this old. Every call moves the
# user's row; one that leaves its indexed columns as they were is a heap-only (HOT) update,
# with no new index entries. Pruning allows for it: a user goes between NEARBY_TRACK_KEEP_S and
# that plus SEEN_EVERY_S after their last call.
SEEN_EVERY_S = 3600
_SEEN = f"CASE WHEN u.seen_at < now() - interval '{SEEN_EVERY_S} s' THEN now() ELSE u.seen_at END"


@dataclass(frozen=True, slots=True)
class Fix:
    """A point as the read statement measures it: WGS-84, with the WKT of its accuracy
    circle's box (spatial.circle_bounds) and the half diagonal of that box in degrees: no point
    farther than that in lng/lat from the point is within its accuracy (a cheap planar test
    before a polygon's edge is measured piece by piece)."""

    lat: float
    lng: float
    at: datetime
    accuracy_m: float
    box_wkt: str
    reach_deg: float


@dataclass(slots=True)
class Fence:
    """An offer the call's points may have entered or left: near one of them, or holding an
    open visit of the user; with where each point stands towards it (`standing`, by the point's
    index among the points sent, 0-based; a point missing there is outside, or the offer was
    not active at its time)."""

    offer_id: UUID
    merchant_id: UUID
    owner_id: UUID
    starts_at: datetime
    ends_at: datetime | None
    dwell_s: int
    entered_at: datetime | None  # the open visit, if any
    dwelled: bool | None
    standing: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class Known:
    """What the read statement found: the rate limits' outcome, the user's newest point and
    version (None and 0 for a user never tracked), the fences involved, the offers here."""

    counted: list[Counted]
    newest_at: datetime | None
    version: int
    fences: list[Fence]
    here: list[OfferHit]  # the offers at the point asked for, as GET /v1/offers/here has them


@dataclass(frozen=True, slots=True)
class Visit:
    offer_id: UUID
    entered_at: datetime
    dwelled: bool


def _standing() -> str:
    """Where point `p` stands towards fence `o`. A circle's centre is measured on the sphere
    first (`ds`, a lateral of the caller's: cheap), which settles it unless the point is
    within SPHEROID_SLACK of a threshold; then on the spheroid, once for both thresholds."""
    pieces = fence_edge_pieces("o.fence", near=("p.g", "p.reach"))
    more, less = 1.0 + SPHEROID_SLACK, 1.0 - SPHEROID_SLACK
    return f"""CASE
        WHEN o.radius_m IS NOT NULL THEN
            CASE WHEN ds * {more} + {ABSOLUTE_SLACK_M} <= o.radius_m - p.acc THEN '{INSIDE}'
                 WHEN ds * {less} - {ABSOLUTE_SLACK_M} > o.radius_m + p.acc THEN '{OUTSIDE}'
                 ELSE (
                     SELECT CASE WHEN d <= o.radius_m - p.acc THEN '{INSIDE}'
                                 WHEN d <= o.radius_m + p.acc THEN '{EDGE}'
                                 ELSE '{OUTSIDE}' END
                     FROM (SELECT ST_Distance(o.center, p.gg) AS d) AS spheroid) END
        WHEN p.acc > 0 AND ST_DWithin(ST_Boundary(o.fence), p.g, p.reach) AND EXISTS (
            SELECT FROM {pieces} AS piece
            WHERE ST_DWithin(piece.geom, p.g, p.reach)
              AND ST_DWithin(piece.geom::geography, p.gg, p.acc)) THEN '{EDGE}'
        WHEN ST_Covers(o.fence, p.g) THEN '{INSIDE}'
        ELSE '{OUTSIDE}' END"""


@cache
def _read_statement(limits: int, here_sql: str, counters_from: int) -> str:
    """$1 app, $2 user, $3..$8 the points (lat, lng, at, accuracy, box WKT, reach), $9 the
    newest of them (NULL: none), then `here_sql`'s parameters (from $10), counters from
    `counters_from`. Rows by `kind`: the HEAD row (the counters' outcomes, the user's newest
    point before the call and the user's version after it), a FENCE row per fence and point
    near it (or per fence near none) where the points may cause an event, a HIT row per offer
    here.

    The user's row is locked (`mine`: the newest committed version) and, if the counters
    allowed the call, its newest point moved up to $9 with its version bumped when $9 is
    newer (`bumped`). Most calls change nothing else: for them this is the whole write. A call
    whose points do change something writes that with the version read here (`write`): if
    another call bumped it meanwhile, it reads again, and its points, now no newer than the
    newest, may count for nothing; that is the outcome of the two calls in the other order,
    where a point older than the user's newest causes no event."""
    counting, counted = (
        ratelimit_sql.counting_sql(counters_from, limits, gate="true") if limits else ([], [])
    )
    allowed = f"AND EXISTS (SELECT FROM counted{limits - 1})" if limits else ""
    ctes = [
        *counting,
        """mine AS MATERIALIZED (
            SELECT newest_at, version FROM track_user
            WHERE app_id = $1 AND user_id = $2 FOR UPDATE
        )""",
        # reads `mine` first, so the lock is taken before the row is written
        f"""bumped AS (
            INSERT INTO track_user AS u (app_id, user_id, newest_at)
            SELECT $1, $2, $9::timestamptz FROM (SELECT) AS one LEFT JOIN mine ON true
            WHERE $9::timestamptz IS NOT NULL {allowed}
            ON CONFLICT (app_id, user_id) DO UPDATE
                SET newest_at = excluded.newest_at, version = u.version + 1, seen_at = {_SEEN}
                WHERE u.newest_at < excluded.newest_at
            RETURNING version
        )""",
        """pts AS (
            SELECT n, g, g::geography AS gg, at, acc, box, reach FROM (
                SELECT p.n::int - 1 AS n, ST_SetSRID(ST_MakePoint(p.lng, p.lat), 4326) AS g,
                       p.at, p.acc, ST_GeomFromText(p.box, 4326) AS box, p.reach
                FROM unnest($3::float8[], $4::float8[], $5::timestamptz[], $6::float8[],
                            $7::text[], $8::float8[])
                     WITH ORDINALITY AS p (lat, lng, at, acc, box, reach, n)
            ) AS given
        )""",
        # measured once (MATERIALIZED: not again for the filter), each pair only once
        f"""measured AS MATERIALIZED (
            SELECT o.id AS offer_id, o.merchant_id, o.starts_at, o.ends_at, o.dwell_s, p.n,
                   {_standing()} AS standing
            FROM pts p JOIN offer o ON o.fence && p.box
            CROSS JOIN LATERAL (SELECT ST_Distance(o.center, p.gg, false) AS ds) AS sphere
            WHERE o.starts_at <= p.at AND (o.ends_at IS NULL OR p.at < o.ends_at)
        )""",
        f"""near AS (SELECT * FROM measured WHERE standing <> '{OUTSIDE}')""",
        """visits AS (
            SELECT offer_id, entered_at, dwelled FROM fence_visit
            WHERE app_id = $1 AND user_id = $2
        )""",
        # the fences near a point (with what measured read of the offer), and those of open
        # visits near none (read by id); a row per point near, with the fence's visit
        """fenced AS (
            SELECT f.*, v.entered_at, v.dwelled
            FROM (
                SELECT offer_id, merchant_id, starts_at, ends_at, dwell_s, n, standing FROM near
                UNION ALL
                SELECT o.id, o.merchant_id, o.starts_at, o.ends_at, o.dwell_s, NULL, NULL
                FROM visits JOIN offer o ON o.id = visits.offer_id
                WHERE NOT EXISTS (SELECT FROM near WHERE near.offer_id = visits.offer_id)
            ) AS f
            LEFT JOIN visits v ON v.offer_id = f.offer_id
        )""",
        _MOVING,
    ]
    # One result, three kinds of rows (column `kind`): the call's own row (HEAD), a row per
    # fence and point near it (FENCE), a row per offer here (HIT); each kind fills its own
    # columns, NULL elsewhere. (Arrays would do too, but an array aggregate per column costs
    # PostgreSQL more to set up, every execution, than the rows cost to send.)
    # typed, so that the kinds' columns meet in the UNION: each of `counted` is two columns
    counted_nulls = ["NULL::boolean", "NULL::bigint[]"] * len(counted)
    fence_nulls = ["NULL"] * len(_FENCE_COLUMNS)
    hit_nulls = ["NULL"] * len(offers_sql.HIT_NAMES)
    head = [
        str(HEAD),
        *counted,
        "(SELECT newest_at FROM mine)",
        "coalesce((SELECT version FROM bumped), (SELECT version FROM mine), 0)",
        *fence_nulls,
        *hit_nulls,
    ]
    fence = [
        str(FENCE),
        *counted_nulls,
        "NULL::timestamptz",
        "NULL::bigint",
        *(f"f.{name}" if name != "owner_id" else "m.owner_id" for name in _FENCE_COLUMNS),
        *hit_nulls,
    ]
    hit = [str(HIT), *counted_nulls, "NULL::timestamptz", "NULL::bigint", *fence_nulls, "h.*"]
    return f"""
        WITH {", ".join(ctes)}
        SELECT {", ".join(head)}
        UNION ALL (
            SELECT {", ".join(fence)}
            FROM fenced f JOIN merchant m ON m.id = f.merchant_id
            WHERE f.offer_id IN (SELECT offer_id FROM moving)
            UNION ALL
            SELECT {", ".join(hit)} FROM ({here_sql}) AS h
        )"""


HEAD, FENCE, HIT = 0, 1, 2  # the kinds of the read's rows


def _fresh(point: str) -> str:
    """SQL: the point `point` (a row of `pts`) is no older than the user's newest, so the
    machine runs on it (app/tracking.py `run`)."""
    return f"({point}.at >= (SELECT newest_at FROM mine) OR NOT EXISTS (SELECT FROM mine))"


# The fences where the call's points may cause an event, by the machine's own rules
# (app/tracking.py `run`) on the points it runs on, those no older than the user's newest
# (`_fresh`): with no visit, a point inside; with a visit, an active point not near (outside,
# so the user leaves) or, before the visit has dwelled, a point near it `dwell_s` after the
# visit began. Only these are sent: every other fence would change nothing, and a user who
# stays where they are (the common call) has none, however many fences they stand in.
_MOVING = f"""moving AS (
    SELECT f.offer_id
    FROM fenced f
    LEFT JOIN pts p ON p.n = f.n
        AND {_fresh("p")}
    GROUP BY f.offer_id, f.starts_at, f.ends_at, f.dwell_s, f.entered_at, f.dwelled
    HAVING CASE WHEN f.entered_at IS NULL THEN bool_or(p.n IS NOT NULL AND f.standing = '{INSIDE}')
        ELSE (NOT f.dwelled
              AND bool_or(p.at >= f.entered_at + make_interval(secs => f.dwell_s)))
          OR count(p.n) < (
              SELECT count(*) FROM pts q
              WHERE {_fresh("q")}
                AND f.starts_at <= q.at AND (f.ends_at IS NULL OR q.at < f.ends_at))
        END
)"""

# The fences' columns: Fence's fields but `standing`, then a point's n and where it stands.
_FENCE_COLUMNS = (
    "offer_id",
    "merchant_id",
    "owner_id",
    "starts_at",
    "ends_at",
    "dwell_s",
    "entered_at",
    "dwelled",
    "n",
    "standing",
)


async def read(
    conn: asyncpg.Connection,
    *,
    app_id: UUID,
    user_id: str,
    fixes: Sequence[Fix],
    here: Here,
    hits: list[Hit],
    window_no: int,
    fraction: float,
) -> Known:
    """Count the call against `hits` (none: a call reading again) and read what it needs,
    with the offers `here` (queries/offers.py's own SELECT, as GET /v1/offers/here reads them)."""
    here_sql, here_values = offers_sql.here_statement(here, first=10)
    rows = await conn.fetch(
        _read_statement(len(hits), here_sql, 10 + len(here_values)),
        app_id,
        user_id,
        [f.lat for f in fixes],
        [f.lng for f in fixes],
        [f.at for f in fixes],
        [f.accuracy_m for f in fixes],
        [f.box_wkt for f in fixes],
        [f.reach_deg for f in fixes],
        max((f.at for f in fixes), default=None),
        *here_values,
        *ratelimit_sql.counting_values(hits, window_no=window_no, fraction=fraction),
    )
    fence_at = 1 + 2 * len(hits) + 2  # the first fence column
    hit_at = fence_at + len(_FENCE_COLUMNS)
    head = None
    fences: dict[UUID, Fence] = {}
    here_hits = []
    for row in rows:
        if row[0] == HIT:
            here_hits.append(OfferHit(*row[hit_at:]))
        elif row[0] == FENCE:
            *columns, n, standing = row[fence_at:hit_at]
            fence = fences.get(columns[0])
            if fence is None:
                fence = fences[columns[0]] = Fence(*columns)
            if n is not None:  # the index of a point near it, and where it stands
                fence.standing[n] = standing
        else:
            head = row
    assert head is not None  # the HEAD row is always there
    # a UNION's rows come in no promised order: the hits are put back in offers/here's
    here_hits.sort(key=offers_sql.HIT_ORDER)
    return Known(
        ratelimit_sql.counted(head, 1, len(hits)),
        head[fence_at - 2],
        head[fence_at - 1],
        list(fences.values()),
        here_hits,
    )


_EVENTS_SOURCE = """
    SELECT e.type, e.at, e.owner_id, e.offer_id, e.merchant_id, $2::text, $1::uuid, e.data::jsonb
    FROM unnest($9::text[], $10::timestamptz[], $11::uuid[], $12::uuid[], $13::uuid[], $14::text[])
         WITH ORDINALITY AS e (type, at, owner_id, offer_id, merchant_id, data, n)
    WHERE EXISTS (SELECT FROM bumped)
    ORDER BY e.n"""

# The user's row: its newest point moved up, its version bumped, only if the version is still
# the one read ($4; 0: none, and a row made meanwhile has version 1). $1 app, $2 user, $3 the
# newest point.
_BUMP = f"""
        INSERT INTO track_user AS u (app_id, user_id, newest_at) VALUES ($1, $2, $3)
        ON CONFLICT (app_id, user_id) DO UPDATE
            SET newest_at = greatest(u.newest_at, excluded.newest_at), version = u.version + 1,
                seen_at = {_SEEN}
            WHERE u.version = $4
        RETURNING version"""

# $1..$4 as _BUMP, $5..$7 visits now open (offer, entered_at, dwelled), $8 offers whose visit
# ended, $9..$14 the events.
_WRITE = f"""
    WITH bumped AS ({_BUMP}
    ), opened AS (
        INSERT INTO fence_visit AS v (app_id, user_id, offer_id, entered_at, dwelled)
        SELECT $1, $2, x.offer_id, x.entered_at, x.dwelled
        FROM unnest($5::uuid[], $6::timestamptz[], $7::bool[]) AS x (offer_id, entered_at, dwelled)
        WHERE EXISTS (SELECT FROM bumped)
        ON CONFLICT (app_id, user_id, offer_id) DO UPDATE
            SET entered_at = excluded.entered_at, dwelled = excluded.dwelled
    ), closed AS (
        DELETE FROM fence_visit
        WHERE app_id = $1 AND user_id = $2 AND offer_id = ANY ($8::uuid[])
          AND EXISTS (SELECT FROM bumped)
    ), {events_sql.emit_ctes(_EVENTS_SOURCE)}
    SELECT EXISTS (SELECT FROM bumped), e.*
    FROM (SELECT) AS one LEFT JOIN emitted e ON true
    ORDER BY e.id"""


async def write(
    conn: asyncpg.Connection,
    *,
    app_id: UUID,
    user_id: str,
    newest_at: datetime,
    version: int,
    opened: Sequence[Visit],
    closed: Sequence[UUID],
    events: Sequence[NewEvent],
) -> list[EventRow] | None:
    """Write a call's outcome if the user's version is still `version`, in one statement (so
    the events commit with the visits they report); the events written, or None if another
    call of the user wrote first. (A call that changed nothing but the newest point, most of
    them, has nothing to write: its read moved the newest point.)"""
    rows = await conn.fetch(
        _WRITE,
        app_id,
        user_id,
        newest_at,
        version,
        [v.offer_id for v in opened],
        [v.entered_at for v in opened],
        [v.dwelled for v in opened],
        list(closed),
        [e.type for e in events],
        [e.at for e in events],
        [e.owner_id for e in events],
        [e.offer_id for e in events],
        [e.merchant_id for e in events],
        [e.data for e in events],
    )
    if not rows[0][0]:
        return None
    return [EventRow(*row[1:]) for row in rows if row[1] is not None]


async def prune(
    conn: asyncpg.Connection, *, keep_s: float, ended_s: float, batch: int
) -> tuple[int, int]:
    """Delete up to `batch` users not seen for `keep_s`, and up to `batch` visits that are
    either of offers that ended more than `ended_s` ago or older than `keep_s` with no user
    seen since (pruned, or lost with the unlogged table in a crash); how many of each went.
    `seen_at` lags by up to SEEN_EVERY_S: a user is not seen for `keep_s` once it is that much
    older."""
    keep_s += SEEN_EVERY_S
    users = await conn.execute(
        """DELETE FROM track_user WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM track_user
               WHERE seen_at < now() - make_interval(secs => $1)
               LIMIT $2 FOR UPDATE SKIP LOCKED))""",
        keep_s,
        batch,
    )
    visits = await conn.execute(
        """DELETE FROM fence_visit WHERE ctid = ANY (ARRAY(
               SELECT v.ctid FROM fence_visit v JOIN offer o ON o.id = v.offer_id
               WHERE o.ends_at < now() - make_interval(secs => $1)
                  OR (v.entered_at < now() - make_interval(secs => $3)
                      AND NOT EXISTS (
                          SELECT FROM track_user u
                          WHERE u.app_id = v.app_id AND u.user_id = v.user_id
                            AND u.seen_at >= now() - make_interval(secs => $3)))
               LIMIT $2 FOR UPDATE OF v SKIP LOCKED))""",
        ended_s,
        batch,
        keep_s,
    )
    return int(users.split()[-1]), int(visits.split()[-1])
