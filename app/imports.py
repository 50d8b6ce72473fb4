"""Batch import of store lists: the job lifecycle and the load itself.

A job reads its file in a worker thread (app/import_formats.py, app/import_rows.py), COPYs the
checked rows into a staging table and writes them with one upsert (app/queries/imports.py),
all in one transaction: the file lands whole or not at all, so no store is ever seen half old
and half new. Rejected rows are stored as they are found, on a connection of their own, so a
running job shows them and errors.csv lists them all.

Jobs run in the process that accepted them (`ImportRunner`, one per app on app.state, and one
per `nearby import`). That process holds an advisory lock while it has jobs; a queued or running
job whose process is gone is marked failed at the next start of the service and whenever
someone looks at it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import import_rows, queries
from app.auth import Principal
from app.errors import ContentTooLarge, Forbidden, NotFound
from app.import_formats import FIELDS, FileRejected, Record, StoreFile
from app.import_rows import Batch, Rejection
from app.queries import ImportJobRow
from app.schemas import ImportFormat
from spatial import CoordSystem

log = logging.getLogger("nearby.imports")

ERRORS_SHOWN = 100  # rejected rows in a job's JSON; errors.csv has them all
ORPHANED = "interrupted: the process running the import stopped before it finished"
STOPPED = "interrupted: the service shut down before the import finished"
_PROGRESS_EVERY_S = 0.5
_WRITE_BYTES = 1024 * 1024
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Progress:
    rows: int
    failed: int
    bytes_read: int
    size_bytes: int
    phase: str  # "reading" the file, then "writing" the stores


@dataclass(frozen=True, slots=True)
class Loaded:
    rows_total: int
    rows_failed: int
    inserted: int
    updated: int


@dataclass(frozen=True, slots=True)
class ImportFile:
    path: Path
    format: ImportFormat
    coord: CoordSystem
    columns: Mapping[str, str]
    filename: str | None
    size_bytes: int
    delete_after: bool  # an upload's temporary file; never the CLI's own file


OnProgress = Callable[[Progress], Awaitable[None]]


async def load(
    conn: AsyncConnection,
    *,
    owner_id: UUID,
    source: ImportFile,
    job_id: UUID | None = None,
    on_batch: Callable[[Batch, Progress], Awaitable[None]] | None = None,
    on_progress: OnProgress | None = None,
) -> Loaded:
    """Import a file for an owner inside the caller's transaction. FileRejected if the file is
    not a store list of its format (the caller rolls back)."""
    await queries.create_staging(conn)
    total = failed = 0
    with StoreFile(source.path, source.format, source.columns) as store:
        async with _in_thread(lambda: import_rows.batches(store, source.coord)) as batches:
            async for batch in batches:
                await queries.stage_rows(conn, rows=batch.rows, columns=import_rows.STAGED_COLUMNS)
                total, failed = total + batch.records, failed + batch.failed
                progress = Progress(total, failed, batch.bytes_read, source.size_bytes, "reading")
                if on_batch is not None:
                    await on_batch(batch, progress)
        id_field = store.names["external_id"]
    if on_progress is not None:
        await on_progress(Progress(total, failed, source.size_bytes, source.size_bytes, "writing"))
    failed += await queries.settle_duplicates(conn, job_id=job_id, field=id_field)
    written = await queries.upsert_staged(conn, owner_id=owner_id)
    await queries.drop_staging(conn)
    return Loaded(total, failed, written.inserted, written.updated)


async def load_records(
    conn: AsyncConnection, *, owner_id: UUID, records: Sequence[Record], coord: CoordSystem
) -> tuple[Loaded, list[Rejection]]:
    """Import stores already in the contract's fields (the demo data) inside the caller's
    transaction, through the same checks and upsert as a file; with the rejections."""
    await queries.create_staging(conn)
    rejections: list[Rejection] = []
    failed = 0
    names = {field: field for field in FIELDS}
    for start in range(0, len(records), import_rows.BATCH_ROWS):
        batch = import_rows.stage(records[start : start + import_rows.BATCH_ROWS], names, coord)
        await queries.stage_rows(conn, rows=batch.rows, columns=import_rows.STAGED_COLUMNS)
        rejections += batch.rejections
        failed += batch.failed
    failed += await queries.settle_duplicates(conn, job_id=None, field="external_id")
    written = await queries.upsert_staged(conn, owner_id=owner_id)
    await queries.drop_staging(conn)
    return Loaded(len(records), failed, written.inserted, written.updated), rejections


async def job(conn: AsyncConnection, *, principal: Principal, job_id: UUID) -> ImportJobRow:
    """A job its owner or the admin may see; one whose process is gone is marked failed."""
    row = await queries.job_by_id(conn, job_id=job_id)
    if row is None:
        raise NotFound(f"There is no import {job_id}")
    if not principal.may_write(row.owner_id):
        raise Forbidden("This import belongs to another owner")
    if row.status in ("queued", "running") and await queries.fail_orphaned_jobs(
        conn, reason=ORPHANED, job_id=job_id
    ):
        row = await queries.job_by_id(conn, job_id=job_id)
        assert row is not None
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


def too_large(limit_bytes: int) -> ContentTooLarge:
    return ContentTooLarge(f"An import may be at most {limit_bytes:,} bytes")


async def status(
    conn: AsyncConnection, *, principal: Principal, job_id: UUID
) -> tuple[ImportJobRow, list[tuple[int, str, str]], bool]:
    """A job, its first rejected rows (file order) and whether there are more of them."""
    row = await job(conn, principal=principal, job_id=job_id)
    first = await queries.first_rejections(conn, job_id=job_id, limit=ERRORS_SHOWN + 1)
    return row, first[:ERRORS_SHOWN], len(first) > ERRORS_SHOWN


async def rejections_csv(conn: AsyncConnection, *, job_id: UUID) -> AsyncIterator[bytes]:
    """errors.csv: every rejected row of a job as `row,field,msg`, in file order."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("row", "field", "msg"))
    async for page in queries.all_rejections(conn, job_id=job_id):
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
        self._held: Any = None
        self._hold_lock = asyncio.Lock()

    async def sweep(self) -> list[UUID]:
        """Fail the jobs left queued or running by processes that are gone (at start-up)."""
        async with self.engine.begin() as conn:
            failed = await queries.fail_orphaned_jobs(conn, reason=ORPHANED)
        if failed:
            log.warning("marked %d interrupted import job(s) as failed", len(failed))
        return failed

    async def submit(self, *, owner_id: UUID, source: ImportFile) -> ImportJobRow:
        """Record a queued job and start it in the background."""
        await self._hold()
        try:
            async with self.engine.begin() as conn:
                row = await _insert_job(conn, owner_id, source, self.id)
        except BaseException:
            await self._release()
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
        await self._hold()
        try:
            async with self.engine.begin() as conn:
                row = await _insert_job(conn, owner_id, source, self.id)
        except BaseException:
            await self._release()
            raise
        await self._run_held(row.id, owner_id, source, on_progress)
        async with self.engine.connect() as conn:
            done = await queries.job_by_id(conn, job_id=row.id)
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
        async with self.engine.begin() as conn:
            await queries.mark_running(conn, job_id=job_id)
        reporter = _Reporter(self.engine, job_id, on_progress)
        try:
            async with self.engine.begin() as conn:
                loaded = await load(
                    conn,
                    owner_id=owner_id,
                    source=source,
                    job_id=job_id,
                    on_batch=reporter.batch,
                    on_progress=on_progress,
                )
                await queries.finish_job(
                    conn,
                    job_id=job_id,
                    rows_total=loaded.rows_total,
                    rows_failed=loaded.rows_failed,
                    inserted=loaded.inserted,
                    updated=loaded.updated,
                )
        except FileRejected as exc:
            await self._fail(job_id, exc.reason)
        except asyncio.CancelledError:
            await asyncio.shield(self._fail(job_id, STOPPED))
            raise
        except Exception:
            log.exception("import %s failed", job_id)
            await self._fail(job_id, "the import failed unexpectedly; the error has been logged")

    async def _fail(self, job_id: UUID, reason: str, *, only_queued: bool = False) -> None:
        try:
            async with self.engine.begin() as conn:
                await queries.fail_job(conn, job_id=job_id, reason=reason, only_queued=only_queued)
        except (OSError, SQLAlchemyError):  # the database is gone too: the next sweep will do
            log.exception("could not mark import %s as failed", job_id)

    async def _hold(self) -> None:
        async with self._hold_lock:
            if self._holders == 0:
                self._held = await queries.hold_runner(self.engine, runner=self.id)
            self._holders += 1

    async def _release(self) -> None:
        async with self._hold_lock:
            self._holders -= 1
            if self._holders == 0:
                held, self._held = self._held, None
                await asyncio.shield(queries.release_runner(held, runner=self.id))


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
            await queries.insert_rejections(conn, job_id=self.job_id, rejections=batch.rejections)
            await queries.record_progress(
                conn, job_id=self.job_id, rows_total=progress.rows, rows_failed=progress.failed
            )
        if self.on_progress is not None:
            await self.on_progress(progress)


async def _insert_job(
    conn: AsyncConnection, owner_id: UUID, source: ImportFile, runner: UUID
) -> ImportJobRow:
    return await queries.insert_job(
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


@asynccontextmanager
async def _in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[AsyncIterator[T]]:
    """The items of a blocking iterator, made in a worker thread at most two ahead of the
    consumer. On leaving, the thread is stopped and awaited (the file it reads may then close).
    An exception of the iterator is raised to the consumer."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Any, error: BaseException | None = None) -> None:
        asyncio.run_coroutine_threadsafe(queue.put((item, error)), loop).result()

    def produce() -> None:
        try:
            for item in make():
                if stop.is_set():
                    return
                put(item)
            put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            if not stop.is_set():
                put(None, exc)

    async def items() -> AsyncIterator[T]:
        while True:
            item, error = await queue.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item

    worker = loop.run_in_executor(None, produce)
    try:
        yield items()
    finally:
        stop.set()
        while not worker.done():
            with suppress(asyncio.QueueEmpty):
                queue.get_nowait()  # unblocks a hand-over in progress
            await asyncio.wait([worker], timeout=0.05)


_END = object()
