"""SQL of rate limits: sliding-window counters in the unlogged table `rate_counter`, shared by
every worker process.

A counter keeps the attempts of the current minute (`cur`) and of the one before (`prev`);
the estimate of the last 60 s is `prev * (1 - elapsed fraction of this minute) + cur`. An
attempt counts, and is allowed, only if the estimate plus it stays within the limit: one
upsert, whose ON CONFLICT ... WHERE PostgreSQL evaluates on the newest row version after any
concurrent update, so concurrent requests on any number of processes cannot pass the limit.
Refused attempts are not counted. Several limits are checked in order in one statement, each
counted only when the ones before it counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class Hit:
    """One attempt against a limit: `name` (e.g. "claims"), the subject, and the limit."""

    name: str
    subject: str
    per_minute: int
    of: int = 0  # the whole limit, when this is a shard of it (app/ratelimit.py: app_shard)


@dataclass(frozen=True, slots=True)
class Counted:
    """The outcome for one limit: counted (allowed), else the counter as it stood."""

    counted: bool
    window_no: int | None  # None: no counter yet (or, when counted, not read)
    prev: int
    cur: int


def counting_sql(first: int, n: int, *, gate: str) -> tuple[list[str], list[str]]:
    """The CTEs and result columns that count `n` hits in order, the first only when the SQL
    condition `gate` holds. Parameters from `$first` on: counting_values. The columns are, per
    hit, whether it counted and, when it did not, its counter before the statement as
    [window_no, prev, cur] (for Retry-After; the lookup is left out for hits that counted)."""
    w, f = f"${first}::bigint", f"${first + 1}::float8"
    rolled_prev = f"CASE r.window_no WHEN {w} THEN r.prev WHEN {w} - 1 THEN r.cur ELSE 0 END"
    rolled_cur = f"CASE r.window_no WHEN {w} THEN r.cur ELSE 0 END"
    ctes, columns = [], []
    for i in range(n):
        at = first + 2 + 3 * i
        name, subject, limit = f"${at}::text", f"${at + 1}::text", f"${at + 2}::integer"
        condition = gate if i == 0 else f"EXISTS (SELECT FROM counted{i - 1})"
        ctes.append(
            f"""counted{i} AS (
                INSERT INTO rate_counter AS r (name, subject, window_no, prev, cur)
                SELECT {name}, {subject}, {w}, 0, 1 WHERE {condition}
                ON CONFLICT (name, subject) DO UPDATE
                SET prev = {rolled_prev}, cur = {rolled_cur} + 1, window_no = {w}
                WHERE ({rolled_prev}) * (1 - {f}) + ({rolled_cur}) + 1 <= {limit}
                RETURNING true
            )"""
        )
        columns.append(
            f"""EXISTS (SELECT FROM counted{i}),
                CASE WHEN NOT EXISTS (SELECT FROM counted{i}) THEN (
                    SELECT ARRAY[window_no, prev, cur] FROM rate_counter
                    WHERE name = {name} AND subject = {subject}) END"""
        )
    return ctes, columns


def counting_values(hits: list[Hit], *, window_no: int, fraction: float) -> list[Any]:
    if not hits:
        return []
    values: list[Any] = [window_no, fraction]
    for hit in hits:
        values += [hit.name, hit.subject, hit.per_minute]
    return values


def counted(row: asyncpg.Record, first: int, n: int) -> list[Counted]:
    """The `n` outcomes of counting_sql's columns, which start at column `first` of `row`."""
    out = []
    for i in range(n):
        state = row[first + 2 * i + 1]
        if state is None:
            out.append(Counted(row[first + 2 * i], None, 0, 0))
        else:
            out.append(Counted(row[first + 2 * i], state[0], state[1], state[2]))
    return out


async def count(
    conn: asyncpg.Connection, *, hits: list[Hit], window_no: int, fraction: float
) -> list[Counted]:
    """Count one attempt against each of `hits`, in order, in one statement."""
    row = await conn.fetchrow(
        _count_statement(len(hits)),
        *counting_values(hits, window_no=window_no, fraction=fraction),
    )
    assert row is not None
    return counted(row, 0, len(hits))


async def purge(conn: asyncpg.Connection, *, before_window: int, batch: int) -> int:
    """Delete up to `batch` counters last written before `before_window` (they count nothing)."""
    done = await conn.execute(
        """DELETE FROM rate_counter WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM rate_counter WHERE window_no < $1
               LIMIT $2 FOR UPDATE SKIP LOCKED))""",
        before_window,
        batch,
    )
    return int(done.split()[-1])


@cache
def _count_statement(n: int) -> str:
    ctes, columns = counting_sql(1, n, gate="true")
    return f"WITH {', '.join(ctes)} SELECT {', '.join(columns)}"
