"""Rate limits that hold across worker processes: named per-minute limits, counted in PostgreSQL
(queries/ratelimit.py has the sliding-window counter), refused with a 429 and Retry-After.

The limits (API.md "Apps and users"), each a setting:
- "claims": claim attempts per user of an app (NEARBY_CLAIMS_PER_MINUTE, default 10);
- "app-claims": claim attempts per app (NEARBY_APP_CLAIMS_PER_MINUTE, default 6,000);
- "track": tracking calls per user of an app (NEARBY_TRACK_PER_MINUTE, default 60).
An attempt refused by a limit is not counted. Claims count theirs in the claim statement itself
(app/claims.py); `check` serves everything else.

The per-app claim limit is counted on shards: a claim counts on one of up to APP_SHARDS
counter rows of its app, picked at random, each allowing its share of the limit (the shares add
up to the limit exactly, so the app never passes it). A claim keeps its counter rows locked
until it commits; with one row per app, every claim of a busy app would queue behind the one
before. With shards, an app close to its limit may be refused while another shard still has
room: the limits are sharded only from 100 a minute per shard up (below 200 a minute, one row),
where that unevenness is a few percent of the limit.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from app.errors import RateLimited
from app.queries import ratelimit as ratelimit_sql
from app.queries.ratelimit import Counted, Hit
from app.settings import Settings

WINDOW_S = 60.0
_WHAT = {
    "claims": ("claim attempts", "this user"),
    "app-claims": ("claim attempts", "this app"),
    "track": ("tracking calls", "this user"),
}
PURGE_EVERY, PURGE_BATCH = 256, 100  # every 256th check deletes up to 100 idle counters
APP_SHARDS, SHARD_AT_LEAST = 8, 100  # at most 8 shards, of at least 100 a minute each
_checks = itertools.count(1)


@dataclass(frozen=True)
class Limits:
    claims_per_minute: int = 10
    track_per_minute: int = 60
    app_claims_per_minute: int = 6000

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            claims_per_minute=settings.claims_per_minute,
            track_per_minute=settings.track_per_minute,
            app_claims_per_minute=settings.app_claims_per_minute,
        )

    def claim(self, app_id: UUID, user_id: str) -> list[Hit]:
        """A claim attempt: the user's limit first, then the app's (so a user past their own
        limit does not use up the app's)."""
        return [
            Hit("claims", _user(app_id, user_id), self.claims_per_minute),
            app_shard("app-claims", app_id, self.app_claims_per_minute),
        ]

    def track(self, app_id: UUID, user_id: str) -> list[Hit]:
        return [Hit("track", _user(app_id, user_id), self.track_per_minute)]


def app_shard(name: str, app_id: UUID, per_minute: int, pick: int | None = None) -> Hit:
    """One attempt against a per-app limit, on a shard picked at random (or `pick`): the
    shards of a limit of L a minute allow L // n each, the first L % n of them one more."""
    shards = max(1, min(APP_SHARDS, per_minute // SHARD_AT_LEAST))
    k = random.randrange(shards) if pick is None else pick % shards
    share = per_minute // shards + (1 if k < per_minute % shards else 0)
    return Hit(name, f"{app_id}#{k}", share, of=per_minute)


@dataclass(frozen=True)
class Clock:
    """An instant as the counters see it: the minute since the Unix epoch and how much of it
    has passed (0 <= fraction < 1)."""

    window_no: int
    fraction: float

    @classmethod
    def at(cls, epoch_s: float) -> Clock:
        window_no = math.floor(epoch_s / WINDOW_S)
        return cls(window_no, (epoch_s - window_no * WINDOW_S) / WINDOW_S)

    @classmethod
    def now(cls) -> Clock:
        return cls.at(time.time())


async def check(conn: asyncpg.Connection, hits: list[Hit], clock: Clock | None = None) -> None:
    """Count one attempt against every limit of `hits`; RateLimited at the first one past."""
    clock = clock or Clock.now()
    outcomes = await ratelimit_sql.count(
        conn, hits=hits, window_no=clock.window_no, fraction=clock.fraction
    )
    await purge_now_and_then(conn, clock)
    raise_if_refused(hits, outcomes, clock)


def raise_if_refused(hits: list[Hit], outcomes: list[Counted], clock: Clock) -> None:
    for hit, outcome in zip(hits, outcomes, strict=True):
        if not outcome.counted:
            wait = retry_after_s(hit.per_minute, outcome, clock)
            what, whom = _WHAT[hit.name]
            raise RateLimited(
                f"Too many {what} by {whom}: at most {hit.of or hit.per_minute} a minute."
                f" Try again in {wait} s.",
                retry_after_s=wait,
            )


def retry_after_s(per_minute: int, state: Counted, clock: Clock) -> int:
    """Whole seconds until one more attempt fits under the limit, if nobody else tries."""
    prev, cur = _rolled(state, clock.window_no)
    room = per_minute - 1  # the estimate must fall to this for one more attempt
    if cur <= room:  # within this minute, as `prev` fades
        at = 1.0 - (room - cur) / prev if prev else clock.fraction
    else:  # next minute, as this minute's `cur` fades
        at = 1.0 + max(0.0, 1.0 - room / cur)
    # a microsecond's slack keeps float noise from adding a whole second
    return max(1, math.ceil((at - clock.fraction) * WINDOW_S - 1e-6))


async def purge_now_and_then(conn: asyncpg.Connection, clock: Clock) -> None:
    """Every PURGE_EVERY-th check of a process deletes counters idle for two minutes or more."""
    if next(_checks) % PURGE_EVERY == 0:
        await ratelimit_sql.purge(conn, before_window=clock.window_no - 1, batch=PURGE_BATCH)


def _rolled(state: Counted, window_no: int) -> tuple[int, int]:
    """(prev, cur) of a counter as of `window_no`."""
    if state.window_no == window_no:
        return state.prev, state.cur
    if state.window_no == window_no - 1:
        return state.cur, 0
    return 0, 0


def _user(app_id: UUID, user_id: str) -> str:
    return f"{app_id}/{user_id}"
