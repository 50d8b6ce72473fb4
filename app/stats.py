"""Merchant statistics: totals, a series by local hour or day, claim cells with k-anonymity,
and an offer's claims as CSV (API.md "Shares, QR codes and merchant statistics"; the owner-wide
view and the CSV export are extensions, docs/api-extensions.md).

Where the numbers come from (docs/design.md "Statistics"):
- claims and redemptions per bucket: the rollup, one row per offer and UTC quarter-hour
  (`offer_stats` for finished quarters, the offer's own row for its current one), counted by
  the claim and redeem statements themselves (no lag, exact). Every
  timezone is a whole number of quarter-hours from UTC, so a local hour or day is an exact
  sum of quarters. The range is widened to whole buckets, so the totals are the series' sums.
- users, the redemption rate and cells: the claims of the range, read from the index
  (offer_id, claimed_at) alone. Distinct users do not add up across buckets or cells, so they
  are counted, exactly, from the claims; their cost grows with the claims of the viewed offers
  in the range, not with the owner's.
- a cell (resolution 9, about 0.1 km^2) is shown only with at least K_ANONYMITY distinct users.
- an answer is kept `NEARBY_STATS_CACHE_S` (30 s) per process (`ViewCache`) and shared by
  the requests for the same view, range and bucket meanwhile (one computation however many
  ask at once), and computed again in the background every 15 s while requests keep asking
  for it: statistics lag the claims by at most that long, and a view in use is computed
  while nobody waits. The range is widened to whole
  buckets first, so "the last 30 days" asked again and again within a day is one view.
- sharers and kol: the claims of the range made through a share, counted per share in SQL and
  credited up the chains by app/attribution.py (the one attribution algorithm), over the whole
  share trees of the viewed offers. A sharer is (app, user_id).
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time as clock
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import cast
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from app import attribution, errors
from app.auth import Principal
from app.errors import Forbidden, InvalidInput, NotFound
from app.queries import stats as stats_sql
from app.queries.stats import Scope, Subject
from spatial.h3cells import cell_to_hex

log = logging.getLogger("nearby.stats")
K_ANONYMITY = 5  # a cell with fewer distinct users is left out
TOP_SHARERS = 100  # sharers listed, most chain redemptions first (kol counts them all)
DEFAULT_SPAN = timedelta(days=30)
MAX_SPAN = {"hour": timedelta(days=31), "day": timedelta(days=366)}
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
CSV_HEAD = ("code", "claimed_at", "redeemed_at", "user_id", "app", "share", "cell")


class Bucket(StrEnum):
    hour = "hour"
    day = "day"


@dataclass(frozen=True)
class Point:
    t: datetime  # the bucket's start, in the view's timezone
    claims: int
    redemptions: int


@dataclass(frozen=True)
class Cell:
    h3: str
    claims: int
    redemptions: int


@dataclass(frozen=True)
class Sharer:
    app_id: UUID
    user_id: str
    credit: attribution.Credit
    kol: bool  # one of the smallest set holding 80% of attributed redemptions


@dataclass(frozen=True)
class Kol:
    sharers: int
    of: int  # every sharer of the viewed offers
    covered: int  # attributed redemptions in the kol's chains
    total: int  # attributed redemptions of the range
    exact: bool  # the smallest set (one offer's tree), or greedy's (across offers)


@dataclass(frozen=True)
class Stats:
    start: datetime
    end: datetime
    bucket: Bucket
    timezone: str
    claims: int
    redemptions: int
    users: int
    shares: int
    redemption_rate: float | None
    series: list[Point]
    cells: list[Cell]
    cells_withheld: int  # claims in cells left out for k-anonymity (or kept without a cell)
    sharers: list[Sharer]
    kol: Kol
    # What a presenter made of this answer, kept with it: a cached answer is shared by every
    # request for its view, and so is its rendering (routes/stats.py).
    rendered: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Asked:
    """A view's range and bucket as the caller gave them (None: the default)."""

    start: datetime | None
    end: datetime | None
    bucket: Bucket = Bucket.day
    now: datetime | None = None  # tests pin it; else the clock


Compute = Callable[[AsyncConnection], Awaitable[Stats]]
Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@dataclass
class _Kept:
    computed_at: float  # monotonic, when its computation started
    answer: asyncio.Future[Stats]
    used_at: float  # monotonic, when a request last asked for it


class ViewCache:
    """Answers kept `ttl_s` seconds, at most `size` of them, each computed once however many
    requests ask for it at the same time (they await the one computation). A failed or
    cancelled computation is not kept: whoever waited on it computes again.

    Kept warm: with `connect`, a view computed for a request is computed again in the
    background every `ttl_s / 2` seconds, on a connection of its own, for as long as requests
    keep asking for it (until it has gone `warm_s` without one), at most `REFRESHES` at a time
    per process. So a view in use is never waited for after its first computation, and no
    answer is older than `ttl_s`: a refresh that fails or falls behind leaves the answer until
    then, and the request that finds it too old computes it."""

    REFRESHES = 2

    def __init__(
        self,
        ttl_s: float,
        size: int = 2048,
        connect: Connect | None = None,
        warm_s: float = 300.0,
    ) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self.connect = connect
        self.warm_s = warm_s
        self._kept: dict[Hashable, _Kept] = {}
        self._warm: dict[Hashable, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(self.REFRESHES)

    async def get(self, key: Hashable, compute: Compute, conn: AsyncConnection) -> Stats:
        if self.ttl_s <= 0:
            return await compute(conn)
        now = clock.monotonic()
        kept = self._kept.get(key)
        if kept is not None and now - kept.computed_at < self.ttl_s:
            kept.used_at = now
            await asyncio.wait([kept.answer])  # raises only when this request is cancelled
            if kept.answer.cancelled():  # the computation failed: try again for this request
                return await compute(conn)
            return kept.answer.result()
        if len(self._kept) >= self.size:
            self._kept = {k: v for k, v in self._kept.items() if now - v.computed_at < self.ttl_s}
            while len(self._kept) >= self.size:
                self._kept.pop(next(iter(self._kept)))
        answer: asyncio.Future[Stats] = asyncio.get_running_loop().create_future()
        self._kept[key] = _Kept(now, answer, now)
        try:
            answer.set_result(await compute(conn))
        except BaseException:
            if (held := self._kept.get(key)) is not None and held.answer is answer:
                del self._kept[key]
            answer.cancel()  # its waiters compute for themselves
            raise
        if self.connect is not None and key not in self._warm:
            task = asyncio.get_running_loop().create_task(self._keep_warm(key, compute))
            self._warm[key] = task
        return answer.result()

    async def _keep_warm(self, key: Hashable, compute: Compute) -> None:
        assert self.connect is not None
        try:
            while True:
                await asyncio.sleep(self.ttl_s / 2)
                kept = self._kept.get(key)
                if kept is None or clock.monotonic() - kept.used_at > self.warm_s:
                    return
                async with self._slots:
                    started = clock.monotonic()
                    try:
                        async with self.connect() as conn:
                            fresh = await compute(conn)
                    except Exception as exc:  # the kept answer stays until it is too old
                        log.warning("statistics view not refreshed: %s", errors.one_line(exc))
                        continue
                answer: asyncio.Future[Stats] = asyncio.get_running_loop().create_future()
                answer.set_result(fresh)
                if (now_kept := self._kept.get(key)) is not None:
                    self._kept[key] = _Kept(started, answer, now_kept.used_at)
        finally:
            self._warm.pop(key, None)

    async def close(self) -> None:
        """Stop keeping views warm (the service is stopping)."""
        tasks = list(self._warm.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---- buckets (pure) ----


def floor_quarter(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return t - timedelta(minutes=t.minute % 15, seconds=t.second, microseconds=t.microsecond)


def bucket_start(t: datetime, bucket: Bucket, tz: ZoneInfo) -> datetime:
    """The start (an instant, UTC) of the local hour or day that holds `t`."""
    q = floor_quarter(t)
    if bucket is Bucket.day:
        return day_start(t.astimezone(tz).date(), tz)
    # The last instant at or before `q` that the local clock showed a whole hour: the quarter's
    # local minute back (0, 15, 30 or 45 in every zone), and further back across a change of
    # half an hour (Lord Howe's DST), where the repeated half hour joins the hour before.
    start = q - timedelta(minutes=q.astimezone(tz).minute)
    while start.astimezone(tz).minute != 0:
        start -= QUARTER
    return start


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def buckets(start: datetime, end: datetime, bucket: Bucket, tz: ZoneInfo) -> list[datetime]:
    """Every bucket start from the one holding `start` to the last one before `end`, and then
    the end of that last bucket (the widened range is [first, last))."""
    first = bucket_start(start, bucket, tz)
    out = [first]
    if bucket is Bucket.day:
        day = start.astimezone(tz).date()
        while out[-1] < end:
            day += timedelta(days=1)
            out.append(day_start(day, tz))
        return out
    q = first
    while out[-1] < end:
        q += QUARTER
        b = bucket_start(q, bucket, tz)
        if b != out[-1]:
            out.append(b)
    return out


def widened(
    start: datetime, end: datetime, bucket: Bucket, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    """The first and the last element of `buckets(start, end, bucket, tz)` (the range widened
    to whole buckets), without listing the buckets between: a view's cache key, on every
    request."""
    first = bucket_start(start, bucket, tz)
    if end <= first:
        return first, first
    holding = bucket_start(end, bucket, tz)
    if holding == end:
        return first, end
    if bucket is Bucket.day:
        return first, day_start(end.astimezone(tz).date() + timedelta(days=1), tz)
    q = floor_quarter(end)
    while bucket_start(q, bucket, tz) == holding:
        q += QUARTER
    return first, bucket_start(q, bucket, tz)


def window(
    start: datetime | None, end: datetime | None, bucket: Bucket, *, now: datetime
) -> tuple[datetime, datetime]:
    """The asked range [start, end), defaulted (the 30 days before `end`, `end` now) and
    checked: 422 when reversed, outside 2000..2100, or longer than the bucket allows."""
    end = end if end is not None else now
    start = start if start is not None else end - DEFAULT_SPAN
    for name, value in (("from", start), ("to", end)):
        if not EARLIEST <= value < LATEST:
            raise InvalidInput.at(["query", name], "must lie between 2000-01-01 and 2100-01-01")
    if start > end:
        raise InvalidInput.at(["query", "from"], "must not be after `to`")
    if end - start > MAX_SPAN[bucket]:
        days = MAX_SPAN[bucket].days
        raise InvalidInput.at(
            ["query", "to"], f"a range of {bucket} buckets may span at most {days} days"
        )
    return start, end


# ---- use cases ----


async def of_offer(
    conn: AsyncConnection, *, principal: Principal, offer_id: UUID, asked: Asked, cache: ViewCache
) -> Stats:
    subject = await stats_sql.offer_subject(conn, offer_id=offer_id)
    if subject is None:
        raise NotFound(f"There is no offer {offer_id}")
    _allow(principal, subject, "offer")
    return await _stats(conn, "offer", offer_id, subject.timezone, asked, cache)


async def of_merchant(
    conn: AsyncConnection,
    *,
    principal: Principal,
    merchant_id: UUID,
    asked: Asked,
    cache: ViewCache,
) -> Stats:
    subject = await stats_sql.merchant_subject(conn, merchant_id=merchant_id)
    if subject is None:
        raise NotFound(f"There is no merchant {merchant_id}")
    _allow(principal, subject, "merchant")
    return await _stats(conn, "merchant", merchant_id, subject.timezone, asked, cache)


async def of_owner(
    conn: AsyncConnection,
    *,
    principal: Principal,
    owner_id: UUID | None,
    tz: str,
    asked: Asked,
    cache: ViewCache,
) -> Stats:
    """Every offer of an owner: the caller's own, or for the admin the `owner_id` given."""
    if principal.owner_id is not None:
        if owner_id not in (None, principal.owner_id):
            raise Forbidden("An owner key shows only its own owner's statistics")
        owner_id = principal.owner_id
    elif owner_id is None:
        raise InvalidInput.at(["query", "owner_id"], "is required with the admin key")
    elif not await stats_sql.owner_exists(conn, owner_id=owner_id):
        raise NotFound(f"There is no owner {owner_id}")
    return await _stats(conn, "owner", owner_id, tz, asked, cache)


async def _stats(
    conn: AsyncConnection,
    scope: Scope,
    id: UUID,
    tz_name: str,
    asked: Asked,
    cache: ViewCache,
) -> Stats:
    tz, bucket = ZoneInfo(tz_name), asked.bucket
    start, end = window(asked.start, asked.end, bucket, now=asked.now or datetime.now(UTC))
    first, last = widened(start, end, bucket, tz)
    return await cache.get(
        (scope, id, tz_name, bucket, first, last),
        lambda c: _compute(c, scope, id, tz_name, bucket, buckets(first, last, bucket, tz)),
        conn,
    )


async def _compute(
    conn: AsyncConnection,
    scope: Scope,
    id: UUID,
    tz_name: str,
    bucket: Bucket,
    starts: list[datetime],
) -> Stats:
    tz = ZoneInfo(tz_name)
    first, last = starts[0], starts[-1]
    counts: dict[datetime, tuple[int, int]] = {}
    if bucket is Bucket.hour:
        for q, c, r in await stats_sql.quarterly(conn, scope=scope, id=id, start=first, end=last):
            t = bucket_start(q, bucket, tz)
            had = counts.get(t, (0, 0))
            counts[t] = (had[0] + c, had[1] + r)
    else:
        for d, c, r in await stats_sql.daily(
            conn, scope=scope, id=id, tz=tz_name, start=first, end=last
        ):
            counts[day_start(d, tz)] = (c, r)
    series = [Point(t.astimezone(tz), *counts.get(t, (0, 0))) for t in starts[:-1]]
    by_cell = await stats_sql.by_cell(conn, scope=scope, id=id, start=first, end=last)
    total = next((c for c in by_cell if c.cell is None), None)
    cells = [
        Cell(cell_to_hex(c.cell), c.claims, c.redeemed)
        for c in by_cell
        if c.cell and c.users >= K_ANONYMITY
    ]
    cells.sort(key=lambda c: (-c.claims, c.h3))
    claimed = total.claims if total else 0
    shares = await stats_sql.shares(conn, scope=scope, id=id)
    attributed = await stats_sql.attributed(conn, scope=scope, id=id, start=first, end=last)
    # In a thread: crediting a whole owner's chains takes a while in Python, and the event
    # loop keeps serving other requests meanwhile (a background refresh must not stall them).
    sharers, kol = await asyncio.to_thread(_credit, shares, attributed)
    return Stats(
        start=first.astimezone(tz),
        end=last.astimezone(tz),
        bucket=bucket,
        timezone=tz_name,
        claims=sum(p.claims for p in series),
        redemptions=sum(p.redemptions for p in series),
        users=total.users if total else 0,
        shares=sum(first <= s.created_at < last for s in shares),
        redemption_rate=(total.redeemed / claimed) if total and claimed else None,
        series=series,
        cells=cells,
        cells_withheld=claimed - sum(c.claims for c in cells),
        sharers=sharers,
        kol=kol,
    )


def _credit(
    shares: list[stats_sql.SharePoint], attributed: list[tuple[str, int, int]]
) -> tuple[list[Sharer], Kol]:
    """The top sharers and the kol, from the shares and the per-share counts of attributed
    claims (expanded into the claims app/attribution.py credits)."""
    nodes = [attribution.Share(s.code, s.parent, (s.app_id, s.user_id)) for s in shares]
    claims: list[attribution.Claim] = []
    for code, plain, redeemed in attributed:
        claims += [attribution.Claim(code, False)] * plain + [
            attribution.Claim(code, True)
        ] * redeemed
    credits = attribution.credit(nodes, claims)
    sets, total = attribution.chain_redemptions(nodes, claims)
    chosen = attribution.kol(sets, total)
    in_kol = set(chosen.sharers)
    ranked = sorted(
        (u for u, c in credits.items() if c.chain_claims),
        key=lambda u: (
            -credits[u].chain_redemptions,
            -credits[u].chain_claims,
            -credits[u].redemptions,
            repr(u),
        ),
    )
    sharers = []
    for u in ranked[:TOP_SHARERS]:
        app_id, user_id = cast(tuple[UUID, str], u)
        sharers.append(Sharer(app_id, user_id, credits[u], u in in_kol))
    return sharers, Kol(len(chosen.sharers), len(credits), chosen.covered, total, chosen.exact)


def _allow(principal: Principal, subject: Subject, what: str) -> None:
    if not principal.may_write(subject.owner_id):
        raise Forbidden(f"This {what} belongs to another owner")


# ---- CSV export ----


async def claims_csv_check(conn: AsyncConnection, *, principal: Principal, offer_id: UUID) -> None:
    """404 or 403 before a CSV export starts streaming."""
    subject = await stats_sql.offer_subject(conn, offer_id=offer_id)
    if subject is None:
        raise NotFound(f"There is no offer {offer_id}")
    _allow(principal, subject, "offer")


def csv_safe(value: str) -> str:
    """A user's string made inert for spreadsheets: one starting with = + - @ (or a tab or a
    carriage return, which some spreadsheets skip first) gets a leading apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def claims_csv(conn: AsyncConnection, *, offer_id: UUID) -> AsyncIterator[bytes]:
    """Every claim of an offer, oldest first: code, claimed_at, redeemed_at, user_id, app,
    share, cell (H3 hex, empty when not kept)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(CSV_HEAD)
    async for page in stats_sql.offer_claims(conn, offer_id=offer_id):
        writer.writerows(
            (
                r.code,
                r.claimed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                r.redeemed_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
                if r.redeemed_at
                else "",
                csv_safe(r.user_id),
                str(r.app_id),
                r.share or "",
                cell_to_hex(r.cell) if r.cell else "",
            )
            for r in page
        )
        yield text.getvalue().encode()
        text.seek(0)
        text.truncate()
    yield text.getvalue().encode()
