"""The delivery loop: sends pending webhook deliveries, retries them, and prunes old events.

Every process of the service runs one `Deliverer` (started in the app's lifespan). They share
the work through the database (queries/webhooks.py): a process takes due deliveries with a
lease, sends each as one signed POST, and records the outcome. A process killed mid-delivery
leaves its rows leased; they fall due again when the lease runs out, and another process (or
the same one, restarted) sends them. So delivery is at least once: a receiver dedupes on
`Nearby-Event-Id`.

An attempt is a success when the receiver answers 2xx within NEARBY_WEBHOOK_TIMEOUT_S (10 s),
from connecting to the status line. Redirects are not followed (a 3xx is a failure). Anything
else is retried (`after_attempt`): the first retry after about NEARBY_WEBHOOK_FIRST_RETRY_S
(30 s), each delay then doubling up to NEARBY_WEBHOOK_MAX_RETRY_S (6 h), every delay times a
random factor in [0.8, 1.2]; a delivery whose attempt fails once it is
NEARBY_WEBHOOK_RETRY_FOR_S (72 h) old is marked failed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
import httpx
from sqlalchemy.exc import SQLAlchemyError

from app import events, webhooks
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


class Deliverer:
    """This process's share of the deliveries; `start` it, then `close` it at shutdown."""

    def __init__(self, connect: DriverConnector, settings: Settings) -> None:
        self._connect = connect
        self._settings = settings
        self._policy = RetryPolicy.of(settings)
        self._box = box_of(settings)
        # One client per attempt in flight, each with one connection: a shared client's pool
        # spends its time matching requests to connections (a local receiver, 32 at once:
        # 70 posts/s through one client, 380 through 32 of them).
        tls = httpx.create_ssl_context()  # one, not one per client: each costs a CA bundle load
        self._clients = [
            httpx.AsyncClient(
                verify=tls,
                timeout=settings.webhook_timeout_s,
                follow_redirects=False,
                trust_env=False,  # no proxy from the environment: the checked address is the peer
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            for _ in range(settings.webhook_concurrency)
        ]
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[Outcome]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook deliveries")

    async def close(self) -> None:
        """Stop: attempts in flight are dropped (their rows fall due when their lease ends)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        for task in self._inflight:
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        for client in self._clients:
            await client.aclose()

    async def run_once(self) -> int:
        """One round: take what is due (as much as there is room for), wait until an attempt in
        flight ends (a tick at most), record those that ended; how many were taken."""
        room = self._settings.webhook_concurrency - len(self._inflight)
        due: list[Due] = []
        if room > 0:
            async with self._connect() as conn:
                due = await webhooks_sql.take_due(
                    conn, lease_s=self._settings.webhook_lease_s, most=room
                )
            self._inflight.update(asyncio.create_task(self._attempt(d)) for d in due)
        if self._inflight:
            done, _ = await asyncio.wait(
                self._inflight, timeout=_TICK_S, return_when=asyncio.FIRST_COMPLETED
            )
            await asyncio.sleep(0)  # and whatever ended at the same time
            done |= {task for task in self._inflight if task.done()}
            self._inflight -= done
            outcomes = [task.result() for task in done]
            if outcomes:
                async with self._connect() as conn:
                    await webhooks_sql.record(conn, outcomes=outcomes)
        return len(due)

    async def _run(self) -> None:
        prune_at = time.monotonic() + random.uniform(0, PRUNE_EVERY_S)
        paused = False  # say so once when the database goes, and once when it is back
        while True:
            try:
                taken = await self.run_once()
                if paused:
                    paused = False
                    log.info("webhook deliveries resumed")
                if time.monotonic() >= prune_at:
                    prune_at = time.monotonic() + PRUNE_EVERY_S
                    async with self._connect() as conn:
                        pruned = await events.prune(conn, keep_s=self._settings.event_keep_s)
                    if pruned:
                        log.info("pruned %d events older than the retention", pruned)
            except (OSError, asyncpg.PostgresError, SQLAlchemyError) as exc:
                if not paused:
                    paused = True
                    log.warning("webhook deliveries paused: %s", exc)
                await asyncio.sleep(self._settings.delivery_poll_s * 4)
                continue
            if not taken and not self._inflight:
                await asyncio.sleep(self._settings.delivery_poll_s)

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
        except SealError as exc:  # the operator's key is missing or changed: retried later
            error = f"cannot open the webhook's secret: {exc}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
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
        """POST the event to the webhook at an address checked just now; the HTTP status."""
        parts = urlsplit(due.url)
        addresses = await webhooks.resolve(
            parts, allow_private=self._settings.webhook_allow_private
        )
        host = addresses[0]
        port = parts.port or (443 if parts.scheme == "https" else 80)
        pinned = parts._replace(netloc=f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        body = events.body(due.event)
        headers = {
            "Host": parts.netloc,
            "Content-Type": "application/json",
            "User-Agent": "Nearby-Webhooks/1",
            "Nearby-Event-Id": str(due.event_id),
            "Nearby-Signature": webhooks.sign(
                webhooks.signing_secret(self._box, due.secret), body, int(time.time())
            ),
        }
        extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
        client = self._clients.pop()  # there is one for every attempt in flight
        try:
            request = client.build_request(
                "POST", pinned.geturl(), content=body, headers=headers, extensions=extensions
            )
            response = await client.send(request, stream=True)
            try:  # read a short answer, so the connection can be used again; drop a long one
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read > _ANSWER_BYTES:
                        break
            finally:
                await response.aclose()
        finally:
            self._clients.append(client)
        return response.status_code
