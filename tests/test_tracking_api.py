"""POST /v1/track over HTTP: the contract's shape, who may call it, bad input as problem+json,
the rate limit, and the state kept between calls (the state machine itself is checked against
an oracle in test_tracking_oracle.py)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import events, tracking
from app.queries import offers as offers_sql
from app.queries import tracking as tracking_sql
from app.queries.merchants import MerchantRow
from app.queries.tracking import Visit
from app.ratelimit import Limits
from app.schemas.tracking import TrackOut
from spatial import CoordSystem, circle_fence, from_wgs84, polygon_fence
from tests.factories import create_app, insert_merchant, insert_offer, owner_with_headers
from tests.test_bad_input import json_values

SHOP = (60.1699, 24.9384)
GEOD = Geod(ellps="WGS84")
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def away(metres: float, azimuth: float = 0.0) -> dict[str, float]:
    lng, lat, _ = GEOD.fwd(SHOP[1], SHOP[0], azimuth, metres)
    return {"lat": lat, "lng": lng}


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


@pytest.fixture
async def made(conn: AsyncConnection) -> Any:
    return await create_app(conn, "Tracking app")


@pytest.fixture
async def client(client: httpx.AsyncClient, made: Any) -> httpx.AsyncClient:
    client.headers["Authorization"] = f"Bearer {made.app_key}"
    return client


@pytest.fixture
async def owner(conn: AsyncConnection) -> tuple[uuid.UUID, dict[str, str]]:
    return await owner_with_headers(conn, "Tracking owner")


@pytest.fixture
async def shop(conn: AsyncConnection, owner: tuple[uuid.UUID, dict[str, str]]) -> MerchantRow:
    return await insert_merchant(conn, owner[0], lat=SHOP[0], lng=SHOP[1])


@pytest.fixture
async def offer(conn: AsyncConnection, shop: MerchantRow) -> Any:
    return await insert_offer(
        conn, shop.id, fence=circle_fence(*SHOP, 200), starts_at=T0 - timedelta(days=1)
    )


async def track(
    client: httpx.AsyncClient, points: list[dict[str, Any]], user: str | None = "u1", **body: Any
) -> httpx.Response:
    payload: dict[str, Any] = {"points": points} | body
    if user is not None:
        payload["user_id"] = user
    return await client.post("/v1/track", json=payload)


async def test_a_walk_in_stay_and_out_gives_entered_dwelled_exited_with_the_contract_shape(
    client: httpx.AsyncClient, offer: Any, shop: MerchantRow, made: Any
) -> None:
    first = await track(client, [away(1000) | {"at": at(0)}, away(50) | {"at": at(10)}])
    assert first.status_code == 200, first.text
    body = TrackOut.model_validate(first.json())
    assert [e.type for e in body.events] == ["fence.entered"]
    event = body.events[0]
    assert (event.offer_id, event.merchant_id, event.owner_id) == (
        offer.id,
        shop.id,
        shop.owner_id,
    )
    assert (event.user_id, event.app_id, event.at) == ("u1", made.row.id, T0 + timedelta(0, 10))
    assert [o.id for o in body.offers_here] == [offer.id]  # at the newest point
    stay = await track(client, [away(20) | {"at": at(10 + 299)}])
    assert stay.json()["events"] == []  # 299 s of the default 300
    stay = await track(client, [away(20) | {"at": at(10 + 300)}])
    [dwelled] = stay.json()["events"]
    assert dwelled["type"] == "fence.dwelled"
    assert dwelled["data"]["dwell_s"] == 300
    out = await track(client, [away(900) | {"at": at(400)}])
    [exited] = out.json()["events"]
    assert exited["type"] == "fence.exited"
    assert exited["data"]["duration_s"] == 390 and exited["data"]["dwelled"] is True
    assert out.json()["offers_here"] == []


async def test_the_events_are_in_the_outbox(
    client: httpx.AsyncClient, conn: AsyncConnection, offer: Any
) -> None:
    """Written by the call's statement (replay reads only ended transactions: the test's is
    still open, so the table is read directly)."""
    entered = (await track(client, [away(10) | {"at": at(0)}])).json()["events"]
    rows = (
        await conn.execute(
            text("SELECT id, type, data FROM event WHERE offer_id = :o ORDER BY id"),
            {"o": offer.id},
        )
    ).all()
    assert [(str(r.id), r.type) for r in rows] == [(entered[0]["id"], "fence.entered")]
    assert rows[0].data == entered[0]["data"]


async def test_points_in_any_order_are_taken_by_time_and_older_ones_cause_nothing(
    client: httpx.AsyncClient, offer: Any
) -> None:
    points = [away(900) | {"at": at(30)}, away(10) | {"at": at(20)}, away(900) | {"at": at(0)}]
    events = (await track(client, points)).json()["events"]
    assert [e["type"] for e in events] == ["fence.entered", "fence.exited"]
    assert [e["at"] for e in events] == [at(20).replace("+00:00", "Z")] + [
        at(30).replace("+00:00", "Z")
    ]
    late = await track(client, [away(10) | {"at": at(29)}])  # older than the newest (30)
    assert late.json()["events"] == []
    assert (await track(client, [away(10) | {"at": at(31)}])).json()["events"][0]["type"] == (
        "fence.entered"
    )


async def test_jitter_at_the_edge_and_inaccurate_points_change_nothing(
    client: httpx.AsyncClient, offer: Any
) -> None:
    # 190 m from the centre of a 200 m fence, 15 m accuracy: the circle straddles the edge
    straddling = [away(190, az) | {"at": at(i), "accuracy_m": 15} for i, az in enumerate([0, 90])]
    assert (await track(client, straddling)).json()["events"] == []
    vague = [away(0) | {"at": at(5), "accuracy_m": 501}]
    assert (await track(client, vague)).json()["events"] == []
    sure = [away(180) | {"at": at(6), "accuracy_m": 15}]
    assert [e["type"] for e in (await track(client, sure)).json()["events"]] == ["fence.entered"]
    jitter = [away(215, 180) | {"at": at(7 + i), "accuracy_m": 20} for i in range(5)]
    assert (await track(client, jitter)).json()["events"] == []


async def test_a_user_token_tracks_its_own_user_only(
    client: httpx.AsyncClient, offer: Any, made: Any
) -> None:
    now = int(datetime.now(UTC).timestamp())
    token = jwt.encode(
        {"iss": str(made.row.id), "sub": "tok-user", "iat": now, "exp": now + 600},
        made.signing_secret,
        algorithm="HS256",
    )
    headers = {"Authorization": f"Bearer {token}"}
    body = {"points": [away(10) | {"at": at(0)}]}
    mine = await client.post("/v1/track", json=body, headers=headers)
    assert mine.status_code == 200
    assert mine.json()["events"][0]["user_id"] == "tok-user"
    other = await client.post("/v1/track", json=body | {"user_id": "x"}, headers=headers)
    assert other.status_code == 403


async def test_who_may_not_track(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    body = {"user_id": "u", "points": [away(10)]}
    no_key = await client.post("/v1/track", json=body, headers={"Authorization": ""})
    assert no_key.status_code == 401
    bad_key = await client.post("/v1/track", json=body, headers={"Authorization": "Bearer nope"})
    assert bad_key.status_code == 401
    owners = await client.post("/v1/track", json=body, headers=owner[1])
    assert owners.status_code == 403
    assert owners.headers["content-type"] == "application/problem+json"
    no_user = await track(client, [away(10)], user=None)
    assert no_user.status_code == 422
    assert no_user.json()["errors"][0]["loc"] == ["body", "user_id"]


@pytest.mark.parametrize(
    ("points", "loc", "says"),
    [
        ([{"lat": 121.47, "lng": 31.23}], ["body", "points", 0, "lat"], "swapped"),
        ([{"lat": 60.1, "lng": 24.9}] * 101, ["body", "points"], "100"),
        ([], ["body", "points"], "1"),
        ([{"lat": 60.1, "lng": 24.9, "at": "yesterday"}], ["body", "points", 0, "at"], ""),
        (
            [{"lat": 60.1, "lng": 24.9, "at": "2026-12-05T10:00:00"}],
            ["body", "points", 0, "at"],
            "UTC offset",
        ),
        (
            [{"lat": 60.1, "lng": 24.9, "at": "2999-01-01T00:00:00Z"}],
            ["body", "points", 0, "at"],
            "ahead",
        ),
        ([{"lat": 60.1, "lng": 24.9, "accuracy_m": -1}], ["body", "points", 0, "accuracy_m"], ""),
        ([{"lat": 60.1, "lng": 24.9, "speed": 3}], ["body", "points", 0, "speed"], ""),
        ([{"lat": "NaN", "lng": 24.9}], ["body", "points", 0, "lat"], ""),
    ],
)
async def test_bad_input_is_a_422_that_says_where(
    client: httpx.AsyncClient, points: list[dict[str, Any]], loc: list[Any], says: str
) -> None:
    response = await track(client, points)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/problems/invalid-input")
    error = next(e for e in problem["errors"] if e["loc"] == loc)
    assert says in error["msg"]


async def test_the_track_limit_is_a_429_with_retry_after(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    app.state.limits = Limits(track_per_minute=2)
    statuses = [(await track(client, [away(10)], user="busy")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = await track(client, [away(10)], user="busy")
    assert refused.json()["type"].endswith("/problems/rate-limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 120  # a sliding window
    assert (await track(client, [away(10)], user="other")).status_code == 200


async def test_positions_in_gcj02_are_converted_both_ways(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    beijing = (39.9087, 116.3975)
    store = await insert_merchant(conn, shop.owner_id, lat=beijing[0], lng=beijing[1])
    await insert_offer(
        conn, store.id, fence=circle_fence(*beijing, 100), starts_at=T0 - timedelta(days=1)
    )
    lat, lng = from_wgs84(*beijing, CoordSystem.GCJ02)
    response = await track(client, [{"lat": lat, "lng": lng, "at": at(0)}], coord="gcj02")
    [entered] = response.json()["events"]
    assert (entered["data"]["lat"], entered["data"]["lng"]) == pytest.approx((lat, lng), abs=1e-7)
    location = response.json()["offers_here"][0]["merchant"]["location"]
    assert (location["lat"], location["lng"]) == pytest.approx((lat, lng), abs=1e-7)


async def test_offers_here_are_what_offers_here_says_at_the_newest_point(
    client: httpx.AsyncClient, conn: AsyncConnection, shop: MerchantRow
) -> None:
    """At random points, in each coordinate system: the same objects as GET /v1/offers/here
    (its first page, 20) at the call's newest point, whatever that point's accuracy, with
    circles and polygons, sold out, ended and scheduled offers, more than a page at some."""
    rng = random.Random(13)
    stores = [shop] + [
        await insert_merchant(
            conn, shop.owner_id, **away(rng.uniform(0, 1500), rng.uniform(0, 360)), category=c
        )
        for c in ("tea", "books", "coffee")
    ]
    now = datetime.now(UTC)
    windows: list[dict[str, Any]] = [
        {"starts_at": now - timedelta(days=1)},
        {"starts_at": now - timedelta(days=2), "ends_at": now - timedelta(days=1)},
        {"starts_at": now + timedelta(days=1)},
        {"starts_at": now - timedelta(days=1), "quantity": 0},  # sold out
        {"starts_at": now - timedelta(days=1), "quantity": 5},
    ]
    for n in range(60):
        centre = away(rng.uniform(0, 1200), rng.uniform(0, 360))
        if n % 3:
            fence = circle_fence(centre["lat"], centre["lng"], rng.uniform(300, 2000))
        else:  # a quadrilateral of 0.5..2 km around the centre
            corners = [
                GEOD.fwd(centre["lng"], centre["lat"], az, rng.uniform(250, 1000))[:2]
                for az in (0, 90, 180, 270)
            ]
            fence = polygon_fence("Polygon", [[*corners, corners[0]]], CoordSystem.WGS84)
        await insert_offer(conn, stores[n % 4].id, fence=fence, **windows[n % 5 if n < 30 else 0])
    pages = found = 0
    for i in range(24):
        system = (CoordSystem.WGS84, CoordSystem.GCJ02, CoordSystem.BD09)[i % 3]
        newest = away(rng.uniform(0, 1800), rng.uniform(0, 360))
        lat, lng = from_wgs84(newest["lat"], newest["lng"], system)
        older = away(rng.uniform(0, 1800), rng.uniform(0, 360))
        points: list[dict[str, Any]] = [
            {"lat": lat, "lng": lng, "accuracy_m": rng.choice([0, 30, 900])},
            dict(zip(("lat", "lng"), from_wgs84(older["lat"], older["lng"], system), strict=True))
            | {"at": (now - timedelta(minutes=1)).isoformat()},
        ]
        tracked = await track(client, points, user=f"walker-{i}", coord=system.value)
        assert tracked.status_code == 200, tracked.text
        alone = await client.get(
            "/v1/offers/here", params={"lat": lat, "lng": lng, "coord": system.value}
        )
        assert alone.status_code == 200, alone.text
        assert tracked.json()["offers_here"] == alone.json()["results"], (i, system)
        pages += alone.json()["next_cursor"] is not None
        found += bool(alone.json()["results"])
    assert 0 < pages < found  # more than a page of offers at some points, fewer at others


async def test_dwell_s_is_the_offers_own_and_an_owner_sets_it(
    client: httpx.AsyncClient, shop: MerchantRow, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    fence = {"type": "circle", "center": {"lat": SHOP[0], "lng": SHOP[1]}, "radius_m": 100}
    made = await client.post(
        f"/v1/merchants/{shop.id}/offers",
        json={"title": "Quick", "geofence": fence, "starts_at": at(-60), "dwell_s": 60},
        headers=owner[1],
    )
    assert made.status_code == 201 and made.json()["dwell_s"] == 60
    bad = await client.patch(
        f"/v1/offers/{made.json()['id']}", json={"dwell_s": 59}, headers=owner[1]
    )
    assert bad.status_code == 422
    walk = [away(0) | {"at": at(0)}, away(5) | {"at": at(60)}]
    assert [e["type"] for e in (await track(client, walk)).json()["events"]] == [
        "fence.entered",
        "fence.dwelled",
    ]
    patched = await client.patch(
        f"/v1/offers/{made.json()['id']}", json={"dwell_s": 900}, headers=owner[1]
    )
    assert patched.json()["dwell_s"] == 900


async def test_a_write_on_a_version_another_call_moved_writes_nothing(
    driver: Any, made: Any, offer: Any, shop: MerchantRow
) -> None:
    """The optimistic lock of the write, with and without visits and events."""
    app_id = made.row.id

    async def write(version: int, seconds: float, *, entering: bool = False) -> Any:
        at = T0 + timedelta(seconds=seconds)
        entered = [Visit(offer.id, at, False)] if entering else []
        event = events.new(
            "fence.entered",
            owner_id=shop.owner_id,
            at=at,
            offer_id=offer.id,
            merchant_id=shop.id,
            app_id=app_id,
            user_id="racer",
            data={},
        )
        return await tracking_sql.write(
            driver,
            app_id=app_id,
            user_id="racer",
            newest_at=at,
            version=version,
            opened=entered,
            closed=[],
            events=[event] if entering else [],
        )

    async def state() -> tuple[Any, ...]:
        row = await driver.fetchrow(
            """SELECT u.newest_at, u.version, count(v.*), count(e.*) FROM track_user u
               LEFT JOIN fence_visit v USING (app_id, user_id)
               LEFT JOIN event e ON e.app_id = u.app_id AND e.user_id = u.user_id
               WHERE u.app_id = $1 AND u.user_id = 'racer' GROUP BY 1, 2""",
            app_id,
        )
        return tuple(row)

    assert await write(0, 10) == []  # a new user: its row made, version 1
    assert await write(0, 20) is None  # read before another call made the row
    assert await state() == (T0 + timedelta(seconds=10), 1, 0, 0)
    assert await write(1, 5) == []  # an older point leaves the newest as it is
    assert await state() == (T0 + timedelta(seconds=10), 2, 0, 0)
    assert await write(1, 30, entering=True) is None
    assert await state() == (T0 + timedelta(seconds=10), 2, 0, 0)
    [written] = await write(2, 30, entering=True)
    assert written.type == "fence.entered"
    assert await state() == (T0 + timedelta(seconds=30), 3, 1, 1)


async def test_two_calls_of_a_user_that_cross_give_the_outcome_of_one_order(
    driver: Any, made: Any, offer: Any
) -> None:
    """Call A reads (and moves the newest point to its own), call B reads with a newer point,
    B writes its entry, A's write finds the version moved and A reads again: its point is now
    older than the newest and counts for nothing, the outcome of B then A. A read the rate
    limit refuses moves nothing."""
    app_id = made.row.id
    inside = away(50)

    async def read(seconds: float, hits: list[Any]) -> Any:
        fix = tracking._fix(
            tracking.Point(inside["lat"], inside["lng"], T0 + timedelta(seconds=seconds), 0.0),
            CoordSystem.WGS84,
        )
        here = offers_sql.Here(fix.lat, fix.lng, T0, categories=(), limit=20)
        known = await tracking_sql.read(
            driver, app_id=app_id, user_id="both", fixes=[fix], here=here, hits=hits,
            window_no=1, fraction=0.0,
        )  # fmt: skip
        return known, tracking.run(known.fences, [fix], known.newest_at, app_id, "both")

    async def write(known: Any, outcome: Any) -> Any:
        return await tracking_sql.write(
            driver, app_id=app_id, user_id="both", newest_at=outcome.newest_at,
            version=known.version, opened=outcome.opened, closed=outcome.closed,
            events=outcome.events,
        )  # fmt: skip

    known_a, outcome_a = await read(20, [])
    assert (known_a.newest_at, known_a.version) == (None, 1)  # its row made, at its point
    assert [e.type for e in outcome_a.events] == ["fence.entered"]
    known_b, outcome_b = await read(30, [])
    assert (known_b.newest_at, known_b.version) == (T0 + timedelta(seconds=20), 2)
    assert [e.type for e in outcome_b.events] == ["fence.entered"]
    assert len(await write(known_b, outcome_b)) == 1
    assert await write(known_a, outcome_a) is None  # B moved the version
    again, outcome = await read(20, [])
    assert again.newest_at == T0 + timedelta(seconds=30) and outcome.newest_at is None
    refused = Limits(claims_per_minute=1, track_per_minute=1, app_claims_per_minute=10)
    hit = refused.track(app_id, "both")
    for seconds in (40, 41):  # the second is refused
        known, _ = await read(seconds, hit)
    assert not all(c.counted for c in known.counted)
    assert await driver.fetchval(
        "SELECT newest_at FROM track_user WHERE app_id = $1 AND user_id = 'both'", app_id
    ) == T0 + timedelta(seconds=40)
    assert (
        await driver.fetchval(
            "SELECT count(*) FROM event WHERE app_id = $1 AND user_id = 'both'", app_id
        )
        == 1
    )


async def test_the_read_sends_only_the_fences_where_something_may_happen(
    client: httpx.AsyncClient, driver: Any, made: Any, offer: Any
) -> None:
    """A user who stays inside a fence they entered is sent no fence until the visit may
    dwell; nor is one standing on the edge of a fence they are outside of. A point outside
    (exit), past dwell_s (dwelled) or inside a fence with no visit (entered) sends it."""
    app_id = made.row.id
    entered = await track(client, [away(20) | {"at": at(0)}], user="stayer")
    assert [e["type"] for e in entered.json()["events"]] == ["fence.entered"]

    async def fences(metres: float, seconds: float, accuracy_m: float = 0.0) -> list[Any]:
        where = away(metres)
        fix = tracking._fix(
            tracking.Point(where["lat"], where["lng"], T0 + timedelta(seconds=seconds), accuracy_m),
            CoordSystem.WGS84,
        )
        here = offers_sql.Here(fix.lat, fix.lng, T0, categories=(), limit=20)
        known = await tracking_sql.read(
            driver, app_id=app_id, user_id="stayer", fixes=[fix], here=here, hits=[],
            window_no=1, fraction=0.0,
        )  # fmt: skip
        return [fence.offer_id for fence in known.fences]

    assert await fences(20, 10) == []  # inside, visit open, not yet 300 s
    assert await fences(190, 20, accuracy_m=30) == []  # on the edge
    assert await fences(20, 300) == [offer.id]  # may dwell
    assert await fences(900, 310) == [offer.id]  # outside: may leave
    assert await fences(20, 5) == []  # older than the newest: counts for nothing
    await track(client, [away(900) | {"at": at(320)}], user="stayer")  # left
    assert await fences(190, 330, accuracy_m=30) == []  # on the edge, outside
    assert await fences(900, 340) == []
    assert await fences(20, 350) == [offer.id]  # may enter


async def test_an_offer_deleted_takes_its_visits_and_an_ended_one_says_nothing(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    shop: MerchantRow,
    owner: tuple[uuid.UUID, dict[str, str]],
) -> None:
    ending = await insert_offer(
        conn,
        shop.id,
        fence=circle_fence(*SHOP, 200),
        starts_at=T0 - timedelta(days=1),
        ends_at=T0 + timedelta(seconds=100),
    )
    going = await insert_offer(
        conn, shop.id, fence=circle_fence(*SHOP, 300), starts_at=T0 - timedelta(days=1)
    )
    entered = (await track(client, [away(10) | {"at": at(0)}])).json()["events"]
    assert {e["offer_id"] for e in entered} == {str(ending.id), str(going.id)}
    assert (await client.delete(f"/v1/offers/{going.id}", headers=owner[1])).status_code == 204
    visits = await conn.execute(
        text("SELECT offer_id FROM fence_visit WHERE offer_id IN (:a, :b)"),
        {"a": ending.id, "b": going.id},
    )
    assert [row.offer_id for row in visits] == [ending.id]
    # past its end the offer takes no part: leaving its fence then is no event
    assert (await track(client, [away(900) | {"at": at(200)}])).json()["events"] == []


async def test_pruning_forgets_users_not_seen_and_visits_of_offers_long_ended(
    client: httpx.AsyncClient, conn: AsyncConnection, driver: Any, shop: MerchantRow, made: Any
) -> None:
    """(Other tests' rows are never committed: nothing else here is old enough to prune.)"""
    ended = await insert_offer(
        conn,
        shop.id,
        fence=circle_fence(*SHOP, 200),
        starts_at=T0 - timedelta(days=3),
        ends_at=T0 - timedelta(days=2) + timedelta(seconds=100),
    )
    lasting = await insert_offer(
        conn, shop.id, fence=circle_fence(*SHOP, 300), starts_at=T0 - timedelta(days=3)
    )
    old = (T0 - timedelta(days=2)).isoformat()
    for user in ("gone", "here"):
        entered = (await track(client, [away(10) | {"at": old}], user=user)).json()["events"]
        assert {e["offer_id"] for e in entered} == {str(ended.id), str(lasting.id)}
    for table, column in (("track_user", "seen_at"), ("fence_visit", "entered_at")):
        await conn.execute(
            text(f"UPDATE {table} SET {column} = now() - interval '8 days' WHERE user_id = 'gone'")
        )
    # "gone" and its two visits; the visit of "here" to the offer that ended two days ago
    assert await tracking.prune(driver, keep_s=7 * 86400) == (1, 3)
    mine = {"app": made.row.id}
    rows = await conn.execute(
        text("SELECT user_id, offer_id FROM fence_visit WHERE app_id = :app"), mine
    )
    assert {(r.user_id, r.offer_id) for r in rows} == {("here", lasting.id)}
    users = await conn.execute(text("SELECT user_id FROM track_user WHERE app_id = :app"), mine)
    assert [r.user_id for r in users] == ["here"]


async def test_a_users_seen_at_moves_only_once_an_hour_old(
    client: httpx.AsyncClient, conn: AsyncConnection, made: Any
) -> None:
    """So that most calls leave the row's indexed columns as they were (a HOT update)."""
    mine = {"a": made.row.id}

    async def aged(minutes: int) -> Any:
        return (
            await conn.execute(
                text(f"UPDATE track_user SET seen_at = seen_at - interval '{minutes} minutes'"
                     " WHERE app_id = :a AND user_id = 'seen' RETURNING seen_at"),
                mine,
            )
        ).scalar_one()  # fmt: skip

    async def seen() -> Any:
        found = "SELECT seen_at FROM track_user WHERE app_id = :a AND user_id = 'seen'"
        return (await conn.execute(text(found), mine)).scalar_one()

    await track(client, [away(900)], user="seen")
    older = await aged(59)
    await track(client, [away(900)], user="seen")
    assert await seen() == older
    older = await aged(2)
    await track(client, [away(900)], user="seen")
    assert await seen() > older


points_fuzz = st.lists(
    st.dictionaries(
        st.sampled_from(["lat", "lng", "at", "accuracy_m", "extra"]),
        st.one_of(
            json_values,
            st.sampled_from(
                [
                    "0001-01-01T00:00:00+01:00",
                    "9999-12-31T23:59:59-01:00",
                    "2026-12-05T10:00:00Z",
                    90,
                    -180,
                    180.0,
                    500.0000001,
                    1e6,
                ]
            ),
        ),
        max_size=5,
    ),
    max_size=3,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    points=st.one_of(points_fuzz, json_values),
    fields=st.dictionaries(st.sampled_from(["user_id", "coord"]), json_values, max_size=2),
)
async def test_no_tracking_body_causes_a_server_error(
    client: httpx.AsyncClient, points: Any, fields: dict[str, Any]
) -> None:
    body = {"user_id": "fuzz", "points": points} | fields
    response = await client.post("/v1/track", json=body)
    assert response.status_code in (200, 403, 422), response.text
    if response.status_code != 200:
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_time_at_the_edge_of_the_calendar_is_a_422_or_counts(
    client: httpx.AsyncClient,
) -> None:
    for at in ("0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z"):
        response = await track(client, [away(10) | {"at": at}])
        assert response.status_code in (200, 422), response.text
