"""Location tracking: a user's points in, fence events out (API.md "Location events and
webhooks"), and the offers at the newest point.

The user is an app's user: the key is (app_id, user_id), as for claims and rate limits; two apps
naming the same user_id track two people.

The state machine, per user and per offer: outside (no row) or inside (a `fence_visit` row with
the entering point's time and whether the visit has dwelled). A call's points are sorted by
`at` (ties in the order sent); a point with `accuracy_m` over MAX_ACCURACY_M is ignored, and so
is one older than the newest point already seen for the user (by earlier calls: a call's own
points are sorted). Each remaining point, for each offer active at its `at`
(starts_at <= at < ends_at; sold out or not), stands inside, outside or on the edge of the
fence (queries/tracking.py says how, with its accuracy circle):
- outside -> inside: `fence.entered`, the visit starts at the point's time;
- inside -> outside: `fence.exited`;
- a point that keeps the user inside (inside or on the edge) `dwell_s` or more after the visit
  started: `fence.dwelled`, once per visit. Dwelling is seen by a later point, not by a timer:
  a user who stops reporting never dwells (nor exits).
- on the edge: nothing else changes.
An offer that is not active at a point's time takes no part in it: its visits stay as they
are (an offer that ends leaves its visits open, without `fence.exited`: the user did not move;
they are pruned a day after it ended). A deleted offer's visits go with it.

A call is one statement, or two (queries/tracking.py). The first counts the call against the
"track" rate limit, locks the user's row and moves its newest point up, and reads the fences
near the points, the user's open visits and the offers at the newest point (`offers/here`'s own
SELECT, now); the machine runs here on the newest point from before the call. Most calls
(a user standing or walking inside one area) change nothing more: one round trip. A call that
enters, leaves or dwells writes the visits and the events together in a second statement, only
if no other call of the user moved the newest point in between (else it reads again: its
points may then be no newer than the newest, and count for nothing, which is what the two
calls would give in the other order).

Pruning: the delivery loop of every process (app/delivery.py), with event pruning, deletes
users not seen for NEARBY_TRACK_KEEP_S (7 days, give or take the hour by which a user's
`seen_at` may lag: queries/tracking.py SEEN_EVERY_S; a user back after that starts afresh,
outside every fence) with their visits, and the visits of offers that ended a day ago.

The user's row (newest point, version) is in an unlogged table: most calls change nothing else,
and a logged write would make each wait for a WAL flush. A crash of PostgreSQL (not a clean
restart) empties it; the visits are logged and survive, so no event is lost or repeated, but
the newest point is forgotten: one point older than it may then count once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from app import events, ratelimit
from app.errors import Conflict, InvalidInput
from app.queries import tracking as tracking_sql
from app.queries.events import EventRow, NewEvent
from app.queries.offers import Here, OfferHit
from app.queries.sql import boxes_wkt
from app.queries.tracking import EDGE, INSIDE, OUTSIDE, Fence, Fix, Visit
from app.ratelimit import Clock, Limits
from spatial import CoordSystem, circle_bounds, to_wgs84

MAX_ACCURACY_M = 500.0  # points less accurate than this are ignored
MAX_AHEAD_S = 300  # a point's `at` may be this far ahead of the server's clock, no further
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # and no earlier than this
ENDED_KEEP_S = 24 * 3600.0  # visits of an offer that ended this long ago are pruned
PRUNE_BATCH = 1000
_RETRIES = 8  # reads again after losing a race with another call of the same user
HERE_LIMIT = 20  # offers at the newest point: GET /v1/offers/here's first page, by default


@dataclass(frozen=True)
class Point:
    """A reported position in its `coord`; `accuracy_m` 0 when the app did not say."""

    lat: float
    lng: float
    at: datetime | None  # None: now
    accuracy_m: float


@dataclass(frozen=True)
class Tracked:
    events: list[EventRow]  # in the order they happened
    here: list[OfferHit]  # the offers at the newest point, now
    here_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What the machine decided for one call."""

    newest_at: datetime | None  # the user's newest point after the call (None: no point counted)
    opened: list[Visit]  # visits open after the call that were not, or changed
    closed: list[UUID]  # offers whose visit the call ended
    events: list[NewEvent]


async def track(
    conn: asyncpg.Connection,
    *,
    app_id: UUID,
    user_id: str,
    points: Sequence[Point],
    coord: CoordSystem,
    limits: Limits,
) -> Tracked:
    """Run the user's points through the state machine and write what changed; see above."""
    clock = Clock.now()
    hits = limits.track(app_id, user_id)
    received = datetime.now(UTC)
    points = [_timed(p, i, received) for i, p in enumerate(points)]
    # sorted by time (stable: ties in the order sent), the ignored ones left out
    fixes = [
        _fix(p, coord)
        for p in sorted(points, key=lambda p: p.at or received)
        if p.accuracy_m <= MAX_ACCURACY_M
    ]
    # the offers at the newest point (whatever its accuracy), now: read by the read statement
    newest = max(points, key=lambda p: p.at or received)
    here_lat, here_lng = to_wgs84(newest.lat, newest.lng, coord)
    here = Here(here_lat, here_lng, received, categories=(), limit=HERE_LIMIT)
    written: list[EventRow] | None = None
    for _ in range(_RETRIES):
        known = await tracking_sql.read(
            conn,
            app_id=app_id,
            user_id=user_id,
            fixes=fixes,
            here=here,
            hits=hits,
            window_no=clock.window_no,
            fraction=clock.fraction,
        )
        ratelimit.raise_if_refused(hits, known.counted, clock)
        if hits:
            await ratelimit.purge_now_and_then(conn, clock)
        hits = []  # counted once
        outcome = run(known.fences, fixes, known.newest_at, app_id, user_id)
        if outcome.newest_at is None or not (outcome.events or outcome.opened or outcome.closed):
            written = []  # the read moved the newest point: nothing else to write
            break
        written = await tracking_sql.write(
            conn,
            app_id=app_id,
            user_id=user_id,
            newest_at=outcome.newest_at,
            version=known.version,
            opened=outcome.opened,
            closed=outcome.closed,
            events=outcome.events,
        )
        if written is not None:
            break
    if written is None:
        raise Conflict("Other tracking calls of this user keep changing its state; try again")
    return Tracked(sorted(written, key=lambda e: (e.at, e.id)), known.here, received)


def run(
    fences: Sequence[Fence],
    fixes: Sequence[Fix],
    newest_at: datetime | None,
    app_id: UUID,
    user_id: str,
) -> Outcome:
    """The state machine over `fixes` (sorted by time, none ignored for its accuracy; a
    fence's `standing` is by their index) for the app's user whose newest point so far is
    `newest_at`."""
    fresh = [i for i, fix in enumerate(fixes) if newest_at is None or fix.at >= newest_at]
    if not fresh:
        return Outcome(None, [], [], [])
    who = (app_id, user_id)
    opened: list[Visit] = []
    closed: list[UUID] = []
    new_events: list[NewEvent] = []
    for fence in fences:
        visit = (
            Visit(fence.offer_id, fence.entered_at, bool(fence.dwelled))
            if fence.entered_at is not None
            else None
        )
        before = visit
        for i in fresh:
            fix = fixes[i]
            if fix.at < fence.starts_at or (fence.ends_at is not None and fix.at >= fence.ends_at):
                continue
            standing = fence.standing.get(i, OUTSIDE)
            if visit is None:
                if standing == INSIDE:
                    visit = Visit(fence.offer_id, fix.at, False)
                    new_events.append(_event("fence.entered", fence, fix, who, {}))
            elif standing == OUTSIDE:
                new_events.append(_event("fence.exited", fence, fix, who, _visit_data(visit, fix)))
                visit = None
            elif not visit.dwelled and fix.at - visit.entered_at >= timedelta(
                seconds=fence.dwell_s
            ):
                assert standing in (INSIDE, EDGE)
                new_events.append(
                    _event(
                        "fence.dwelled",
                        fence,
                        fix,
                        who,
                        {"entered_at": visit.entered_at.isoformat(), "dwell_s": fence.dwell_s},
                    )
                )
                visit = Visit(fence.offer_id, visit.entered_at, True)
        if visit != before:
            if visit is None:
                closed.append(fence.offer_id)
            else:
                opened.append(visit)
    last = fixes[fresh[-1]].at
    newest = last if newest_at is None else max(last, newest_at)
    new_events.sort(key=lambda e: e.at)  # stable: per offer in order of the points
    return Outcome(newest, opened, closed, new_events)


def _timed(point: Point, index: int, received: datetime) -> Point:
    """The point with its time (now when not given); 422 for a time ahead of the clock or
    before EARLIEST (the calendar's edge would otherwise reach the database)."""
    if point.at is None:
        return Point(point.lat, point.lng, received, point.accuracy_m)
    if point.at > received + timedelta(seconds=MAX_AHEAD_S):
        raise InvalidInput.at(
            ["body", "points", index, "at"],
            f"is more than {MAX_AHEAD_S // 60} minutes ahead of the server's clock"
            f" ({received.isoformat()})",
        )
    if point.at < EARLIEST:
        raise InvalidInput.at(["body", "points", index, "at"], f"is before {EARLIEST.isoformat()}")
    return point


def _fix(point: Point, coord: CoordSystem) -> Fix:
    assert point.at is not None
    lat, lng = to_wgs84(point.lat, point.lng, coord)
    boxes = circle_bounds(lat, lng, point.accuracy_m)
    min_x, min_y = min(b[0] for b in boxes), min(b[1] for b in boxes)
    max_x, max_y = max(b[2] for b in boxes), max(b[3] for b in boxes)
    reach = math.hypot(max(max_x - lng, lng - min_x), max(max_y - lat, lat - min_y))
    return Fix(lat, lng, point.at, point.accuracy_m, boxes_wkt(boxes), reach)


def _event(
    type: str, fence: Fence, fix: Fix, who: tuple[UUID, str], data: dict[str, object]
) -> NewEvent:
    return events.new(
        type,
        owner_id=fence.owner_id,
        at=fix.at,
        offer_id=fence.offer_id,
        merchant_id=fence.merchant_id,
        app_id=who[0],
        user_id=who[1],
        data={"lat": fix.lat, "lng": fix.lng, "accuracy_m": fix.accuracy_m, **data},
    )


def _visit_data(visit: Visit, fix: Fix) -> dict[str, object]:
    return {
        "entered_at": visit.entered_at.isoformat(),
        "duration_s": (fix.at - visit.entered_at).total_seconds(),
        "dwelled": visit.dwelled,
    }


async def prune(conn: asyncpg.Connection, *, keep_s: float) -> tuple[int, int]:
    """Delete users not seen for `keep_s`, their visits, and visits of offers that ended
    ENDED_KEEP_S ago, in batches; how many users and visits went."""
    users = visits = 0
    while True:
        u, v = await tracking_sql.prune(
            conn, keep_s=keep_s, ended_s=ENDED_KEEP_S, batch=PRUNE_BATCH
        )
        users, visits = users + u, visits + v
        if u < PRUNE_BATCH and v < PRUNE_BATCH:
            return users, visits
