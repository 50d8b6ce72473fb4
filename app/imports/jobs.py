"""Batch import of store lists: the job lifecycle (upload, background run, status, errors).

A job runs its load (app/imports/load.py) in one transaction: the file lands whole or not at
all, so no store is ever seen half old and half new. Rejected rows are stored as they are
found, on a connection of their own, so a running job shows them and errors.csv lists them all.

Jobs run in the process that accepted them (`ImportRunner`, one per app on app.state, and one
per `nearby import`). That process holds an advisory lock while it has jobs; a queued or running
job whose process is gone is marked failed at the next start of the service and whenever
someone looks at it. A job that ends, either way, writes the event import.finished in the
transaction that records its end.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection

from app import events
from app.auth import Principal
from app.errors import ContentTooLarge, Forbidden, NotFound, database_unreachable, one_line
from app.imports.formats import FileRejected
from app.imports.load import ImportFile, OnProgress, Progress, load
from app.imports.rows import Batch
from app.queries import imports as imports_sql
from app.queries.imports import ImportJobRow

log = logging.getLogger("nearby.imports")

ERRORS_SHOWN = 100  # rejected rows in a job's JSON; errors.csv has them all
ORPHANED = "interrupted: the process running the import stopped before it finished"
STOPPED = "interrupted: the service shut down before the import finished"
UNEXPECTED = "the import failed unexpectedly; the error has been logged"
_PROGRESS_EVERY_S = 0.5
# A job the database dropped is marked failed once it is back: tried this often, this long.
_FAIL_RETRY_EVERY_S = 0.25
_FAIL_RETRY_FOR_S = 300
_WRITE_BYTES = 1024 * 1024


async def job(conn: AsyncConnection, *, principal: Principal, job_id: UUID) -> ImportJobRow:
    """A job its owner or the admin may see; one whose process is gone is marked failed."""
    row = await imports_sql.job_by_id(conn, job_id=job_id)
    if row is None:
        raise NotFound(f"There is no import {job_id}")
    if not principal.may_write(row.owner_id):
        raise Forbidden("This import belongs to another owner")
    if row.status in ("queued", "running") and (
        failed := await imports_sql.fail_orphaned_jobs(conn, reason=ORPHANED, job_id=job_id)
    ):
        await finished(conn, *failed)
        row = failed[0]
    return row


async def save_upload(chunks: AsyncIterator[bytes], *, limit_bytes: int, suffix: str) -> Path:
    """Stream an upload into a temporary file; ContentTooLarge (and no file) past the limit."""
    handle, name = tempfile.mkstemp(prefix="nearby-import-", suffix=f".{suffix}")
    path, size = Path(name), 0
    try:
        with os.fdopen(handle, "wb") as out:
            pending: list[bytes] = []
            pending_bytes = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > limit_bytes:
                    raise too_large(limit_bytes)
                pending.append(chunk)
                pending_bytes += len(chunk)
                if pending_bytes >= _WRITE_BYTES:
                    await asyncio.to_thread(out.write, b"".join(pending))
                    pending, pending_bytes = [], 0
            await asyncio.to_thread(out.write, b"".join(pending))
    except BaseException:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    return path


async def finished(conn: AsyncConnection, *jobs: ImportJobRow) -> None:
    """Write import.finished for jobs that just ended (done or failed), in their transaction."""
    await events.emit(
        conn,
        *(
            events.new(
                "import.finished",
                owner_id=job.owner_id,
                at=job.finished_at or job.created_at,
                data={
                    "import_id": str(job.id),
                    "status": job.status,
                    "rows_total": job.rows_total,
                    "rows_ok": job.rows_ok,
                    "rows_failed": job.rows_failed,
                    "rows_inserted": job.rows_inserted,
                    "rows_updated": job.rows_updated,
                    "rows_unchanged": job.rows_unchanged,
                    "reason": job.reason,
                },
            )
            for job in jobs
        ),
    )


def too_large(limit_bytes: int) -> ContentTooLarge:
    return ContentTooLarge(f"An import may be at most {limit_bytes:,} bytes")


async def status(
    conn: AsyncConnection, *, principal: Principal, job_id: UUID
) -> tuple[ImportJobRow, list[tuple[int, str, str]], bool]:
    """A job, its first rejected rows (file order) and whether there are more of them."""
    row = await job(conn, principal=principal, job_id=job_id)
    first = await imports_sql.first_rejections(conn, job_id=job_id, limit=ERRORS_SHOWN + 1)
    return row, first[:ERRORS_SHOWN], len(first) > ERRORS_SHOWN


async def rejections_csv(conn: AsyncConnection, *, job_id: UUID) -> AsyncIterator[bytes]:
    """errors.csv: every rejected row of a job as `row,field,msg`, in file order."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("row", "field", "msg"))
    async for page in imports_sql.all_rejections(conn, job_id=job_id):
        writer.writerows(page)
        yield text.getvalue().encode()
        text.seek(0)
        text.truncate()
    yield text.getvalue().encode()


class ImportRunner:
    """Runs import jobs in this process, at most `parallel` at a time; the rest wait queued."""

    def __init__(self, engine: AsyncEngine, *, parallel: int = 2) -> None:
        self.engine = engine
        self.id = uuid.uuid4()
        self.tasks: dict[UUID, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(parallel)
        self._holders = 0
        self._held: PoolProxiedConnection | None = None  # while _holders > 0
        self._hold_lock = asyncio.Lock()

    async def sweep(self) -> list[UUID]:
        """Fail the jobs left queued or running by processes that are gone (at start-up)."""
        async with self.engine.begin() as conn:
            failed = await imports_sql.fail_orphaned_jobs(conn, reason=ORPHANED)
            await finished(conn, *failed)
        if failed:
            log.warning("marked %d interrupted import job(s) as failed", len(failed))
        return [row.id for row in failed]

    async def submit(self, *, owner_id: UUID, source: ImportFile) -> ImportJobRow:
        """Record a queued job and start it in the background."""
        try:
            row = await self._record(owner_id, source)
        except BaseException:
            _discard(source)
            raise
        task = asyncio.create_task(self._run_held(row.id, owner_id, source))
        self.tasks[row.id] = task
        task.add_done_callback(lambda _: self.tasks.pop(row.id, None))
        return row

    async def run(
        self, *, owner_id: UUID, source: ImportFile, on_progress: OnProgress | None = None
    ) -> ImportJobRow:
        """Record a job and run it to the end here (the CLI); the finished job."""
        row = await self._record(owner_id, source)
        await self._run_held(row.id, owner_id, source, on_progress)
        async with self.engine.connect() as conn:
            done = await imports_sql.job_by_id(conn, job_id=row.id)
        assert done is not None
        return done

    async def close(self) -> None:
        """Stop every job of this process; each is marked failed and stores nothing."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task

    async def _record(self, owner_id: UUID, source: ImportFile) -> ImportJobRow:
        """Take a runner slot and record the job as queued; the slot is given back if that fails."""
        await self._hold()
        try:
            async with self.engine.begin() as conn:
                return await _insert_job(conn, owner_id, source, self.id)
        except BaseException:
            await self._release()
            raise

    async def _run_held(
        self,
        job_id: UUID,
        owner_id: UUID,
        source: ImportFile,
        on_progress: OnProgress | None = None,
    ) -> None:
        try:
            async with self._slots:
                await self._execute(job_id, owner_id, source, on_progress)
        except asyncio.CancelledError:  # stopped while still queued (a running one is failed)
            await asyncio.shield(self._fail(job_id, STOPPED, only_queued=True))
            raise
        finally:
            _discard(source)
            await self._release()

    async def _execute(
        self, job_id: UUID, owner_id: UUID, source: ImportFile, on_progress: OnProgress | None
    ) -> None:
        try:
            async with self.engine.begin() as conn:
                await imports_sql.mark_running(conn, job_id=job_id)
            reporter = _Reporter(self.engine, job_id, on_progress)
            async with self.engine.begin() as conn:
                loaded = await load(
                    conn,
                    owner_id=owner_id,
                    source=source,
                    job_id=job_id,
                    on_batch=reporter.batch,
                    on_progress=on_progress,
                )
                done = await imports_sql.finish_job(
                    conn,
                    job_id=job_id,
                    rows_total=loaded.rows_total,
                    rows_failed=loaded.rows_failed,
                    inserted=loaded.inserted,
                    updated=loaded.updated,
                )
                await finished(conn, done)
        except FileRejected as exc:
            await self._fail(job_id, exc.reason)
        except asyncio.CancelledError:
            await asyncio.shield(self._fail(job_id, STOPPED))
            raise
        except Exception as exc:
            if not database_unreachable(exc):
                log.exception("import %s failed", job_id)
                await self._fail(job_id, UNEXPECTED)
                return
            reason = f"the database connection was lost: {one_line(exc)}"
            log.warning("import %s failed: %s", job_id, reason)
            await self._fail(job_id, reason, wait_for_database=True)

    async def _fail(
        self,
        job_id: UUID,
        reason: str,
        *,
        only_queued: bool = False,
        wait_for_database: bool = False,
    ) -> None:
        """Mark the job failed; with `wait_for_database`, keep trying while the database is
        unreachable (for _FAIL_RETRY_FOR_S). The reason replaces the one a look-up may have
        given meanwhile (ORPHANED: this runner's advisory lock went with the database)."""
        give_up_at = time.monotonic() + _FAIL_RETRY_FOR_S
        while True:
            try:
                async with self.engine.begin() as conn:
                    failed, just_now = await imports_sql.fail_job(
                        conn,
                        job_id=job_id,
                        reason=reason,
                        only_queued=only_queued,
                        replacing=None if only_queued else ORPHANED,
                    )
                    if failed is not None and just_now:  # a replaced guess already said so
                        await finished(conn, failed)
                return
            except Exception as exc:
                if not database_unreachable(exc):
                    log.exception("could not mark import %s as failed", job_id)
                    return
                if not wait_for_database or time.monotonic() > give_up_at:
                    # The next look-up or start-up will (as interrupted).
                    log.warning("could not mark import %s as failed: %s", job_id, one_line(exc))
                    return
            await asyncio.sleep(_FAIL_RETRY_EVERY_S)

    async def _hold(self) -> None:
        async with self._hold_lock:
            if self._holders == 0:
                self._held = await imports_sql.hold_runner(self.engine, runner=self.id)
            self._holders += 1

    async def _release(self) -> None:
        async with self._hold_lock:
            self._holders -= 1
            if self._holders == 0:
                held, self._held = self._held, None
                assert held is not None
                try:
                    await asyncio.shield(imports_sql.release_runner(held, runner=self.id))
                except Exception as exc:
                    if not database_unreachable(exc):
                        raise
                    # The lock's session ended with its connection: nothing left to release.


class _Reporter:
    """Stores a job's rejected rows as they come and its counts every half second."""

    def __init__(self, engine: AsyncEngine, job_id: UUID, on_progress: OnProgress | None):
        self.engine, self.job_id, self.on_progress = engine, job_id, on_progress
        self.last = 0.0

    async def batch(self, batch: Batch, progress: Progress) -> None:
        now = time.monotonic()
        if not batch.rejections and now - self.last < _PROGRESS_EVERY_S:
            if self.on_progress is not None:
                await self.on_progress(progress)
            return
        self.last = now
        async with self.engine.begin() as conn:
            await imports_sql.insert_rejections(
                conn, job_id=self.job_id, rejections=batch.rejections
            )
            await imports_sql.record_progress(
                conn, job_id=self.job_id, rows_total=progress.rows, rows_failed=progress.failed
            )
        if self.on_progress is not None:
            await self.on_progress(progress)


async def _insert_job(
    conn: AsyncConnection, owner_id: UUID, source: ImportFile, runner: UUID
) -> ImportJobRow:
    return await imports_sql.insert_job(
        conn,
        owner_id=owner_id,
        format=source.format.value,
        coord=source.coord.value,
        filename=source.filename,
        size_bytes=source.size_bytes,
        runner=runner,
    )


def _discard(source: ImportFile) -> None:
    if source.delete_after:
        source.path.unlink(missing_ok=True)
