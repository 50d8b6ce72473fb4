"""The delivery loop: sends pending webhook deliveries, retries them, and prunes old events
(and old tracking state, app/tracking.py).

Every process of the service runs one `Deliverer` (started in the app's lifespan). They share
the work through the database (queries/webhooks.py): a process takes due deliveries with a
lease, sends each as one signed POST, and records the outcome. It works in rounds, with up to
NEARBY_WEBHOOK_CONCURRENCY (128) attempts in flight: a round waits until a quarter of them have
ended (_TICK_S at most), then records their outcomes and takes as many due deliveries as there
is room for, the two statements side by side on two connections. One round trip settles a
batch: that is what lets one process deliver over 1,000 events/s beside claims on a busy
machine (docs/design.md, "Events and webhooks"). Pruning runs in a task of its own.

A process killed mid-delivery leaves its rows leased; they fall due again when the lease runs
out, and another process (or the same one, restarted) sends them. So delivery is at least
once: a receiver dedupes on `Nearby-Event-Id`.

An attempt is a success when the receiver answers 2xx within NEARBY_WEBHOOK_TIMEOUT_S (10 s),
from connecting to the status line. Redirects are not followed (a 3xx is a failure).

The HTTP client is aiohttp's, with one shared connection pool (keep-alive per receiver).
Every new connection goes to an address checked just then: the pool's resolver is
`CheckedResolver`, which resolves the name and refuses private addresses (app/webhooks.py), and
a URL with an IP address is checked before each attempt; TLS still verifies the URL's host
name. (httpx, used at first, cost 1.0 ms of CPU a delivery; aiohttp 0.13 ms, measured on this
machine: with claims running too, httpx alone would have used most of a core at 1,000
events/s.) Anything
else is retried (`after_attempt`): the first retry after about NEARBY_WEBHOOK_FIRST_RETRY_S
(30 s), each delay then doubling up to NEARBY_WEBHOOK_MAX_RETRY_S (6 h), every delay times a
random factor in [0.8, 1.2]; a delivery whose attempt fails once it is
NEARBY_WEBHOOK_RETRY_FOR_S (72 h) old is marked failed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from app import errors, events, tracking, webhooks
from app.apps import box_of
from app.db import DriverConnector
from app.queries import webhooks as webhooks_sql
from app.queries.webhooks import Due, Outcome
from app.sealing import SealError
from app.settings import Settings

log = logging.getLogger("nearby.delivery")

JITTER = (0.8, 1.2)
PRUNE_EVERY_S = 600.0
_TICK_S = 0.05  # how long a round waits for its attempts before taking more work
_CLOSE_RECORD_S = 3.0  # at shutdown, how long recording the last outcomes may take
_ERROR_CHARS = 300
_ANSWER_BYTES = 64 * 1024  # of a receiver's answer, read (and ignored) to keep the connection


@dataclass(frozen=True)
class RetryPolicy:
    first_s: float
    max_s: float
    retry_for_s: float

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.webhook_first_retry_s,
            settings.webhook_max_retry_s,
            settings.webhook_retry_for_s,
        )

    def delay_s(self, attempts: int, jitter: float) -> float:
        """The wait after the `attempts`-th failed attempt (1, 2, ...), `jitter` in JITTER."""
        return min(self.max_s, self.first_s * 2.0 ** min(attempts - 1, 62)) * jitter


def after_attempt(
    policy: RetryPolicy, *, attempts: int, age_s: float, ok: bool, jitter: float
) -> tuple[str, float]:
    """The delivery's status after its `attempts`-th attempt, made `age_s` after it was written,
    and the seconds until the next one: delivered; failed once an attempt fails at or past
    `retry_for_s`; else pending, retried after `delay_s`."""
    if ok:
        return "delivered", 0.0
    if age_s >= policy.retry_for_s:
        return "failed", 0.0
    return "pending", policy.delay_s(attempts, jitter)


class RefusedAddress(OSError):
    """A webhook's host resolved to an address it may not reach (aiohttp reports the OSErrors of
    its resolver as a failed connection; this one carries why)."""

    def __init__(self, refused: webhooks.Refused) -> None:
        super().__init__(str(refused))
        self.refused = refused


class CheckedResolver(AbstractResolver):
    """Resolves a webhook's host for a new connection, refusing private addresses unless
    `allow_private` (app/webhooks.py: addresses)."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            found = await webhooks.addresses(host, port, allow_private=self._allow_private)
        except webhooks.Refused as exc:
            raise RefusedAddress(exc) from None
        results = []
        for address in found:
            ip = ipaddress.ip_address(address.split("%")[0])
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET,
                    proto=socket.IPPROTO_TCP,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        return results

    async def close(self) -> None:
        pass


class Deliverer:
    """This process's share of the deliveries; `start` it, then `close` it at shutdown."""

    def __init__(self, connect: DriverConnector, settings: Settings) -> None:
        self._connect = connect
        self._settings = settings
        self._policy = RetryPolicy.of(settings)
        self._box = box_of(settings)
        self._tls = ssl.create_default_context()  # one: each costs a CA bundle load
        self._session: aiohttp.ClientSession | None = None  # made in the running loop
        self._task: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[Outcome]] = set()
        # Attempts that ended since the last round, and outcomes a failed `record` left over.
        self._ended: list[asyncio.Task[Outcome]] = []
        self._unrecorded: list[Outcome] = []
        self._awaited = 1  # a round waits until this many attempts have ended (or a tick)
        self._enough = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook deliveries")
        self._pruner = asyncio.create_task(self._prune(), name="event pruning")

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._settings.webhook_concurrency,
                resolver=CheckedResolver(allow_private=self._settings.webhook_allow_private),
                use_dns_cache=False,  # every new connection is checked anew
                ssl=self._tls,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),  # _attempt times each attempt
                trust_env=False,  # no proxy from the environment: the checked address is the peer
                auto_decompress=False,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    async def close(self) -> None:
        """Stop: the outcomes of attempts that ended are recorded (if the database answers
        within a few seconds); attempts in flight are dropped (their rows fall due when their
        lease ends)."""
        for loop in (self._task, self._pruner):
            if loop is not None:
                loop.cancel()
                with suppress(asyncio.CancelledError):
                    await loop
        for task in self._inflight:
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        outcomes = self._unrecorded + [
            t.result() for t in self._ended if not t.cancelled() and t.exception() is None
        ]
        self._inflight.clear()
        self._ended.clear()
        self._unrecorded = []
        try:
            async with asyncio.timeout(_CLOSE_RECORD_S):
                await self._record(outcomes)
        except Exception as exc:  # stopping goes on: their rows fall due when their lease ends
            if outcomes:
                log.warning(
                    "%d delivery outcomes not recorded at shutdown: %s",
                    len(outcomes),
                    errors.one_line(exc),
                )
        if self._session is not None:
            await self._session.close()

    async def run_once(self) -> int:
        """One round: wait until a quarter of the attempts in flight have ended (a tick at
        most; not at all when none is in flight), then at once, on two connections, record the
        outcomes of those that ended and take as much due work as there is room for; how many
        were taken.

        Taking and recording in batches of many attempts, side by side, is what lets one
        process keep up with thousands of events a second on a busy machine: a round costs one
        database round trip however many attempts it settles (see docs/design.md)."""
        if self._inflight:
            self._awaited = max(1, min(len(self._inflight), self._refill()))
            if len(self._ended) < self._awaited:
                self._enough.clear()
                with suppress(TimeoutError):
                    async with asyncio.timeout(_TICK_S):
                        await self._enough.wait()
            ended, self._ended = self._ended, []
            self._inflight.difference_update(ended)
            outcomes = self._unrecorded + [task.result() for task in ended]
            self._unrecorded = []
        else:
            outcomes, self._unrecorded = self._unrecorded, []
        room = self._settings.webhook_concurrency - len(self._inflight)
        taken, recorded = await asyncio.gather(
            self._take(room), self._record(outcomes), return_exceptions=True
        )
        if isinstance(recorded, BaseException):
            self._unrecorded = outcomes + self._unrecorded  # recorded next round
        due = [] if isinstance(taken, BaseException) else taken
        for d in due:
            task = asyncio.create_task(self._attempt(d))
            task.add_done_callback(self._attempt_ended)
            self._inflight.add(task)
        for failed in (taken, recorded):
            if isinstance(failed, BaseException):
                raise failed
        return len(due)

    def _refill(self) -> int:
        return max(1, self._settings.webhook_concurrency // 4)

    def _attempt_ended(self, task: asyncio.Task[Outcome]) -> None:
        self._ended.append(task)
        if len(self._ended) >= self._awaited:
            self._enough.set()

    async def _take(self, room: int) -> list[Due]:
        if room <= 0:
            return []
        async with self._connect() as conn:
            return await webhooks_sql.take_due(
                conn, lease_s=self._settings.webhook_lease_s, most=room
            )

    async def _record(self, outcomes: list[Outcome]) -> None:
        if outcomes:
            async with self._connect() as conn:
                await webhooks_sql.record(conn, outcomes=outcomes)

    async def _run(self) -> None:
        """Rounds until cancelled. No error ends the loop: a process whose deliveries stopped
        would keep answering requests while its events waited for another process, or forever.
        A lost database (a restart shows as errors of many kinds: refused, reset, terminated,
        or a session the server ended while idle, which asyncpg reports as an InternalClientError
        on its next statement) pauses the rounds, said once; any other error is a bug, logged
        whole every time it happens."""
        paused = False  # say so once when the database goes, and once when it is back
        while True:
            try:
                taken = await self.run_once()
                if paused:
                    paused = False
                    log.info("webhook deliveries resumed")
            except Exception as exc:
                if not errors.database_unreachable(exc):
                    log.exception("a round of webhook deliveries failed")
                elif not paused:
                    paused = True
                    log.warning("webhook deliveries paused: %s", errors.one_line(exc))
                await asyncio.sleep(self._settings.delivery_poll_s * 4)
                continue
            if not taken and not self._inflight:
                await asyncio.sleep(self._settings.delivery_poll_s)

    async def _prune(self) -> None:
        """Every PRUNE_EVERY_S (the first time at random within it, so that processes started
        together spread out): old events, and old tracking state. A task of its own: a long
        prune does not hold deliveries up."""
        await asyncio.sleep(random.uniform(0, PRUNE_EVERY_S))
        while True:
            try:
                async with self._connect() as conn:
                    pruned = await events.prune(conn, keep_s=self._settings.event_keep_s)
                    users, visits = await tracking.prune(conn, keep_s=self._settings.track_keep_s)
                if pruned:
                    log.info("pruned %d events older than the retention", pruned)
                if users or visits:
                    log.info(
                        "pruned %d tracked users not seen lately and %d visits of ended offers",
                        users,
                        visits,
                    )
            except Exception as exc:  # as in _run: the loop outlives any error
                if errors.database_unreachable(exc):
                    log.warning(
                        "pruning failed, tried again in %g s: %s",
                        PRUNE_EVERY_S,
                        errors.one_line(exc),
                    )
                else:
                    log.exception("pruning failed, tried again in %g s", PRUNE_EVERY_S)
            await asyncio.sleep(PRUNE_EVERY_S)

    async def _attempt(self, due: Due) -> Outcome:
        http_status: int | None = None
        error: str | None = None
        timeout_s = self._settings.webhook_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                http_status = await self._post(due)
            if not 200 <= http_status < 300:
                error = f"answered {http_status}"
        except TimeoutError:
            error = f"no answer within {timeout_s:g} s"
        except webhooks.Refused as exc:
            error = f"refused: {exc}"
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedAddress):
                error = f"refused: {exc.os_error.refused}"
            else:
                error = f"could not connect: {exc.os_error.strerror or exc.os_error}"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except SealError as exc:  # the operator's key is missing or changed: retried later
            error = f"cannot open the webhook's secret: {exc}"
        except Exception as exc:  # one odd delivery must not stop the loop: retry it later
            log.exception("webhook delivery of event %d failed", due.event_id)
            error = f"{type(exc).__name__}"
        status, retry_in_s = after_attempt(
            self._policy,
            attempts=due.attempts,
            age_s=due.age_s,
            ok=error is None,
            jitter=random.uniform(*JITTER),
        )
        error = error[:_ERROR_CHARS] if error else None
        return Outcome(
            due.event_id, due.webhook_id, due.attempts, status, retry_in_s, http_status, error
        )

    async def _post(self, due: Due) -> int:
        """POST the event to the webhook (over a connection to a checked address: see the module
        docstring); the HTTP status."""
        parts = urlsplit(due.url)
        host = parts.hostname or ""
        with suppress(ValueError):  # an IP address in the URL: the resolver is not asked
            ipaddress.ip_address(host)
            await webhooks.resolve(parts, allow_private=self._settings.webhook_allow_private)
        body = events.body(due.event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Nearby-Webhooks/1",
            "Nearby-Event-Id": str(due.event_id),
            "Nearby-Signature": webhooks.sign(
                webhooks.signing_secret(self._box, due.secret), body, int(time.time())
            ),
        }
        async with self._client().post(
            due.url, data=body, headers=headers, allow_redirects=False
        ) as response:
            # Read a short answer, so the connection can be used again; drop a long one.
            read = 0
            async for chunk in response.content.iter_chunked(16 * 1024):
                read += len(chunk)
                if read > _ANSWER_BYTES:
                    response.close()
                    break
            return response.status
