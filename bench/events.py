"""Case `events`: what the outbox costs a claim, and how fast events reach a webhook.

Targets (issue 13): claims at >= 1,000/s with their events written in the same statement;
events delivered at >= 1,000/s from commit to a local receiver's 200, with a p99 lag under 2 s.

It runs on a throwaway database of its own (dropped afterwards): a service of another bench
on nearby_bench shares the delivery queue, takes these deliveries and refuses the loopback
receiver as a private address (seen: a third of the events late by the 30 s retry).

- Claims in-process (no HTTP: the machine is shared, no wrk): `connections` asyncpg clients
  run the claim statement, each claim a new user, over OFFERS unlimited offers of one owner
  (client k claims offers k, k + connections, ...: a claim holds its offer's row lock until it
  commits, so on one offer claims went one at a time, ~300/s). Alternating rounds after a
  warm-up, no service running: the statement as the service runs it (with the event CTEs)
  against the same statement with them cut out. That owner has no webhook, so this is the cost
  of the event row alone.
- Catching up during claims: claims for an owner with one webhook (offer.claimed, to a
  receiver in this process on 127.0.0.1) pile up a backlog for `seconds` before the service
  runs; then the service (uvicorn, one process, its delivery loop) starts while the claims go
  on, and the events received over the next `seconds` show what one process delivers flat out
  beside them (flat out if a backlog is left at the end).
- Delivery during claims: once that backlog is gone, claims for `seconds` with the service
  running. Lag is the receiver's clock at the 200 minus the event's `at` (the claim's time);
  events/s counts events received from the first claim to the last receipt, once every event
  has arrived, so it cannot exceed the claims' rate. "deliveries retried" counts deliveries
  that took a second attempt (0 expected), with the commonest error still pending.

Measured (2 cores shared with other sessions' suites and benches, load average 2.4 before and
6.9 after; docs/design.md has the runs against the old delivery loop): claims 1,170/s with the
outbox, 1,674/s without (0.70x); catching up, 1,647 events/s beside 941 claims/s; steady, all
5,832 events delivered at 966/s (the claims' rate beside the service), none retried, lag p50
73 ms, p99 295 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from datetime import UTC, datetime
from statistics import median, quantiles
from typing import Any

import asyncpg
import orjson

from app import apps, merchants
from app.claims import CLAIM_CELL_RES, new_code
from app.db import make_engine
from app.merchants import prepare
from app.queries import claims as claims_sql
from app.queries import merchants as merchants_sql
from app.queries import offers as offers_sql
from app.queries import webhooks as webhooks_sql
from app.queries.offers import OfferValues
from app.queries.sql import ewkt
from app.sealing import SecretBox
from app.settings import Settings
from bench.harness import Row, _free_port, bench_database, drop_database, server
from spatial import CoordSystem, circle_fence
from spatial.h3cells import cell_of

SHOP = (22.5431, 114.0579)
INSIDE = (22.5440, 114.0579)
CELL = cell_of(*INSIDE, CLAIM_CELL_RES)
# Offers per owner that the claims spread over (as the cold claim storm of bench/offers.py):
# a claim locks its offer's row until it commits, so on one offer claims go one at a time.
OFFERS = 2_000
# The claim statement (without rate limits), and without its event CTEs: the baseline of what
# the outbox costs.
TAKE = claims_sql._take_statement(keyed=False)
BARE_TAKE = TAKE.replace(", " + claims_sql._CLAIM_EVENTS, "")


def run(database_url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    """On a throwaway database of its own: any other service on `database_url` (another
    bench's) would take deliveries from the shared queue too, and refuse the private receiver
    (they came back only with the retry, 30 s later)."""
    assert BARE_TAKE != TAKE, "the claim statement changed shape"
    os.environ["NEARBY_WEBHOOK_ALLOW_PRIVATE"] = "true"  # the receiver is on 127.0.0.1
    name = f"nearby_events_{uuid.uuid4().hex[:8]}"
    url = bench_database(database_url, name)
    before = os.getloadavg()[0]
    try:
        rows = asyncio.run(_measure(url, seconds=seconds, rounds=rounds, connections=connections))
    finally:
        drop_database(database_url, name)
    after = os.getloadavg()[0]
    # The machine is shared: the numbers above mean little without how busy it was.
    load = f"{before:.1f} -> {after:.1f}"
    return [*rows, Row("events", "the machine", "load average, 1 min", load, "", "", "", None)]


async def _measure(url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    quiet, hooked, owners, app_id = await _offers(url, receiver_port := _free_port())
    pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)
    receiver = _Receiver()
    listening = await asyncio.start_server(receiver.serve, "127.0.0.1", receiver_port)
    service = contextlib.ExitStack()

    async def claims(statement: str, offer_ids: list[uuid.UUID], for_s: float) -> _Claims:
        made = _Claims()
        await made.run(pool, statement, offer_ids, app_id, for_s, connections)
        return made

    try:
        # 1. What the outbox costs a claim, with no service running.
        rates: dict[str, list[float]] = {"outbox": [], "bare": []}
        statements = [("outbox", TAKE), ("bare", BARE_TAKE)]
        for _name, statement in statements:  # warm-up: plans cached, pages in memory
            await claims(statement, quiet, min(2.0, seconds))
        for round_number in range(rounds):
            for name, statement in statements[:: -1 if round_number % 2 else 1]:
                rates[name].append((await claims(statement, quiet, seconds)).per_s)
        # 2. Catching up: claims for the hooked owner pile up a backlog while no service runs,
        # then the service starts while they go on; its rate over the next `seconds` is what
        # one process delivers flat out beside the claims (unless it caught up meanwhile).
        backlog = await claims(TAKE, hooked, seconds)
        going = _Claims()
        producing = asyncio.create_task(going.run(pool, TAKE, hooked, app_id, 3600.0, connections))
        await asyncio.to_thread(
            service.enter_context, server("app.main:create_app", url, factory=True)
        )
        up_at, up_count = time.time(), len(receiver.lags)
        await asyncio.sleep(seconds)
        window_s, window_count = time.time() - up_at, len(receiver.lags) - up_count
        left = backlog.taken + going.taken - len(receiver.lags)
        going.stop.set()
        await producing
        await receiver.wait_for(backlog.taken + going.taken, 120)
        catch_up_claims = going.taken / max(going.took_s, 1e-9)
        catch_up = window_count / window_s
        # 3. Steady: claims with the service running, every event to the receiver.
        receiver.reset()
        started = time.time()
        steady = await claims(TAKE, hooked, seconds)
        await receiver.wait_for(steady.taken, 60)
        delivered = len(receiver.lags)
        span = max(receiver.last - started, 1e-9)
        retried, why = await _retried(url, owners)
    finally:
        service.close()
        listening.close()
        await pool.close()
    outbox, bare = median(rates["outbox"]), median(rates["bare"])
    lags = sorted(receiver.lags)
    p50 = median(lags) * 1000 if lags else float("nan")
    p99 = quantiles(lags, n=100)[98] * 1000 if len(lags) > 1 else float("nan")
    per_s = delivered / span
    scenario = f"claims in-process, {connections} clients"
    return [
        Row(
            "events",
            scenario,
            "claims/s",
            f"{outbox:,.0f}",
            f"{bare:,.0f}",
            f"{outbox / bare:.2f}x" if bare else "",
            ">= 1,000",
            outbox >= 1000,
        ),
        Row(
            "events",
            "catching up during claims",
            "claims/s",
            f"{catch_up_claims:,.0f}",
            "",
            "",
            "",
            None,
        ),
        Row(
            "events",
            "catching up during claims",
            "events/s",
            f"{catch_up:,.0f}",
            f"{backlog.taken:,}",
            "",
            ">= 1,000",
            catch_up >= 1000,
        ),
        Row(
            "events",
            "catching up during claims",
            "backlog at the end",
            f"{left:,}",
            "",
            "",
            "> 0: flat out",
            None,
        ),
        Row(
            "events", "delivery during claims", "claims/s", f"{steady.per_s:,.0f}", "", "", "", None
        ),
        Row(
            "events",
            "delivery during claims",
            "events delivered",
            f"{delivered:,}",
            f"{steady.taken:,}",
            "",
            "all",
            delivered == steady.taken,
        ),
        Row(
            "events",
            "delivery during claims",
            "events/s",
            f"{per_s:,.0f}",
            "",
            "",
            ">= 1,000",
            per_s >= 1000,
        ),
        Row(
            "events",
            "delivery during claims",
            "deliveries retried",
            f"{retried:,}",
            "",
            "",
            why,
            None,
        ),
        Row("events", "delivery during claims", "p50 lag ms", f"{p50:,.0f}", "", "", "", None),
        Row(
            "events",
            "delivery during claims",
            "p99 lag ms",
            f"{p99:,.0f}",
            "",
            "",
            "< 2,000",
            p99 < 2000,
        ),
    ]


class _Claims:
    """Claims of some offers by new users of an app on `clients` connections, until `for_s`
    has passed or `stop` is set (the claim statement alone: no rate limits): how many codes
    were taken, and in how long. Client k claims offers k, k + clients, k + 2 clients, ... in
    turn, so the clients are on different offers at any moment and do not wait for each
    other's row locks."""

    def __init__(self) -> None:
        self.taken = 0
        self.took_s = 0.0
        self.stop = asyncio.Event()

    @property
    def per_s(self) -> float:
        return self.taken / max(self.took_s, 1e-9)

    async def run(
        self,
        pool: asyncpg.Pool,
        statement: str,
        offer_ids: list[uuid.UUID],
        app_id: uuid.UUID,
        for_s: float,
        clients: int,
    ) -> None:
        deadline = time.monotonic() + for_s
        point = ewkt(*INSIDE)

        async def client(k: int) -> None:
            async with pool.acquire() as conn:
                i = 0
                while time.monotonic() < deadline and not self.stop.is_set():
                    row = await conn.fetchrow(
                        statement,
                        offer_ids[(k + i * clients) % len(offer_ids)],
                        f"u{k}-{i}-{uuid.uuid4().hex[:8]}",
                        new_code(),
                        datetime.now(UTC),
                        point,
                        0.0,  # accuracy_m
                        app_id,
                        CELL,  # the claim's H3 cell (app/claims.py)
                        None,  # through no share
                    )
                    self.taken += row[0] is not None
                    i += 1

        started = time.monotonic()
        await asyncio.gather(*(client(k) for k in range(clients)))
        self.took_s = time.monotonic() - started


class _Receiver:
    """Answers every POST with 200 and notes each event's lag (receipt - its `at`)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.last = 0.0
        self.expected: int | None = None
        self.all_in = asyncio.Event()  # set once `expected` events have arrived

    def reset(self) -> None:
        self.lags, self.last, self.expected = [], 0.0, None
        self.all_in.clear()

    async def wait_for(self, n: int, timeout_s: float) -> None:
        """Until `n` events have arrived, or `timeout_s` has passed."""
        self.expected = n
        if len(self.lags) >= n:
            self.all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_in.wait(), timeout_s)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = orjson.loads(await reader.readexactly(length))
                self.last = time.time()
                at = datetime.fromisoformat(body["at"]).timestamp()
                self.lags.append(self.last - at)
                if self.expected is not None and len(self.lags) >= self.expected:
                    self.all_in.set()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # the sender hung up, or the bench is over


async def _offers(
    url: str, receiver_port: int
) -> tuple[list[uuid.UUID], list[uuid.UUID], list[Any], uuid.UUID]:
    """OFFERS unlimited offers of an owner without webhooks, as many of an owner whose webhook
    wants offer.claimed at the receiver (each owner's in one store), and the app whose users
    claim."""
    engine = make_engine(Settings(database_url=url))
    offers: list[list[uuid.UUID]] = []
    owners = []
    try:
        async with engine.begin() as conn:
            for hooked in (False, True):
                owner, _ = await merchants.create_owner(conn, name="bench events")
                owners.append(owner.id)
                shop = await merchants_sql.insert_merchant(
                    conn, owner_id=owner.id, values=_store(hooked)
                )
                offers.append(
                    [
                        (
                            await offers_sql.insert_offer(
                                conn, merchant_id=shop.id, values=_unlimited()
                            )
                        ).id
                        for _ in range(OFFERS)
                    ]
                )
                if hooked:
                    await webhooks_sql.insert_webhook(
                        conn,
                        owner_id=owner.id,
                        url=f"http://127.0.0.1:{receiver_port}/hook",
                        events=["offer.claimed"],
                        secret="whsec_bench",
                        most=20,
                    )
            app = await apps.create(conn, name="bench events", box=SecretBox(None))
    finally:
        await engine.dispose()
    return offers[0], offers[1], owners, app.row.id


async def _retried(url: str, owners: list[Any]) -> tuple[int, str]:
    """How many of the owners' deliveries took more than one attempt, and the commonest
    error of an attempt still pending (a delivered one's error is cleared)."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            """SELECT count(*) FILTER (WHERE d.attempts > 1),
                      mode() WITHIN GROUP (ORDER BY d.last_error)
               FROM delivery d JOIN event e ON e.id = d.event_id
               WHERE e.owner_id = ANY($1)""",
            owners,
        )
        return row[0], row[1] or ""
    finally:
        await conn.close()


def _store(hooked: bool) -> Any:
    return prepare(
        external_id=None,
        name=f"bench events {hooked}",
        category="coffee",
        tags=[],
        address=None,
        phone=None,
        lat=SHOP[0],
        lng=SHOP[1],
        coord=CoordSystem.WGS84,
        timezone="Asia/Shanghai",
        opening_hours_text=None,
        attributes={},
    )


def _unlimited() -> OfferValues:
    return OfferValues(
        title="bench events",
        description=None,
        fence=circle_fence(*SHOP, 300),
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        ends_at=None,
        quantity=None,
        per_user_limit=None,
    )
