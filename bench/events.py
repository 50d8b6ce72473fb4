"""Case `events`: what the outbox costs a claim, and how fast events reach a webhook.

Targets (issue 13): claims at >= 1,000/s with their events written in the same statement;
events delivered at >= 1,000/s from commit to a local receiver's 200, with a p99 lag under 2 s.

- Claims in-process (no HTTP: the machine is shared, no wrk): `connections` asyncpg clients
  run the claim statement on an unlimited offer, each claim a new user, in alternating rounds:
  the statement as the service runs it (with the event CTEs) against the same statement with
  them cut out. The owner has no webhook here, so this is the cost of the event row alone.
- Delivery while claims run: the service (uvicorn, one process, its delivery loop) sends every
  offer.claimed of an owner with one webhook to a receiver in this process on 127.0.0.1, while
  the same claim clients run. Lag is the receiver's clock at the 200 minus the event's `at`
  (the claim's time); events/s counts events received from the first claim to the last
  receipt, once every event has arrived.
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
from bench.harness import Row, _free_port, server
from spatial import CoordSystem, circle_fence
from spatial.h3cells import cell_of

SHOP = (22.5431, 114.0579)
INSIDE = (22.5440, 114.0579)
CELL = cell_of(*INSIDE, CLAIM_CELL_RES)
# The claim statement (without rate limits), and without its event CTEs: the baseline of what
# the outbox costs.
TAKE = claims_sql._take_statement(keyed=False)
BARE_TAKE = TAKE.replace(", " + claims_sql._CLAIM_EVENTS, "")


def run(database_url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    assert BARE_TAKE != TAKE, "the claim statement changed shape"
    os.environ["NEARBY_WEBHOOK_ALLOW_PRIVATE"] = "true"  # the receiver is on 127.0.0.1
    with server("app.main:create_app", database_url, factory=True):
        return asyncio.run(
            _measure(database_url, seconds=seconds, rounds=rounds, connections=connections)
        )


async def _measure(url: str, *, seconds: float, rounds: int, connections: int) -> list[Row]:
    quiet, hooked, owners, app_id = await _offers(url, receiver_port := _free_port())
    pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)
    receiver = _Receiver()
    listening = await asyncio.start_server(receiver.serve, "127.0.0.1", receiver_port)
    try:
        rates: dict[str, list[float]] = {"outbox": [], "bare": []}
        for _ in range(rounds):
            for name, statement in (("outbox", TAKE), ("bare", BARE_TAKE)):
                done, took = await _claims(pool, statement, quiet, app_id, seconds, connections)
                rates[name].append(done / took)
        started = time.time()
        made, took = await _claims(pool, TAKE, hooked, app_id, seconds, connections)
        receiver.expected = made
        if len(receiver.lags) >= made:
            receiver.all_in.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receiver.all_in.wait(), 60)
        delivered = len(receiver.lags)
        span = max(receiver.last - started, 1e-9)
    finally:
        listening.close()
        await pool.close()
        await _drop(url, owners)
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
            f"{outbox / bare:.2f}x",
            ">= 1,000",
            outbox >= 1000,
        ),
        Row(
            "events", "delivery during claims", "claims/s", f"{made / took:,.0f}", "", "", "", None
        ),
        Row(
            "events",
            "delivery during claims",
            "events delivered",
            f"{delivered:,}",
            f"{made:,}",
            "",
            "all",
            delivered == made,
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


async def _claims(
    pool: asyncpg.Pool,
    statement: str,
    offer_id: uuid.UUID,
    app_id: uuid.UUID,
    seconds: float,
    clients: int,
) -> tuple[int, float]:
    """Claims of `offer_id` by new users of `app_id` on `clients` connections for `seconds`
    (the claim statement alone: no rate limits): how many codes were taken, and in how long."""
    deadline = time.monotonic() + seconds
    point = ewkt(*INSIDE)
    taken = 0

    async def client(k: int) -> None:
        nonlocal taken
        async with pool.acquire() as conn:
            i = 0
            while time.monotonic() < deadline:
                row = await conn.fetchrow(
                    statement,
                    offer_id,
                    f"u{k}-{i}-{uuid.uuid4().hex[:8]}",
                    new_code(),
                    datetime.now(UTC),
                    point,
                    0.0,  # accuracy_m
                    app_id,
                    CELL,  # the claim's H3 cell (app/claims.py)
                    None,  # through no share
                )
                taken += row[0] is not None
                i += 1

    started = time.monotonic()
    await asyncio.gather(*(client(k) for k in range(clients)))
    return taken, time.monotonic() - started


class _Receiver:
    """Answers every POST with 200 and notes each event's lag (receipt - its `at`)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.last = 0.0
        self.expected: int | None = None
        self.all_in = asyncio.Event()  # set once `expected` events have arrived

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
) -> tuple[uuid.UUID, uuid.UUID, list[Any], uuid.UUID]:
    """Two unlimited offers: one of an owner without webhooks, one of an owner whose webhook
    wants offer.claimed at the receiver; and the app whose users claim."""
    engine = make_engine(Settings(database_url=url))
    offers, owners = [], []
    try:
        async with engine.begin() as conn:
            for hooked in (False, True):
                owner, _ = await merchants.create_owner(conn, name="bench events")
                owners.append(owner.id)
                shop = await merchants_sql.insert_merchant(
                    conn, owner_id=owner.id, values=_store(hooked)
                )
                offer = await offers_sql.insert_offer(
                    conn, merchant_id=shop.id, values=_unlimited()
                )
                offers.append(offer.id)
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


async def _drop(url: str, owners: list[Any]) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DELETE FROM event WHERE owner_id = ANY($1)", owners)
        await conn.execute("DELETE FROM owner WHERE id = ANY($1)", owners)
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
