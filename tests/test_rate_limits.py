"""Rate limits: the sliding-window counter checked directly against a controlled clock, then
claims against several real worker processes over HTTP, where the limits must hold in total.

The processes are `uvicorn app.main:create_app` on ports in 26100-26199, on this run's test
database, started and stopped by this module.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import ratelimit
from app.errors import RateLimited
from app.queries import ratelimit as ratelimit_sql
from app.queries.ratelimit import Counted
from app.ratelimit import Clock, Limits
from tests.conftest import ADMIN_KEY
from tests.service import wait_answering

T0 = 29_000_000 * 60.0  # the start of a minute (in 2025)
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "workers"
WORKERS = 3
APP_LIMIT = 40  # claim attempts a minute per app, in the workers


# ------------------------------------------------------------------------- the counter itself


@pytest.fixture
async def driver(driver: Any, conn: AsyncConnection) -> Any:
    """The test's driver connection inside its transaction (SQLAlchemy begins it lazily, at
    its first statement), so the counters written here are rolled back."""
    await conn.execute(text("SELECT 1"))
    return driver


async def attempts(driver: Any, hits: list[Any], at: float, n: int) -> list[int | None]:
    """`n` attempts at `at`: None for each allowed, the Retry-After of each refused."""
    out: list[int | None] = []
    for _ in range(n):
        try:
            await ratelimit.check(driver, hits, Clock.at(at))
            out.append(None)
        except RateLimited as refused:
            out.append(refused.retry_after_s)
    return out


async def test_the_track_limit_allows_its_number_a_minute_then_says_when_to_retry(
    driver: Any,
) -> None:
    hits = Limits(track_per_minute=3).track(uuid.uuid4(), "u")
    assert hits[0].name == "track" and hits[0].per_minute == 3
    assert await attempts(driver, hits, T0 + 10, 4) == [None, None, None, 70]
    # Retry-After is exact: at T0 + 80 the estimate is 3 * (1 - 20/60) = 2, and one more fits;
    # at T0 + 79 it is 2.05, and a second later it is not.
    assert await attempts(driver, hits, T0 + 79, 1) == [1]
    assert await attempts(driver, hits, T0 + 81, 2) == [None, 19]


async def test_refused_attempts_are_not_counted(driver: Any) -> None:
    hits = Limits(track_per_minute=2).track(uuid.uuid4(), "u")
    assert await attempts(driver, hits, T0 + 0.5, 50) == [None, None] + [90] * 48
    # Half a minute on the estimate is 2 * 0.5 = 1: one more fits (not so had the 48 counted).
    assert await attempts(driver, hits, T0 + 90, 2) == [None, 30]


async def test_the_last_minute_fades_out_linearly(driver: Any) -> None:
    hits = Limits(track_per_minute=10).track(uuid.uuid4(), "u")
    assert await attempts(driver, hits, T0 + 50, 11) == [None] * 10 + [16]
    # At T0 + 90 (half of the next minute) the estimate is 10 * 0.5 = 5: five more fit.
    assert await attempts(driver, hits, T0 + 90, 6) == [None] * 5 + [6]
    # Two minutes on, nothing of it is left.
    assert await attempts(driver, hits, T0 + 180, 10) == [None] * 10


async def test_limits_are_per_name_and_subject(driver: Any) -> None:
    app_id = uuid.uuid4()
    limits = Limits(claims_per_minute=1, track_per_minute=1, app_claims_per_minute=100)
    assert await attempts(driver, limits.track(app_id, "a"), T0, 2) == [None, 120]
    assert await attempts(driver, limits.track(app_id, "b"), T0, 1) == [None]
    assert await attempts(driver, limits.claim(app_id, "a"), T0, 1) == [None]
    assert await attempts(driver, limits.track(uuid.uuid4(), "a"), T0, 1) == [None]


async def test_a_user_past_their_limit_does_not_use_up_the_apps(driver: Any) -> None:
    app_id = uuid.uuid4()
    limits = Limits(claims_per_minute=2, app_claims_per_minute=3)
    greedy = await attempts(driver, limits.claim(app_id, "greedy"), T0, 5)
    assert greedy == [None, None, 90, 90, 90]
    assert await attempts(driver, limits.claim(app_id, "other"), T0, 2) == [None, 80]
    (state,) = await ratelimit_sql.count(
        driver, hits=limits.claim(app_id, "x")[1:], window_no=int(T0 // 60), fraction=0.0
    )
    assert state == Counted(False, int(T0 // 60), 0, 3)


@pytest.mark.parametrize("per_minute", [1, 10, 199, 200, 799, 800, 6000, 10**9])
def test_an_apps_limit_is_shared_out_over_its_shards_exactly(per_minute: int) -> None:
    app_id = uuid.uuid4()
    shards = {ratelimit.app_shard("app-claims", app_id, per_minute, pick=k) for k in range(64)}
    assert len(shards) == max(1, min(ratelimit.APP_SHARDS, per_minute // 100))
    assert sum(hit.per_minute for hit in shards) == per_minute
    assert {hit.of for hit in shards} == {per_minute}
    assert len({hit.subject for hit in shards}) == len(shards)


async def test_an_app_on_many_shards_is_held_to_its_limit_in_total(driver: Any) -> None:
    app_id, limit = uuid.uuid4(), 800  # 8 shards of 100
    limits = Limits(claims_per_minute=10, app_claims_per_minute=limit)
    allowed, messages = 0, set()
    for i in range(2000):  # ~250 a shard: every shard fills (a shard gets < 100 once in 10^40)
        try:
            await ratelimit.check(driver, limits.claim(app_id, f"user-{i}"), Clock.at(T0))
            allowed += 1
        except RateLimited as refused:
            messages.add(refused.detail.split(":")[1].split(".")[0])
    assert allowed == limit
    assert messages == {" at most 800 a minute"}


async def test_idle_counters_are_purged(driver: Any) -> None:
    hits = Limits(track_per_minute=5).track(uuid.uuid4(), "old")
    await attempts(driver, hits, T0, 1)
    window = int(T0 // 60)
    assert await ratelimit_sql.purge(driver, before_window=window, batch=100) == 0
    assert await ratelimit_sql.purge(driver, before_window=window + 1, batch=100) == 1


@pytest.mark.parametrize(
    ("per_minute", "state", "at", "wait"),
    [
        (10, Counted(False, 100, 0, 10), 100 * 60 + 0.0, 66),  # 10 * (1 - f) <= 9: f >= 0.1
        (10, Counted(False, 100, 10, 5), 100 * 60 + 30.0, 6),  # 10 * (1 - f) + 5 <= 9: f >= .6
        (10, Counted(False, 99, 3, 10), 100 * 60 + 0.0, 6),  # last minute's 10 are now `prev`
        (1, Counted(False, 100, 0, 1), 100 * 60 + 59.5, 61),
        (1, Counted(False, 100, 0, 1), 100 * 60 + 0.0, 120),  # a limit of 1 fades for 2 min
    ],
)
def test_retry_after_is_when_one_more_attempt_fits(
    per_minute: int, state: Counted, at: float, wait: int
) -> None:
    assert ratelimit.retry_after_s(per_minute, state, Clock.at(at)) == wait


# ------------------------------------------------------------------- several worker processes


def _free_ports(n: int) -> list[int]:
    ports = []
    for port in range(26100, 26200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
        if len(ports) == n:
            return ports
    pytest.fail("no free ports in 26100-26199")


@pytest.fixture(scope="module")
def workers(database_url: str) -> Iterator[list[str]]:
    """WORKERS processes of the service on the test database; their base URLs."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NEARBY_ADMIN_KEY": ADMIN_KEY,
        "NEARBY_APP_CLAIMS_PER_MINUTE": str(APP_LIMIT),
        "NEARBY_CLAIMS_PER_MINUTE": "10",
        "NEARBY_POOL_SIZE": "5",
    }
    processes, urls, logs = [], [], []
    try:
        for port in _free_ports(WORKERS):
            log = (ARTIFACTS / f"worker-{port}.log").open("w")
            logs.append(log)
            command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
            command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
            processes.append(subprocess.Popen(command, env=env, stdout=log, stderr=log))
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            wait_answering(url, process, seconds=30)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()


def _start_of_a_minute_with_room(seconds: float = 20.0) -> None:
    """Wait for the next minute when fewer than `seconds` of this one are left: a burst then
    falls in one window, and the totals are exact rather than off by the window's slide."""
    left = 60.0 - time.time() % 60.0
    if left < seconds:
        time.sleep(left + 0.05)


async def _setup(url: str, quantity: int | None) -> tuple[str, str, str]:
    """A new app, owner, store and offer through the API: (app key, offer id, merchant id)."""
    async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=30) as admin:
        app = (await admin.post("/v1/apps", json={"name": "bot"})).json()
        owner = (await admin.post("/v1/owners", json={"name": "Shop"})).json()
        store = {
            "name": "Shop",
            "category": "coffee",
            "location": {"lat": 22.5431, "lng": 114.0579},
            "owner_id": owner["id"],
        }
        merchant = (await admin.post("/v1/merchants", json=store)).json()
        body = {"title": "50 codes", "quantity": quantity, "per_user_limit": None}
        offer = (await admin.post(f"/v1/merchants/{merchant['id']}/offers", json=body)).json()
    return app["app_key"], offer["id"], merchant["id"]


async def _spread(
    urls: list[str], requests: list[tuple[str, dict[str, Any], dict[str, str]]]
) -> list[httpx.Response]:
    """POST each (path, body, headers), request i to worker i % len(urls), all at once."""
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in urls]
    try:
        return list(
            await asyncio.gather(
                *(
                    clients[i % len(clients)].post(path, json=body, headers=headers)
                    for i, (path, body, headers) in enumerate(requests)
                )
            )
        )
    finally:
        for client in clients:
            await client.aclose()


async def _delete_store(url: str, merchant_id: str) -> None:
    async with httpx.AsyncClient(base_url=url, headers=ADMIN) as admin:
        assert (await admin.delete(f"/v1/merchants/{merchant_id}")).status_code == 204


async def test_a_bot_with_one_app_key_and_300_invented_users_is_held_to_the_apps_limit(
    workers: list[str],
) -> None:
    key, offer_id, merchant_id = await _setup(workers[0], quantity=50)
    here = {"lat": 22.5431, "lng": 114.0579}  # the fence's centre, as the bot sent it
    path = f"/v1/offers/{offer_id}/claims"
    try:
        anonymous = await _spread(workers, [(path, {"user_id": "u"} | here, {})] * 30)
        assert Counter(r.status_code for r in anonymous) == {401: 30}
        _start_of_a_minute_with_room()
        bot = {"Authorization": f"Bearer {key}"}
        requests = [(path, {"user_id": f"invented-{i}"} | here, bot) for i in range(300)]
        responses = await _spread(workers, requests)
        assert Counter(r.status_code for r in responses) == {201: APP_LIMIT, 429: 300 - APP_LIMIT}
        refused = [r for r in responses if r.status_code == 429]
        assert {r.json()["type"] for r in refused} == {"/problems/rate-limited"}
        assert all(1 <= int(r.headers["Retry-After"]) <= 120 for r in refused)
        assert refused[0].headers["content-type"] == "application/problem+json"
        async with httpx.AsyncClient(base_url=workers[1]) as client:
            offer = (await client.get(f"/v1/offers/{offer_id}")).json()
        assert (offer["claimed"], offer["remaining"]) == (APP_LIMIT, 50 - APP_LIMIT)
    finally:
        await _delete_store(workers[0], merchant_id)


async def test_one_user_gets_ten_attempts_a_minute_whichever_worker_they_reach(
    workers: list[str],
) -> None:
    key, offer_id, merchant_id = await _setup(workers[0], quantity=None)
    here = {"lat": 22.5431, "lng": 114.0579}
    path = f"/v1/offers/{offer_id}/claims"
    app = {"Authorization": f"Bearer {key}"}
    try:
        _start_of_a_minute_with_room()
        # One tap sent five times (repeats of a key are one attempt), then 20 more attempts.
        tap = [(path, {"user_id": "one"} | here, app | {"Idempotency-Key": "tap"})] * 5
        first = await _spread(workers, tap)
        assert {r.status_code for r in first} == {201} and len({r.content for r in first}) == 1
        more = [(path, {"user_id": "one"} | here, app)] * 20
        responses = await _spread(workers, more)
        assert Counter(r.status_code for r in responses) == {201: 9, 429: 11}
        detail = {r.json()["detail"].split(". Try")[0] for r in responses if r.status_code == 429}
        assert detail == {"Too many claim attempts by this user: at most 10 a minute"}
        other = await _spread(workers, [(path, {"user_id": "another"} | here, app)])
        assert other[0].status_code == 201  # the app as a whole is far from its limit
    finally:
        await _delete_store(workers[0], merchant_id)
