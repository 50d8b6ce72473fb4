"""The tracking state machine against the oracle (tests/tracking_oracle.py), on real PostGIS:
random walks of one user across one to three fences (circles and polygons, some starting or
ending during the walk, dwell times from 60 s), in calls of one to six points sent in shuffled
order, with accuracies from exact to ignored (over 500 m) and many that straddle an edge, and
points older than the newest one already seen. The events of every call, and the visits left
open, are exactly the oracle's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import tracking
from app.ratelimit import Limits
from spatial import CoordSystem, Fence, circle_fence, polygon_fence
from tests.factories import create_owner, insert_merchant, insert_offer
from tests.tracking_oracle import (
    GEOD,
    CircleShape,
    Oracle,
    OracleFence,
    OraclePoint,
    PolygonShape,
    standing,
)

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
BASES = [(60.1699, 24.9384), (31.2304, 121.4737), (-33.9, 18.4), (0.0, 0.0)]
MARGIN_M = 0.5  # cases nearer a threshold than this are left out (the oracle samples edges)
LIMITS = Limits(track_per_minute=1_000_000)


@st.composite
def shapes(draw: st.DrawFn, base: tuple[float, float]) -> CircleShape | PolygonShape:
    """A circle or a star-shaped polygon within 300 m of the base."""
    lng, lat, _ = GEOD.fwd(base[1], base[0], draw(st.floats(0, 360)), draw(st.floats(0, 300)))
    if draw(st.booleans()):
        return CircleShape(lat, lng, draw(st.floats(10, 400)))
    n = draw(st.integers(3, 7))
    gaps = draw(st.lists(st.floats(0.3, 1.0), min_size=n, max_size=n))
    azimuths = draw(st.floats(0, 360)) + np.cumsum(gaps) / sum(gaps) * 360.0
    radii = draw(st.lists(st.floats(40, 400), min_size=n, max_size=n))
    corners = []
    for azimuth, radius in zip(azimuths, radii, strict=True):
        c_lng, c_lat, _ = GEOD.fwd(lng, lat, float(azimuth), radius)
        corners.append((c_lat, c_lng))
    return PolygonShape((*corners, corners[0]))


@st.composite
def fences(draw: st.DrawFn, base: tuple[float, float]) -> OracleFence:
    starts = draw(st.sampled_from([-86400, -86400, 300, 1200]))
    ends = draw(st.sampled_from([None, None, 900, 2400]))
    if ends is not None and ends <= starts:
        ends = None
    return OracleFence(
        shape=draw(shapes(base)),
        starts_at=T0 + timedelta(seconds=starts),
        ends_at=None if ends is None else T0 + timedelta(seconds=ends),
        dwell_s=draw(st.sampled_from([60, 90, 300])),
    )


ACCURACIES = st.one_of(
    st.just(0.0), st.floats(0, 30), st.floats(0, 500), st.just(500.0), st.floats(500.5, 3000)
)


@st.composite
def walks(draw: st.DrawFn) -> tuple[list[OracleFence], list[list[OraclePoint]]]:
    """Fences and the calls of a walk: each point near a fence's centre or edge, time moving on
    by 1..400 s a point, with now and then a point from before the newest one sent so far."""
    base = draw(st.sampled_from(BASES))
    fence_list = draw(st.lists(fences(base), min_size=1, max_size=3))
    calls: list[list[OraclePoint]] = []
    clock, used = 0.0, set()
    for _ in range(draw(st.integers(1, 7))):
        call = []
        for _ in range(draw(st.integers(1, 6))):
            shape = draw(st.sampled_from(fence_list)).shape
            lat0, lng0 = (shape.lat, shape.lng) if isinstance(shape, CircleShape) else shape.ring[0]
            lng, lat, _ = GEOD.fwd(lng0, lat0, draw(st.floats(0, 360)), draw(st.floats(0, 700)))
            if calls and draw(st.integers(0, 5)) == 0:  # older than the newest already sent
                t = draw(st.floats(0, clock))
            else:
                clock += draw(st.floats(1, 400))
                t = clock
            t = round(t, 3)
            assume(t not in used)  # equal times would make the order of a call's points matter
            used.add(t)
            call.append(OraclePoint(lat, lng, T0 + timedelta(seconds=t), draw(ACCURACIES)))
        calls.append(call)
    for call in calls:
        for p in call:
            for fence in fence_list:
                assume(standing(fence.shape, p)[1] > MARGIN_M)
    return fence_list, calls


def service_fence(shape: CircleShape | PolygonShape) -> Fence:
    if isinstance(shape, CircleShape):
        return circle_fence(shape.lat, shape.lng, shape.radius_m)
    ring = [[lng, lat] for lat, lng in shape.ring]
    return polygon_fence("Polygon", [ring], CoordSystem.WGS84)


@settings(
    max_examples=80,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(walk=walks(), seed=st.randoms(use_true_random=False))
async def test_the_events_are_exactly_the_oracles(
    conn: AsyncConnection, driver: Any, walk: Any, seed: Any
) -> None:
    fence_list, calls = walk
    savepoint = await conn.begin_nested()  # each example on its own fences
    try:
        owner, _ = await create_owner(conn, "Walk owner")
        shop = await insert_merchant(conn, owner.id, lat=0.0, lng=0.0)
        offer_ids = []
        for fence in fence_list:
            try:
                made = service_fence(fence.shape)
            except ValueError:  # a star too thin to be a valid polygon
                assume(False)
            row = await insert_offer(
                conn,
                shop.id,
                fence=made,
                starts_at=fence.starts_at,
                ends_at=fence.ends_at,
                dwell_s=fence.dwell_s,
            )
            offer_ids.append(row.id)
        index = {offer_id: i for i, offer_id in enumerate(offer_ids)}
        oracle = Oracle(fence_list)
        app_id = uuid.uuid4()
        for call in calls:
            expected = oracle.call(call)
            shuffled = list(call)
            seed.shuffle(shuffled)
            tracked = await tracking.track(
                driver,
                app_id=app_id,
                user_id="walker",
                points=[tracking.Point(p.lat, p.lng, p.at, p.accuracy_m) for p in shuffled],
                coord=CoordSystem.WGS84,
                limits=LIMITS,
            )
            assert all(e.offer_id is not None for e in tracked.events)
            got = [(e.type, index[e.offer_id], e.at) for e in tracked.events if e.offer_id]
            assert sorted(got, key=_order) == sorted(expected, key=_order)
            assert all((e.app_id, e.user_id) == (app_id, "walker") for e in tracked.events)
            rows = await conn.execute(
                text("SELECT offer_id, entered_at, dwelled FROM fence_visit WHERE app_id = :a"),
                {"a": app_id},
            )
            visits = {index[r.offer_id]: (r.entered_at, r.dwelled) for r in rows}
            assert visits == oracle.visits
    finally:
        await savepoint.rollback()


def _order(event: tuple[str, int, datetime]) -> tuple[datetime, int, str]:
    return event[2], event[1], event[0]
