"""The delivery queue and loop in this process, over committed rows and a real receiver on
127.0.0.1: leases keep two processes off one delivery, an expired lease frees it, a stale
attempt cannot undo a newer one, and at delivery time private targets and redirects are
refused even when the webhook was stored (ports 26400-26499)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import events, merchants
from app.db import DriverConnections
from app.delivery import Deliverer
from app.queries import webhooks as webhooks_sql
from app.queries.webhooks import Outcome
from app.sealing import SecretBox
from app.settings import Settings
from tests.webhook_receiver import Receiver, verify

SECRET = "whsec_test-secret"


@pytest.fixture
async def setup(engine: AsyncEngine) -> AsyncIterator[Callable[..., Any]]:
    """make(url, n) -> (owner_id, key, webhook_id): a committed owner with one webhook for
    fence.entered and `n` events of that type; all removed afterwards."""
    owners: list[uuid.UUID] = []

    async def make(url: str, n: int, stored: str = SECRET) -> tuple[uuid.UUID, str, uuid.UUID]:
        async with engine.begin() as conn:
            owner, key = await merchants.create_owner(conn, name="Deliveries")
            owners.append(owner.id)
            hook = await webhooks_sql.insert_webhook(
                conn,
                owner_id=owner.id,
                url=url,
                events=["fence.entered"],
                secret=stored,
                most=20,
            )
            assert hook is not None
            now = datetime.now(UTC)
            await events.emit(
                conn,
                *(
                    events.new("fence.entered", owner_id=owner.id, at=now, data={"n": i})
                    for i in range(n)
                ),
            )
        return owner.id, key, hook.id

    yield make
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM event WHERE owner_id = ANY(:ids)"), {"ids": owners})
        await conn.execute(text("DELETE FROM owner WHERE id = ANY(:ids)"), {"ids": owners})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver(26411)
    await server.start()
    yield server
    await server.stop()


class running:
    """A Deliverer of this process over its own connections, closed (both) on the way out."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.connections = DriverConnections(engine, keep=2)
        self.deliverer = Deliverer(self.connections, settings)

    async def __aenter__(self) -> Deliverer:
        return self.deliverer

    async def __aexit__(self, *exc: object) -> None:
        await self.deliverer.close()
        await self.connections.close()


def settings_for(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(
        update={
            "webhook_timeout_s": 1.0,
            "webhook_lease_s": 2.0,
            "webhook_first_retry_s": 0.2,
            "webhook_max_retry_s": 0.5,
        }
        | changes
    )


async def deliveries(engine: AsyncEngine, webhook_id: uuid.UUID) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                """SELECT status, attempts, last_status, last_error FROM delivery
                   WHERE webhook_id = :w ORDER BY event_id"""
            ),
            {"w": webhook_id},
        )
        return [tuple(r) for r in rows]


async def test_two_takers_never_share_a_delivery_and_a_lease_keeps_it_taken(
    engine: AsyncEngine, setup: Callable[..., Any]
) -> None:
    _, _, hook = await setup("http://127.0.0.1:26412/", 40)
    async with engine.connect() as a, engine.connect() as b:
        da = (await a.get_raw_connection()).driver_connection
        db = (await b.get_raw_connection()).driver_connection
        first, second = await asyncio.gather(
            webhooks_sql.take_due(da, lease_s=1.5, most=25),
            webhooks_sql.take_due(db, lease_s=1.5, most=25),
        )
        mine = [d for d in first + second if d.webhook_id == hook]
        assert len(mine) == 40
        assert len({d.event_id for d in mine}) == 40  # no delivery taken twice
        assert {d.attempts for d in mine} == {1}
        again = await webhooks_sql.take_due(da, lease_s=1.5, most=100)
        assert [d for d in again if d.webhook_id == hook] == []  # leased: not due
        await asyncio.sleep(1.6)
        after = await webhooks_sql.take_due(db, lease_s=60, most=100)
        assert sorted(d.event_id for d in after if d.webhook_id == hook) == sorted(
            d.event_id for d in mine
        )
        retaken = {d.event_id: d for d in after if d.webhook_id == hook}
        assert {d.attempts for d in retaken.values()} == {2}
        # The first taker's late outcomes: a failure no longer counts, a success still does.
        late = [
            Outcome(d.event_id, hook, 1, "pending" if i % 2 else "delivered", 1.0, 500, None)
            for i, d in enumerate(mine)
        ]
        assert await webhooks_sql.record(da, outcomes=late) == 20
    rows = await deliveries(engine, hook)
    assert sorted(r[0] for r in rows) == ["delivered"] * 20 + ["pending"] * 20


async def test_every_due_delivery_is_sent_signed_and_recorded(
    engine: AsyncEngine, setup: Callable[..., Any], receiver: Receiver, settings: Settings
) -> None:
    _, _, hook = await setup(f"http://127.0.0.1:{receiver.port}/hook", 30)
    async with running(engine, settings_for(settings, webhook_allow_private=True)) as deliverer:
        for _ in range(100):
            await deliverer.run_once()
            if all(r[0] == "delivered" for r in await deliveries(engine, hook)):
                break
    assert {r[:3] for r in await deliveries(engine, hook)} == {("delivered", 1, 200)}
    assert len(receiver.received) == 30
    assert all(verify(SECRET, r) for r in receiver.received)
    assert all(r.headers["content-type"] == "application/json" for r in receiver.received)
    assert {r.headers["host"] for r in receiver.received} == {f"127.0.0.1:{receiver.port}"}


async def test_a_sealed_secret_signs_with_its_key_and_waits_without_it(
    engine: AsyncEngine, setup: Callable[..., Any], receiver: Receiver, settings: Settings
) -> None:
    key = "k" * 40
    sealed = SecretBox(key).seal(SECRET)
    assert SECRET not in sealed
    _, _, hook = await setup(f"http://127.0.0.1:{receiver.port}/hook", 3, sealed)
    keyless = settings_for(settings, webhook_allow_private=True, secret_key=None)
    async with running(engine, keyless) as deliverer:
        for _ in range(5):
            await deliverer.run_once()
    rows = await deliveries(engine, hook)
    assert {(r[0], r[2]) for r in rows} == {("pending", None)}
    assert {r[3] for r in rows} == {
        "cannot open the webhook's secret: sealed, and NEARBY_SECRET_KEY is not set"
    }
    assert receiver.received == []
    keyed = settings_for(
        settings, webhook_allow_private=True, secret_key=SecretStr(key), webhook_first_retry_s=0
    )
    await asyncio.sleep(0.5)  # the retry is due
    async with running(engine, keyed) as deliverer:
        for _ in range(100):
            await deliverer.run_once()
            if all(r[0] == "delivered" for r in await deliveries(engine, hook)):
                break
    assert {r[0] for r in await deliveries(engine, hook)} == {"delivered"}
    assert len(receiver.received) == 3
    assert all(verify(SECRET, r) for r in receiver.received)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_a_stored_private_target_is_refused_at_delivery(
    engine: AsyncEngine,
    setup: Callable[..., Any],
    receiver: Receiver,
    settings: Settings,
    host: str,
) -> None:
    _, _, hook = await setup(f"http://{host}:{receiver.port}/hook", 3)
    async with running(engine, settings_for(settings)) as deliverer:
        for _ in range(5):
            await deliverer.run_once()
    rows = await deliveries(engine, hook)
    assert {(r[0], r[2]) for r in rows} == {("pending", None)}
    assert all("private, loopback or link-local" in r[3] for r in rows)
    assert receiver.received == []


async def test_redirects_are_not_followed_and_the_window_ends_in_failed(
    engine: AsyncEngine,
    setup: Callable[..., Any],
    receiver: Receiver,
    settings: Settings,
    client: httpx.AsyncClient,
) -> None:
    _, key, hook = await setup(f"http://127.0.0.1:{receiver.port}/hook", 2)
    receiver.mode = "redirect"
    async with running(
        engine, settings_for(settings, webhook_allow_private=True, webhook_retry_for_s=0)
    ) as deliverer:
        for _ in range(20):
            await deliverer.run_once()
            if all(r[0] == "failed" for r in await deliveries(engine, hook)):
                break
    assert await deliveries(engine, hook) == [("failed", 1, 302, "answered 302")] * 2
    assert len(receiver.received) == 2  # and nothing went to the Location
    listed = await client.get(
        f"/v1/webhooks/{hook}/deliveries",
        params={"status": "failed"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert [
        (d["status"], d["last_status"], d["next_attempt_at"]) for d in listed.json()["results"]
    ] == [("failed", 302, None)] * 2


async def test_a_hanging_receiver_costs_one_timeout_and_is_retried(
    engine: AsyncEngine, setup: Callable[..., Any], receiver: Receiver, settings: Settings
) -> None:
    _, _, hook = await setup(f"http://127.0.0.1:{receiver.port}/hook", 1)
    receiver.mode = "hang"
    async with running(engine, settings_for(settings, webhook_allow_private=True)) as deliverer:
        started = asyncio.get_running_loop().time()
        while (await deliveries(engine, hook))[0][1:3] != (1, None) or not (
            await deliveries(engine, hook)
        )[0][3]:
            await deliverer.run_once()
            assert asyncio.get_running_loop().time() - started < 5
        assert (await deliveries(engine, hook))[0] == ("pending", 1, None, "no answer within 1 s")
        receiver.mode = "ok"
        while (await deliveries(engine, hook))[0][0] != "delivered":
            await deliverer.run_once()
            assert asyncio.get_running_loop().time() - started < 10
    assert (await deliveries(engine, hook))[0][:3] == ("delivered", 2, 200)


class _Outage:
    """Connections of `connections` while `down` is false; while it is true every new one
    fails as an unreachable database does. `then_fail(errors)`: the next checkouts fail with
    these errors, one each."""

    def __init__(self, connections: DriverConnections) -> None:
        self.connections = connections
        self.down = False
        self._next: list[BaseException] = []

    def then_fail(self, *errors: BaseException) -> None:
        self._next.extend(errors)

    @property
    def failing(self) -> int:
        return len(self._next)

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Any]:
        if self._next:
            raise self._next.pop(0)
        if self.down:
            raise ConnectionRefusedError("the database is down")
        async with self.connections() as conn:
            yield conn


async def _until_received(receiver: Receiver, n: int) -> None:
    for _ in range(500):
        if len(receiver.received) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(receiver.received)} of {n} requests arrived in 5 s")


async def test_outcomes_a_round_could_not_record_are_recorded_by_the_next(
    engine: AsyncEngine, setup: Callable[..., Any], receiver: Receiver, settings: Settings
) -> None:
    _, _, hook = await setup(f"http://127.0.0.1:{receiver.port}/hook", 3)
    connections = DriverConnections(engine, keep=2)
    outage = _Outage(connections)
    # A lease far longer than the test: only a recorded outcome can settle these rows.
    deliverer = Deliverer(
        outage, settings_for(settings, webhook_allow_private=True, webhook_lease_s=60.0)
    )
    try:
        assert await deliverer.run_once() == 3
        await _until_received(receiver, 3)
        outage.down = True
        with pytest.raises(ConnectionRefusedError):
            await deliverer.run_once()
        assert {r[0] for r in await deliveries(engine, hook)} == {"pending"}
        outage.down = False
        assert await deliverer.run_once() == 0
        assert await deliveries(engine, hook) == [("delivered", 1, 200, None)] * 3
        assert len(receiver.received) == 3  # each sent once
    finally:
        await deliverer.close()
        await connections.close()


async def test_closing_records_the_attempts_that_ended(
    engine: AsyncEngine, setup: Callable[..., Any], receiver: Receiver, settings: Settings
) -> None:
    _, _, hook = await setup(f"http://127.0.0.1:{receiver.port}/hook", 4)
    lease = settings_for(settings, webhook_allow_private=True, webhook_lease_s=60.0)
    async with running(engine, lease) as deliverer:
        assert await deliverer.run_once() == 4
        await _until_received(receiver, 4)
        await asyncio.sleep(0.1)  # the answers read, the attempts ended
    assert await deliveries(engine, hook) == [("delivered", 1, 200, None)] * 4


async def test_the_delivery_loop_outlives_any_error_and_delivers_after_it(
    engine: AsyncEngine,
    setup: Callable[..., Any],
    receiver: Receiver,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A round that fails pauses the loop; it never ends it. The errors: what asyncpg raised in
    CI when a restart ended a session while it waited idle (its FATAL message read before the
    socket's end, so the connection did not look closed yet), a refused connection, and an
    error no database raises (a bug: logged with its traceback). After each the loop goes on,
    and stopping raises nothing."""
    _, _, hook = await setup(f"http://127.0.0.1:{receiver.port}/hook", 3)
    connections = DriverConnections(engine, keep=2)
    outage = _Outage(connections)
    outage.then_fail(
        asyncpg.InternalClientError(
            "cannot switch to state 12; another operation (2) is in progress"
        ),
        ConnectionRefusedError("the database is down"),
        RuntimeError("a bug in a round"),
    )
    deliverer = Deliverer(
        outage, settings_for(settings, webhook_allow_private=True, delivery_poll_s=0.01)
    )
    deliverer.start()
    try:
        for _ in range(500):
            if await deliveries(engine, hook) == [("delivered", 1, 200, None)] * 3:
                break
            await asyncio.sleep(0.01)
        assert outage.failing == 0
        assert await deliveries(engine, hook) == [("delivered", 1, 200, None)] * 3
    finally:
        await deliverer.close()  # raises nothing: the loop was cancelled, not broken
        await connections.close()
    logged = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert ("ERROR", "a round of webhook deliveries failed", True) in logged
    paused = [m for level, m, _ in logged if m.startswith("webhook deliveries paused")]
    assert paused == [
        "webhook deliveries paused: InternalClientError: cannot switch to state 12; "
        "another operation (2) is in progress"
    ]  # said once for the two database errors in a row
