"""An import's load, inside the caller's transaction: a file (or records) read and checked in a
worker thread, COPYed into a staging table batch by batch while the next batch is read, then
duplicates settled and every store written with one upsert (app/queries/imports.py). The caller
commits or rolls back: the file lands whole or not at all.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.imports import rows
from app.imports.formats import FIELDS, Record, StoreFile
from app.imports.rows import Batch, Rejection
from app.queries import imports as imports_sql
from app.schemas.imports import ImportFormat
from spatial import CoordSystem

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
    constants: Mapping[str, Any] = field(default_factory=dict)  # set=FIELD=VALUE


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
    await imports_sql.create_staging(conn)
    total = failed = 0
    with StoreFile(source.path, source.format, source.columns, source.constants) as store:
        async with _in_thread(lambda: rows.batches(store, source.coord)) as batches:
            async for batch in batches:
                await imports_sql.stage_rows(conn, rows=batch.rows)
                total, failed = total + batch.records, failed + batch.failed
                progress = Progress(total, failed, batch.bytes_read, source.size_bytes, "reading")
                if on_batch is not None:
                    await on_batch(batch, progress)
        id_field = store.names["external_id"]
    if on_progress is not None:
        await on_progress(Progress(total, failed, source.size_bytes, source.size_bytes, "writing"))
    failed += await imports_sql.settle_duplicates(conn, job_id=job_id, field=id_field)
    written = await imports_sql.upsert_staged(conn, owner_id=owner_id)
    await imports_sql.drop_staging(conn)
    return Loaded(total, failed, written.inserted, written.updated)


async def load_records(
    conn: AsyncConnection, *, owner_id: UUID, records: Sequence[Record], coord: CoordSystem
) -> tuple[Loaded, list[Rejection]]:
    """Import stores already in the contract's fields (the demo data) inside the caller's
    transaction, through the same checks and upsert as a file; with the rejections."""
    await imports_sql.create_staging(conn)
    rejections: list[Rejection] = []
    failed = 0
    names = {name: name for name in FIELDS}
    for start in range(0, len(records), rows.BATCH_ROWS):
        batch = rows.stage(records[start : start + rows.BATCH_ROWS], names, coord)
        await imports_sql.stage_rows(conn, rows=batch.rows)
        rejections += batch.rejections
        failed += batch.failed
    failed += await imports_sql.settle_duplicates(conn, job_id=None, field="external_id")
    written = await imports_sql.upsert_staged(conn, owner_id=owner_id)
    await imports_sql.drop_staging(conn)
    return Loaded(len(records), failed, written.inserted, written.updated), rejections


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
