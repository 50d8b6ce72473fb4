"""Merchant statistics over HTTP against a brute-force recount of the claims table: the rollup
agrees with a recount after random claim/redeem traffic, series bucketed by local hour and day
in zones a half or three quarters of an hour from UTC and across a DST change, cells with
k-anonymity, who may see what, bad input, and the CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection

from app import claims, stats
from app.queries import claims as claims_sql
from app.queries import shares as shares_sql
from app.queries import stats as stats_sql
from app.stats import Bucket
from spatial import circle_fence
from spatial.h3cells import cell_of, cell_to_hex
from tests.factories import create_app, insert_merchant, insert_offer, owner_with_headers

SHOP = (22.5431, 114.0579)
INSIDE = {"lat": 22.5440, "lng": 114.0579}
START = datetime(2026, 1, 1, tzinfo=UTC)
NO_LIMITS: dict[str, Any] = {"hits": [], "window_no": 0, "fraction": 0.0}  # the real statement


@pytest.fixture
async def owner(conn: AsyncConnection) -> tuple[uuid.UUID, dict[str, str]]:
    return await owner_with_headers(conn, "Stats owner")


async def shop_and_offer(conn: AsyncConnection, owner_id: uuid.UUID, tz: str) -> tuple[Any, Any]:
    shop = await insert_merchant(conn, owner_id, lat=SHOP[0], lng=SHOP[1], timezone=tz)
    offer = await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 300), per_user_limit=None)
    return shop, offer


def point_near(rng: random.Random) -> tuple[float, float]:
    """A point within about 250 m of the shop (inside its 300 m fence)."""
    return SHOP[0] + rng.uniform(-0.0016, 0.0016), SHOP[1] + rng.uniform(-0.0016, 0.0016)


async def traffic(
    driver: asyncpg.Connection,
    conn: AsyncConnection,
    offer_id: uuid.UUID,
    app_id: uuid.UUID,
    rng: random.Random,
    *,
    n: int,
    first: datetime,
    span: timedelta,
    users: int,
) -> None:
    """`n` claims through the real claim statement at random instants of [first, first+span)
    and random points, about half of them redeemed later through the real redeem statement."""
    seconds = int(span.total_seconds())
    made: list[tuple[str, datetime]] = []
    for _ in range(n):
        at = first + timedelta(seconds=rng.randrange(seconds), microseconds=rng.randrange(10**6))
        lat, lng = point_near(rng)
        code = claims.new_code()
        claimed = await claims_sql.claim_counted(
            driver,
            claims_sql.NewClaim(
                offer_id=offer_id,
                user_id=f"u{rng.randrange(users)}",
                lat=lat,
                lng=lng,
                accuracy_m=0,
                app_id=app_id,
                code=code,
                now=at,
                cell=cell_of(lat, lng, claims.CLAIM_CELL_RES),
            ),
            **NO_LIMITS,
        )
        assert claimed.taken is not None and claimed.taken.claimed_at == at
        made.append((code, at))
    for code, at in made:
        if rng.random() < 0.5:
            later = at + timedelta(seconds=rng.randrange(3 * 86400))
            assert await claims_sql.redeem_target(conn, code=code) is not None
            assert await claims_sql.redeem(conn, code=code, now=later) is not None


async def recount(driver: asyncpg.Connection) -> set[tuple[Any, ...]]:
    rows = await driver.fetch(
        """SELECT offer_id, t, sum(c)::int, sum(r)::int FROM (
               SELECT offer_id, date_bin('15 minutes', claimed_at, '2000-01-01') AS t, 1 AS c,
                      0 AS r FROM claim
               UNION ALL
               SELECT offer_id, date_bin('15 minutes', redeemed_at, '2000-01-01'), 0, 1
               FROM claim WHERE redeemed_at IS NOT NULL) AS each
           GROUP BY offer_id, t"""
    )
    return {tuple(r) for r in rows}


@pytest.mark.parametrize("seed", range(4))
async def test_the_rollup_agrees_with_a_recount_after_random_traffic(
    conn: AsyncConnection, driver: asyncpg.Connection, owner: Any, seed: int
) -> None:
    rng = random.Random(seed)
    app = await create_app(conn)
    offers = [(await shop_and_offer(conn, owner[0], "Asia/Shanghai"))[1] for _ in range(2)]
    for _ in range(3):
        offer = rng.choice(offers)
        await traffic(
            driver, conn, offer.id, app.row.id, rng,
            n=rng.randrange(1, 40), first=datetime(2026, 3, 1, tzinfo=UTC),
            span=timedelta(hours=rng.choice([2, 30, 24 * 20])), users=rng.randrange(1, 12),
        )  # fmt: skip
    rolled = {
        tuple(r)
        for r in await driver.fetch(
            f"""SELECT offer_id, t, sum(claims)::int, sum(redemptions)::int
                FROM {stats_sql.QUARTERS} AS q GROUP BY offer_id, t"""
        )
    }
    assert rolled == await recount(driver)


def oracle(
    rows: list[asyncpg.Record], tz: ZoneInfo, bucket: Bucket, start: datetime, end: datetime
) -> tuple[dict[datetime, list[int]], int, int]:
    """Series (local bucket start -> [claims, redemptions]), distinct users and redeemed codes
    of the claims in [start, end), from the claims themselves and zoneinfo alone."""

    def local_start(t: datetime) -> datetime:
        local = t.astimezone(tz)
        if bucket is Bucket.day:
            return datetime(local.year, local.month, local.day, tzinfo=tz).astimezone(UTC)
        return (local.replace(minute=0, second=0, microsecond=0)).astimezone(UTC)

    series: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    users, redeemed = set(), 0
    for r in rows:
        if start <= r["claimed_at"] < end:
            series[local_start(r["claimed_at"])][0] += 1
            users.add(r["user_id"])
            redeemed += r["redeemed_at"] is not None
        if r["redeemed_at"] is not None and start <= r["redeemed_at"] < end:
            series[local_start(r["redeemed_at"])][1] += 1
    return series, len(users), redeemed


@pytest.mark.parametrize(
    ("tz", "bucket", "first", "span"),
    [
        ("Asia/Kolkata", Bucket.hour, datetime(2026, 6, 1, tzinfo=UTC), timedelta(days=3)),
        ("Asia/Kolkata", Bucket.day, datetime(2026, 5, 1, tzinfo=UTC), timedelta(days=60)),
        ("Asia/Kathmandu", Bucket.hour, datetime(2026, 6, 1, tzinfo=UTC), timedelta(days=2)),
        ("America/New_York", Bucket.hour, datetime(2026, 10, 31, tzinfo=UTC), timedelta(days=3)),
        ("America/New_York", Bucket.day, datetime(2026, 2, 20, tzinfo=UTC), timedelta(days=40)),
        ("Australia/Lord_Howe", Bucket.hour, datetime(2026, 4, 3, tzinfo=UTC), timedelta(days=3)),
        ("Asia/Shanghai", Bucket.day, datetime(2026, 3, 1, tzinfo=UTC), timedelta(days=200)),
    ],
)
async def test_the_series_equals_a_recount_in_the_stores_timezone(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    driver: asyncpg.Connection,
    owner: Any,
    tz: str,
    bucket: Bucket,
    first: datetime,
    span: timedelta,
) -> None:
    rng = random.Random(tz + bucket)
    app = await create_app(conn)
    shop, offer = await shop_and_offer(conn, owner[0], tz)
    await traffic(driver, conn, offer.id, app.row.id, rng, n=150, first=first, span=span, users=30)
    # An off-bucket range inside the traffic: the answer widens it to whole buckets.
    asked_from = first + span / 4 + timedelta(minutes=7)
    asked_to = first + span * 3 / 4 + timedelta(minutes=11)
    for path in (f"/v1/offers/{offer.id}/stats", f"/v1/merchants/{shop.id}/stats"):
        response = await client.get(
            path,
            params={"from": asked_from.isoformat(), "to": asked_to.isoformat(), "bucket": bucket},
            headers=owner[1],
        )
        assert response.status_code == 200, response.text
        body = response.json()
        start = datetime.fromisoformat(body["from"])
        end = datetime.fromisoformat(body["to"])
        assert start <= asked_from and asked_to <= end and end - start < span
        rows = await driver.fetch(
            "SELECT user_id, claimed_at, redeemed_at FROM claim WHERE offer_id = $1", offer.id
        )
        want, users, redeemed = oracle(rows, ZoneInfo(tz), bucket, start, end)
        got = {
            datetime.fromisoformat(p["t"]): [p["claims"], p["redemptions"]] for p in body["series"]
        }
        assert {t: v for t, v in got.items() if v != [0, 0]} == dict(want)
        assert min(got) == start and all(t < end for t in got)
        for t in got:  # each point is told with the offset in force at its start
            assert t.utcoffset() == t.astimezone(ZoneInfo(tz)).utcoffset()
        totals = body["totals"]
        assert totals["claims"] == sum(v[0] for v in want.values())
        assert totals["redemptions"] == sum(v[1] for v in want.values())
        assert totals["users"] == users
        assert totals["redemption_rate"] == pytest.approx(redeemed / totals["claims"])


def test_local_hours_of_a_night_that_falls_back_stay_apart() -> None:
    tz = ZoneInfo("America/New_York")
    night = stats.buckets(
        datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        Bucket.hour, tz,
    )  # fmt: skip
    local = [(t.astimezone(tz).hour, t.astimezone(tz).utcoffset()) for t in night[:-1]]
    assert [h for h, _ in local] == [0, 1, 1, 2]  # 01:00 twice, first in EDT then in EST
    kolkata = stats.buckets(
        datetime(2026, 6, 1, 0, 0, tzinfo=UTC), datetime(2026, 6, 1, 2, 0, tzinfo=UTC),
        Bucket.hour, ZoneInfo("Asia/Kolkata"),
    )  # fmt: skip
    assert [t.strftime("%H:%M") for t in kolkata] == ["23:30", "00:30", "01:30", "02:30"]


ZONES = ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Australia/Lord_Howe",
         "Pacific/Chatham", "America/St_Johns"]  # fmt: skip


@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)),
    span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4)),
    zone=st.sampled_from(ZONES),
    bucket=st.sampled_from(list(Bucket)),
    whole=st.booleans(),
)
def test_a_widened_range_is_the_first_and_last_of_its_buckets(
    start: datetime, span: timedelta, zone: str, bucket: Bucket, whole: bool
) -> None:
    tz = ZoneInfo(zone)
    start = start.replace(tzinfo=UTC)
    if whole:  # ranges on quarter-hours too, where a bucket may end exactly at `end`
        start = stats.floor_quarter(start)
        span = span - span % timedelta(minutes=15)
    end = start + span
    listed = stats.buckets(start, end, bucket, tz)
    first, last = stats.widened(start, end, bucket, tz)
    assert (first, last) == (listed[0], listed[-1])
    assert stats.buckets(first, last, bucket, tz) == listed


async def test_cells_show_only_places_of_five_users_or_more(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any
) -> None:
    shop, offer = await shop_and_offer(conn, owner[0], "Asia/Shanghai")
    made = await create_app(conn)
    app_key = {"Authorization": f"Bearer {made.app_key}"}
    crowded = {"lat": 22.5440, "lng": 114.0579}
    lonely = {"lat": 22.5420, "lng": 114.0560}
    assert cell_of(crowded["lat"], crowded["lng"], 9) != cell_of(lonely["lat"], lonely["lng"], 9)
    for user, where in [(f"c{i}", crowded) for i in range(5)] + [
        (f"l{i}", lonely) for i in range(4)
    ]:
        for _ in range(2):
            response = await client.post(
                f"/v1/offers/{offer.id}/claims", json={"user_id": user} | where, headers=app_key
            )
            assert response.status_code == 201, response.text
    code = response.json()["code"]
    assert (await client.post(f"/v1/claims/{code}/redeem", headers=owner[1])).status_code == 200
    body = (await client.get(f"/v1/offers/{offer.id}/stats", headers=owner[1])).json()
    assert body["cells"] == [
        {
            "h3": cell_to_hex(cell_of(crowded["lat"], crowded["lng"], 9)),
            "claims": 10,
            "redemptions": 0,
        }
    ]
    assert body["cells_withheld"] == 8
    assert body["totals"] | {"redemption_rate": None} == {
        "claims": 18, "redemptions": 1, "users": 9, "shares": 0, "redemption_rate": None
    }  # fmt: skip
    assert body["totals"]["redemption_rate"] == pytest.approx(1 / 18)
    # one more user in the lonely cell makes it five
    await client.post(
        f"/v1/offers/{offer.id}/claims", json={"user_id": "l9"} | lonely, headers=app_key
    )
    body = (await client.get(f"/v1/merchants/{shop.id}/stats", headers=owner[1])).json()
    assert [c["claims"] for c in body["cells"]] == [10, 9]
    assert body["cells"][1]["redemptions"] == 1


async def test_a_store_and_an_owner_sum_their_offers(
    client: httpx.AsyncClient, conn: AsyncConnection, driver: asyncpg.Connection, owner: Any
) -> None:
    rng = random.Random(7)
    app = await create_app(conn)
    shop, one = await shop_and_offer(conn, owner[0], "Asia/Shanghai")
    two = await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 300), per_user_limit=None)
    _, elsewhere = await shop_and_offer(conn, owner[0], "Europe/Berlin")
    first = datetime(2026, 6, 1, tzinfo=UTC)
    for offer in (one, two, elsewhere):
        await traffic(driver, conn, offer.id, app.row.id, rng, n=20, first=first,
                      span=timedelta(days=5), users=6)  # fmt: skip
    window = {"from": "2026-05-20T00:00:00+08:00", "to": "2026-06-20T00:00:00+08:00"}

    async def totals(path: str, **extra: str) -> dict[str, Any]:
        response = await client.get(path, params=window | extra, headers=owner[1])
        assert response.status_code == 200, response.text
        return dict(response.json()["totals"])

    a, b = await totals(f"/v1/offers/{one.id}/stats"), await totals(f"/v1/offers/{two.id}/stats")
    c = await totals(f"/v1/offers/{elsewhere.id}/stats")
    store = await totals(f"/v1/merchants/{shop.id}/stats")
    assert store["claims"] == a["claims"] + b["claims"] == 40
    assert store["redemptions"] == a["redemptions"] + b["redemptions"]
    assert store["users"] == 6  # the same six users in both offers: counted once
    everything = await totals("/v1/stats", tz="Asia/Shanghai")
    assert everything["claims"] == 60
    assert everything["redemptions"] == store["redemptions"] + c["redemptions"]


async def test_only_the_owner_or_the_admin_sees_statistics(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any, admin: dict[str, str]
) -> None:
    shop, offer = await shop_and_offer(conn, owner[0], "Asia/Shanghai")
    other_id, other = await owner_with_headers(conn, "Someone else")
    for path in (
        f"/v1/offers/{offer.id}/stats",
        f"/v1/merchants/{shop.id}/stats",
        f"/v1/offers/{offer.id}/claims.csv",
    ):
        assert (await client.get(path, headers=owner[1])).status_code == 200
        assert (await client.get(path, headers=admin)).status_code == 200
        forbidden = await client.get(path, headers=other)
        assert forbidden.status_code == 403
        assert forbidden.headers["content-type"] == "application/problem+json"
        assert (await client.get(path)).status_code == 401
    for path in (f"/v1/offers/{uuid.uuid4()}/stats", f"/v1/merchants/{uuid.uuid4()}/stats",
                 f"/v1/offers/{uuid.uuid4()}/claims.csv"):  # fmt: skip
        assert (await client.get(path, headers=owner[1])).status_code == 404
    mine = await client.get("/v1/stats", headers=owner[1])
    assert mine.status_code == 200 and mine.json()["timezone"] == "UTC"
    assert (await client.get("/v1/stats", params={"owner_id": str(other_id)},
                             headers=owner[1])).status_code == 403  # fmt: skip
    assert (await client.get("/v1/stats", headers=admin)).status_code == 422
    as_admin = await client.get("/v1/stats", params={"owner_id": str(owner[0])}, headers=admin)
    assert as_admin.status_code == 200
    unknown = await client.get("/v1/stats", params={"owner_id": str(uuid.uuid4())}, headers=admin)
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-06-02T00:00:00Z", "to": "2026-06-01T00:00:00Z"},
        {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "bucket": "hour"},
        {"from": "2024-01-01T00:00:00Z", "to": "2026-01-03T00:00:00Z"},
        {"from": "2026-06-01T00:00:00"},  # no offset
        {"from": "yesterday"},
        {"bucket": "week"},
        {"from": "1999-12-31T00:00:00Z", "to": "2000-01-02T00:00:00Z"},
        {"to": "2100-01-01T00:00:00Z"},
        {"tz": "Mars/Olympus"},
        {"frm": "2026-06-01T00:00:00Z"},
    ],
)
async def test_bad_ranges_are_422_problems(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any, params: dict[str, str]
) -> None:
    shop, offer = await shop_and_offer(conn, owner[0], "Asia/Shanghai")
    path = "/v1/stats" if "tz" in params else f"/v1/offers/{offer.id}/stats"
    response = await client.get(path, params=params, headers=owner[1])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_default_range_is_the_last_30_days_in_whole_days(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any
) -> None:
    shop, offer = await shop_and_offer(conn, owner[0], "Asia/Kolkata")
    body = (await client.get(f"/v1/offers/{offer.id}/stats", headers=owner[1])).json()
    start, end = datetime.fromisoformat(body["from"]), datetime.fromisoformat(body["to"])
    assert start.utcoffset() == timedelta(hours=5, minutes=30)
    assert (start.hour, start.minute, end.hour, end.minute) == (0, 0, 0, 0)
    assert len(body["series"]) == 31 and (end - start) == timedelta(days=31)
    assert datetime.now(UTC) - timedelta(days=31) < start and end > datetime.now(UTC)
    assert body["cells"] == [] and body["sharers"] == [] and body["totals"]["claims"] == 0
    assert body["totals"]["redemption_rate"] is None


async def test_the_csv_export_lists_every_claim_with_hostile_strings_defused(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any
) -> None:
    shop, offer = await shop_and_offer(conn, owner[0], "Asia/Shanghai")
    made = await create_app(conn)
    app_key = {"Authorization": f"Bearer {made.app_key}"}
    users = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "plain", '名字,"quoted"\nline']
    codes = {}
    for user in users:
        response = await client.post(
            f"/v1/offers/{offer.id}/claims", json={"user_id": user} | INSIDE, headers=app_key
        )
        assert response.status_code == 201, response.text
        codes[response.json()["code"]] = user
    redeemed = next(iter(codes))
    await client.post(f"/v1/claims/{redeemed}/redeem", headers=owner[1])
    response = await client.get(f"/v1/offers/{offer.id}/claims.csv", headers=owner[1])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(stats.CSV_HEAD)
    assert {r["code"] for r in rows} == set(codes)
    cell = cell_to_hex(cell_of(INSIDE["lat"], INSIDE["lng"], 9))
    for r in rows:
        user = codes[r["code"]]
        assert r["user_id"] == ("'" + user if user[0] in "=+-@" else user)
        assert r["app"] == str(made.row.id) and r["cell"] == cell and r["share"] == ""
        assert datetime.fromisoformat(r["claimed_at"]).tzinfo is not None
        assert bool(r["redeemed_at"]) == (r["code"] == redeemed)
    assert Counter(r["user_id"][:1] for r in rows)["'"] == 4


@pytest.mark.parametrize("value", ["=1", "+1", "-1", "@a", "\t=1", "\r=1", "a=1", "", "1-"])
def test_csv_safe_prefixes_formula_starters(value: str) -> None:
    safe = stats.csv_safe(value)
    assert safe == ("'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value)


async def test_sharers_and_kol_equal_a_brute_force_over_a_random_share_tree(
    client: httpx.AsyncClient, conn: AsyncConnection, driver: asyncpg.Connection, owner: Any
) -> None:
    rng = random.Random(14)
    app = await create_app(conn)
    shop, offer = await shop_and_offer(conn, owner[0], "Asia/Shanghai")
    parent_of: dict[str, str | None] = {}
    sharer_of: dict[str, str] = {}
    for n in range(8):
        parent = rng.choice([None, *parent_of])
        made = await shares_sql.insert_share(
            conn, code=f"S{n}x", offer_id=offer.id, app_id=app.row.id, user_id=f"s{n}",
            parent=parent,
        )  # fmt: skip
        assert made is not None
        parent_of[made.code], sharer_of[made.code] = parent, f"s{n}"
    first = datetime(2026, 6, 1, tzinfo=UTC)
    for _ in range(60):
        at = first + timedelta(minutes=rng.randrange(5 * 24 * 60))
        lat, lng = point_near(rng)
        code = claims.new_code()
        claimed = await claims_sql.claim_counted(
            driver,
            claims_sql.NewClaim(
                offer_id=offer.id, user_id=f"u{rng.randrange(10)}", lat=lat, lng=lng,
                accuracy_m=0, app_id=app.row.id, code=code, now=at, cell=cell_of(lat, lng, 9),
                share=rng.choice([None, *parent_of]),
            ),
            **NO_LIMITS,
        )  # fmt: skip
        assert claimed.taken is not None and claimed.taken.claimed_at is not None
        if rng.random() < 0.6:
            assert await claims_sql.redeem_target(conn, code=code) is not None
            assert await claims_sql.redeem(conn, code=code, now=at + timedelta(hours=1))
    window = {"from": "2026-06-02T00:00:00+08:00", "to": "2026-06-05T00:00:00+08:00"}
    body = (
        await client.get(f"/v1/offers/{offer.id}/stats", params=window, headers=owner[1])
    ).json()
    start, end = datetime.fromisoformat(body["from"]), datetime.fromisoformat(body["to"])
    attributed = [
        (r["share"], r["redeemed_at"] is not None)
        for r in await driver.fetch(
            "SELECT share, redeemed_at FROM claim WHERE offer_id = $1 AND share IS NOT NULL"
            " AND claimed_at >= $2 AND claimed_at < $3", offer.id, start, end,
        )
    ]  # fmt: skip

    def chain(code: str) -> set[str]:
        up: str | None = code
        found = set()
        while up is not None:
            found.add(sharer_of[up])
            up = parent_of[up]
        return found

    want: dict[str, list[int]] = {u: [0, 0, 0, 0] for u in sharer_of.values()}
    chains: dict[str, set[int]] = {u: set() for u in sharer_of.values()}
    for n, (code, redeemed) in enumerate(attributed):
        want[sharer_of[code]][0] += 1
        want[sharer_of[code]][1] += redeemed
        for u in chain(code):
            want[u][2] += 1
            want[u][3] += redeemed
            if redeemed:
                chains[u].add(n)
    got = {
        s["user_id"]: [s["claims"], s["redemptions"], s["chain_claims"], s["chain_redemptions"]]
        for s in body["sharers"]
    }
    assert got == {u: v for u, v in want.items() if v[2]}
    depth = {sharer_of[c]: len(chain(c)) - 1 for c in sharer_of}
    assert all(s["depth"] == depth[s["user_id"]] for s in body["sharers"])
    total = sum(redeemed for _, redeemed in attributed)
    smallest = next(
        k
        for k in range(len(chains) + 1)
        if any(
            5 * len(set().union(*(chains[u] for u in pick))) >= 4 * total
            for pick in itertools.combinations(chains, k)
        )
    )
    kol = body["kol"]
    assert len(got) >= 4 and total >= 10 and smallest >= 2  # the seed makes a real case
    assert (kol["sharers"], kol["of"], kol["attributed"], kol["exact"]) == (
        smallest,
        8,
        total,
        True,
    )
    assert kol["redemptions_share"] == 0.8 and 5 * kol["covered"] >= 4 * total
    assert sum(s["kol"] for s in body["sharers"]) == smallest
    csv_rows = list(csv.DictReader(io.StringIO(
        (await client.get(f"/v1/offers/{offer.id}/claims.csv", headers=owner[1])).text
    )))  # fmt: skip
    assert Counter(r["share"] for r in csv_rows if r["share"]) == Counter(
        r["share"] for r in await driver.fetch(
            "SELECT share FROM claim WHERE offer_id = $1 AND share IS NOT NULL", offer.id
        )
    )  # fmt: skip
    everything = (await client.get(f"/v1/offers/{offer.id}/stats", headers=owner[1])).json()
    assert everything["totals"]["shares"] == 8  # made now, inside the last 30 days
    assert body["totals"]["shares"] == 0


async def get(cache: stats.ViewCache, key: str, compute: Any, conn: Any = "request") -> Any:
    return await cache.get(key, lambda c: compute(), conn)


async def test_a_view_in_use_is_kept_warm_in_the_background() -> None:
    calls: list[str] = []
    fail = False

    async def compute(conn: Any) -> Any:
        failing = fail  # as the database was when asked: a refresh begun before `fail` turns
        calls.append(conn)  # back off still fails (else it could land just before the request)
        answer = len(calls)  # this computation's own number, whatever starts meanwhile
        await asyncio.sleep(0.05)
        if failing:
            raise RuntimeError("database gone")
        return answer

    @asynccontextmanager
    async def connect() -> AsyncIterator[str]:
        yield "own connection"

    # Strings stand for the connections and ints for the answers: the cache looks at neither.
    cache: Any = stats.ViewCache(1.0, connect=cast(Any, connect), warm_s=1.5)
    assert await cache.get("k", compute, "request") == 1
    await asyncio.sleep(0.8)  # refreshed once half its time had passed
    assert await cache.get("k", compute, "request") == 2
    assert calls == ["request", "own connection"]
    fail = True
    await asyncio.sleep(0.5)  # the next refresh fails: the answer is kept meanwhile
    assert calls[-1] == "own connection" and await cache.get("k", compute, "request") == 2
    await asyncio.sleep(0.8)  # failing on: now older than its time, the request computes
    fail = False
    before = len(calls)  # a refresh may start while the request computes: it comes after
    assert await cache.get("k", compute, "request") == before + 1 and calls[before] == "request"
    asked = len(calls)
    await asyncio.sleep(2.5)  # nobody asks for warm_s: no more refreshes
    settled = len(calls)
    await asyncio.sleep(0.7)
    assert asked < settled == len(calls) and not cache._warm
    await cache.close()


async def test_an_answer_is_reused_for_the_cache_time_and_computed_once() -> None:
    calls = 0

    async def compute() -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return calls

    cache = stats.ViewCache(0.3)
    assert await asyncio.gather(*(get(cache, "k", compute) for _ in range(10))) == [1] * 10
    assert await get(cache, "k", compute) == 1 and await get(cache, "other", compute) == 2
    await asyncio.sleep(0.35)
    assert await get(cache, "k", compute) == 3  # expired: computed again
    assert [await get(stats.ViewCache(0), "k", compute) for _ in range(2)] == [4, 5]

    async def failing() -> Any:
        await asyncio.sleep(0.05)
        raise RuntimeError("database gone")

    first = asyncio.ensure_future(get(cache, "bad", failing))
    await asyncio.sleep(0.01)
    second = get(cache, "bad", compute)  # waits for the first, which fails: computes itself
    assert await second == 6
    with pytest.raises(RuntimeError):
        await first
    assert await get(cache, "bad", compute) == 7  # the failure was not kept


async def test_statistics_lag_claims_by_at_most_the_cache_time(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any
) -> None:
    shop, offer = await shop_and_offer(conn, owner[0], "Asia/Shanghai")
    made = await create_app(conn)
    path = f"/v1/offers/{offer.id}/stats"
    assert (await client.get(path, headers=owner[1])).json()["totals"]["claims"] == 0
    response = await client.post(
        f"/v1/offers/{offer.id}/claims",
        json={"user_id": "u"} | INSIDE,
        headers={"Authorization": f"Bearer {made.app_key}"},
    )
    assert response.status_code == 201
    assert (await client.get(path, headers=owner[1])).json()["totals"]["claims"] == 0  # kept
    hourly = (await client.get(path, params={"bucket": "hour"}, headers=owner[1])).json()
    assert hourly["totals"]["claims"] == 1  # another view: computed now
    since = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    only_from = (await client.get(path, params={"from": since}, headers=owner[1])).json()
    assert datetime.fromisoformat(only_from["to"]) > datetime.now(UTC)  # `to` defaults to now
    assert only_from["totals"]["claims"] == 1 and len(only_from["series"]) == 3
