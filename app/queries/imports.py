"""SQL of batch imports: jobs, their rejected rows, and the staged load into `merchant`.

A load COPYs checked rows into a temporary staging table on the asyncpg connection under the
caller's SQLAlchemy connection (same transaction), then settles duplicates and writes every
store with one INSERT .. ON CONFLICT on (owner_id, external_id). The caller's transaction makes
the whole file land at once or not at all.

Liveness of jobs: the process running a job holds a session advisory lock on its runner id
(`hold_runner`) while it has jobs queued or running; a queued or running job whose runner holds
no such lock belongs to a process that is gone (`fail_orphaned_jobs`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import ColumnElement, and_, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection

from app.db import discarded_on_error, driver_of, give_back
from app.tables import import_error, import_job

# The first key of the advisory locks of import runners (the second is a hash of the runner).
_RUNNER_LOCK_SPACE = 7_340_001
# Serialises the final upserts of one owner's imports, which could otherwise deadlock.
_OWNER_LOCK_SPACE = 7_340_002


@dataclass(slots=True)
class ImportJobRow:
    id: UUID
    owner_id: UUID
    status: str
    format: str
    coord: str
    filename: str | None
    size_bytes: int
    runner: UUID
    rows_total: int
    rows_ok: int
    rows_failed: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class Upserted:
    inserted: int
    updated: int


# ------------------------------------------------------------------------------------- jobs


async def insert_job(
    conn: AsyncConnection,
    *,
    owner_id: UUID,
    format: str,
    coord: str,
    filename: str | None,
    size_bytes: int,
    runner: UUID,
) -> ImportJobRow:
    stmt = (
        insert(import_job)
        .values(
            owner_id=owner_id,
            format=format,
            coord=coord,
            filename=filename,
            size_bytes=size_bytes,
            runner=runner,
        )
        .returning(*import_job.c)
    )
    return ImportJobRow(**(await conn.execute(stmt)).one()._mapping)


async def job_by_id(conn: AsyncConnection, *, job_id: UUID) -> ImportJobRow | None:
    row = (await conn.execute(select(import_job).where(import_job.c.id == job_id))).one_or_none()
    return ImportJobRow(**row._mapping) if row else None


async def mark_running(conn: AsyncConnection, *, job_id: UUID) -> None:
    await conn.execute(
        update(import_job)
        .where(import_job.c.id == job_id)
        .values(status="running", started_at=text("clock_timestamp()"))
    )


async def record_progress(
    conn: AsyncConnection, *, job_id: UUID, rows_total: int, rows_failed: int
) -> None:
    await conn.execute(
        update(import_job)
        .where(import_job.c.id == job_id, import_job.c.status == "running")
        .values(rows_total=rows_total, rows_failed=rows_failed)
    )


async def finish_job(
    conn: AsyncConnection,
    *,
    job_id: UUID,
    rows_total: int,
    rows_failed: int,
    inserted: int,
    updated: int,
) -> ImportJobRow:
    """Done: rows_ok are the records now stored, of which the rest were already as given."""
    rows_ok = rows_total - rows_failed
    done = await conn.execute(
        update(import_job)
        .where(import_job.c.id == job_id)
        .values(
            status="done",
            rows_total=rows_total,
            rows_failed=rows_failed,
            rows_ok=rows_ok,
            rows_inserted=inserted,
            rows_updated=updated,
            rows_unchanged=rows_ok - inserted - updated,
            finished_at=text("clock_timestamp()"),
        )
        .returning(*import_job.c)
    )
    return ImportJobRow(**done.one()._mapping)


async def fail_job(
    conn: AsyncConnection,
    *,
    job_id: UUID,
    reason: str,
    only_queued: bool = False,
    replacing: str | None = None,
) -> tuple[ImportJobRow | None, bool]:
    """Failed: nothing of the file was stored, so no row counts as ok. A job already failed with
    the reason `replacing` (a look-up's guess) takes this reason instead. The job, if it is
    failed now, and whether it failed just now (False: only its reason was replaced; it had
    already ended, and said so)."""
    statuses = ("queued",) if only_queued else ("queued", "running")
    row = await _fail_where(conn, job_id, reason, import_job.c.status.in_(statuses))
    if row is not None or replacing is None:
        return row, row is not None
    guessed = and_(import_job.c.status == "failed", import_job.c.reason == replacing)
    return await _fail_where(conn, job_id, reason, guessed), False


async def _fail_where(
    conn: AsyncConnection, job_id: UUID, reason: str, condition: ColumnElement[bool]
) -> ImportJobRow | None:
    failed = await conn.execute(
        update(import_job)
        .where(import_job.c.id == job_id, condition)
        .values(
            status="failed",
            reason=reason,
            rows_ok=0,
            rows_inserted=0,
            rows_updated=0,
            rows_unchanged=0,
            finished_at=text("clock_timestamp()"),
        )
        .returning(*import_job.c)
    )
    row = failed.one_or_none()
    return ImportJobRow(**row._mapping) if row else None


async def fail_orphaned_jobs(
    conn: AsyncConnection, *, reason: str, job_id: UUID | None = None
) -> list[ImportJobRow]:
    """Mark failed the queued or running jobs (all, or the one given) whose runner is gone."""
    if not await conn.scalar(text("SELECT to_regclass('import_job') IS NOT NULL")):
        return []  # a database from before imports existed
    only_one = "AND j.id = :job_id" if job_id is not None else ""
    stmt = text(
        f"""
        UPDATE import_job j
        SET status = 'failed', reason = :reason, rows_ok = 0, rows_inserted = 0,
            rows_updated = 0, rows_unchanged = 0, finished_at = clock_timestamp()
        WHERE j.status IN ('queued', 'running') {only_one}
          AND NOT EXISTS (
            SELECT 1 FROM pg_locks l
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid = CAST(:space AS integer)::oid
              AND l.objid = hashtext(j.runner::text)::oid)
        RETURNING j.*
        """
    )
    params: dict[str, Any] = {"reason": reason, "space": _RUNNER_LOCK_SPACE}
    if job_id is not None:
        params["job_id"] = job_id
    return [ImportJobRow(**row._mapping) for row in await conn.execute(stmt, params)]


async def hold_runner(engine: AsyncEngine, *, runner: UUID) -> PoolProxiedConnection:
    """A pooled connection holding the runner's advisory lock; give it to `release_runner`."""
    pooled = await engine.raw_connection()
    async with discarded_on_error(pooled) as driver:
        await driver.execute(
            "SELECT pg_advisory_lock($1, hashtext($2))", _RUNNER_LOCK_SPACE, str(runner)
        )
    return pooled


async def release_runner(pooled: PoolProxiedConnection, *, runner: UUID) -> None:
    async with discarded_on_error(pooled) as driver:  # its session (and lock) ends with it
        await driver.execute(
            "SELECT pg_advisory_unlock($1, hashtext($2))", _RUNNER_LOCK_SPACE, str(runner)
        )
    await give_back(pooled)


# -------------------------------------------------------------------------------- rejections


async def insert_rejections(
    conn: AsyncConnection, *, job_id: UUID, rejections: Sequence[tuple[int, str, str]]
) -> None:
    """Store rejected rows (row, field, message) of a job."""
    if not rejections:
        return
    await conn.execute(text("SELECT 1"))  # make sure the transaction has begun on the driver
    driver = await driver_of(conn)
    await driver.copy_records_to_table(
        "import_error",
        records=[(job_id, row, field, msg) for row, field, msg in rejections],
        columns=("job_id", "row_num", "field", "msg"),
    )


async def first_rejections(
    conn: AsyncConnection, *, job_id: UUID, limit: int
) -> list[tuple[int, str, str]]:
    stmt = (
        select(import_error.c.row_num, import_error.c.field, import_error.c.msg)
        .where(import_error.c.job_id == job_id)
        .order_by(import_error.c.row_num, import_error.c.field)
        .limit(limit)
    )
    return [(r.row_num, r.field, r.msg) for r in await conn.execute(stmt)]


async def all_rejections(
    conn: AsyncConnection, *, job_id: UUID, page: int = 5000
) -> AsyncIterator[list[tuple[int, str, str]]]:
    """Every rejected row of a job in file order, a page at a time (a server-side cursor)."""
    stmt = (
        select(import_error.c.row_num, import_error.c.field, import_error.c.msg)
        .where(import_error.c.job_id == job_id)
        .order_by(import_error.c.row_num, import_error.c.field)
    )
    result = await conn.stream(stmt)
    async for rows in result.partitions(page):
        yield [(r.row_num, r.field, r.msg) for r in rows]


# ---------------------------------------------------------------------------------- staging


class StagedRow(NamedTuple):
    """One checked store as the staging table holds it (and COPY sends it: a tuple)."""

    row_num: int  # in the file
    external_id: str
    name: str
    category: str
    tags: list[str]
    address: str | None
    phone: str | None
    lat: float  # WGS-84
    lng: float
    h3: int
    timezone: str
    opening_hours: str | None
    open_minutes: str | None  # an int4multirange's text form
    attributes: str | None  # JSON text; None keeps the attributes already stored


_STAGING_TYPES = {
    "row_num": "bigint NOT NULL",
    "external_id": "text NOT NULL",
    "name": "text NOT NULL",
    "category": "text NOT NULL",
    "tags": "text[] NOT NULL",
    "address": "text",
    "phone": "text",
    "lat": "float8 NOT NULL",
    "lng": "float8 NOT NULL",
    "h3": "bigint NOT NULL",
    "timezone": "text NOT NULL",
    "opening_hours": "text",
    "open_minutes": "text",
    "attributes": "jsonb",
}
assert tuple(_STAGING_TYPES) == StagedRow._fields, "the staging table has StagedRow's columns"
_STAGING_TABLE = ", ".join(f"{name} {type_}" for name, type_ in _STAGING_TYPES.items())


async def create_staging(conn: AsyncConnection) -> None:
    # One load per transaction at a time; an earlier one in the same transaction that stopped
    # at a rejected file leaves its table behind.
    await conn.execute(text("DROP TABLE IF EXISTS import_staging"))
    await conn.execute(text(f"CREATE TEMP TABLE import_staging ({_STAGING_TABLE}) ON COMMIT DROP"))


async def stage_rows(conn: AsyncConnection, *, rows: Sequence[StagedRow]) -> None:
    """COPY checked rows into the staging table (binary, through asyncpg)."""
    if rows:
        driver = await driver_of(conn)
        await driver.copy_records_to_table(
            "import_staging", records=rows, columns=StagedRow._fields
        )


async def settle_duplicates(conn: AsyncConnection, *, job_id: UUID | None, field: str) -> int:
    """Drop the staged rows that a later row of the same external_id replaces; with a job,
    record each as rejected. Returns how many were dropped."""
    await conn.execute(text("SET LOCAL work_mem = '64MB'"))
    await conn.execute(
        text(
            """
            CREATE TEMP TABLE import_last ON COMMIT DROP AS
            SELECT external_id, max(row_num) AS last_row FROM import_staging
            GROUP BY external_id HAVING count(*) > 1
            """
        )
    )
    if job_id is not None:
        await conn.execute(
            text(
                """
                INSERT INTO import_error (job_id, row_num, field, msg)
                SELECT :job_id, s.row_num, :field,
                       'duplicate external_id: row ' || d.last_row
                       || ' of the file replaces this row'
                FROM import_staging s JOIN import_last d USING (external_id)
                WHERE s.row_num < d.last_row
                """
            ),
            {"job_id": job_id, "field": field},
        )
    dropped = await conn.execute(
        text(
            """
            DELETE FROM import_staging s USING import_last d
            WHERE s.external_id = d.external_id AND s.row_num < d.last_row
            """
        )
    )
    await conn.execute(text("DROP TABLE import_last"))
    return int(dropped.rowcount)


async def upsert_staged(conn: AsyncConnection, *, owner_id: UUID) -> Upserted:
    """Write every staged store in one statement. A store already stored exactly as staged is
    left alone (updated_at stays), so importing the same file again changes nothing. A staged
    row without attributes keeps the stored ones."""
    await conn.execute(
        text("SELECT pg_advisory_xact_lock(:space, hashtext(:owner))"),
        {"space": _OWNER_LOCK_SPACE, "owner": str(owner_id)},
    )
    row = (
        await conn.execute(
            text(
                """
                WITH written AS (
                    INSERT INTO merchant AS m (
                        owner_id, external_id, name, category, tags, address, phone, location,
                        h3, timezone, opening_hours, open_minutes, attributes)
                    SELECT CAST(:owner_id AS uuid), s.external_id, s.name, s.category, s.tags,
                           s.address, s.phone,
                           ST_SetSRID(ST_MakePoint(s.lng, s.lat), 4326)::geography, s.h3,
                           s.timezone, s.opening_hours, s.open_minutes::int4multirange,
                           coalesce(s.attributes, old.attributes, '{}'::jsonb)
                    FROM import_staging s
                    LEFT JOIN merchant old
                      ON old.owner_id = CAST(:owner_id AS uuid)
                     AND old.external_id = s.external_id
                     AND s.attributes IS NULL
                    ON CONFLICT (owner_id, external_id) DO UPDATE SET
                        name = excluded.name, category = excluded.category,
                        tags = excluded.tags, address = excluded.address,
                        phone = excluded.phone, location = excluded.location,
                        h3 = excluded.h3, timezone = excluded.timezone,
                        opening_hours = excluded.opening_hours,
                        open_minutes = excluded.open_minutes,
                        attributes = excluded.attributes, updated_at = now()
                    WHERE (m.name, m.category, m.tags, m.address, m.phone, m.location,
                           m.timezone, m.opening_hours, m.open_minutes, m.attributes)
                          IS DISTINCT FROM
                          (excluded.name, excluded.category, excluded.tags, excluded.address,
                           excluded.phone, excluded.location, excluded.timezone,
                           excluded.opening_hours, excluded.open_minutes, excluded.attributes)
                    RETURNING (m.xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted) AS inserted,
                       count(*) FILTER (WHERE NOT inserted) AS updated
                FROM written
                """
            ),
            {"owner_id": owner_id},
        )
    ).one()
    return Upserted(inserted=int(row.inserted), updated=int(row.updated))


async def drop_staging(conn: AsyncConnection) -> None:
    await conn.execute(text("DROP TABLE import_staging"))
