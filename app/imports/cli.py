"""`nearby import FILE --owner ...`: the import job of the API, run in the foreground with a
progress bar (rows/s, ETA) on stderr and a summary table on stdout.

Exit status: 0 when every row landed, 1 when rows were rejected (the rest landed), 2 when the
import failed as a whole (nothing landed) or could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from pathlib import Path
from uuid import UUID

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import make_engine
from app.imports import jobs, load
from app.imports.formats import read_mapping
from app.imports.load import ImportFile
from app.queries import imports as imports_sql
from app.queries import owners as owners_sql
from app.queries.imports import ImportJobRow
from app.schemas.imports import ImportFormat
from app.settings import Settings
from spatial import CoordSystem

ERRORS_PRINTED = 20
_SUFFIXES = {
    ".csv": ImportFormat.CSV,
    ".geojson": ImportFormat.GEOJSON,
    ".json": ImportFormat.GEOJSON,
    ".ndjson": ImportFormat.NDJSON,
    ".jsonl": ImportFormat.NDJSON,
}


def run(settings: Settings, args: argparse.Namespace) -> int:
    out, err = Console(), Console(stderr=True)
    path: Path = args.file
    if not path.is_file():
        err.print(f"nearby import: {path} is not a file")
        return 2
    fmt = ImportFormat(args.format) if args.format else _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        err.print(f"nearby import: say --format for {path.name} (csv, geojson or ndjson)")
        return 2
    try:
        columns = read_mapping(args.map)
    except ValueError as exc:
        err.print(f"nearby import: --map: {exc}")
        return 2
    source = ImportFile(
        path=path,
        format=fmt,
        coord=CoordSystem(args.coord),
        columns=columns,
        filename=path.name,
        size_bytes=path.stat().st_size,
        delete_after=False,
    )
    return asyncio.run(_import(settings, args.owner, source, args.errors, out, err))


async def _import(
    settings: Settings,
    owner: str,
    source: ImportFile,
    errors_path: Path | None,
    out: Console,
    err: Console,
) -> int:
    engine = make_engine(settings)
    try:
        owner_id = await _owner(engine, owner)
        if owner_id is None:
            err.print(f"nearby import: there is no owner {owner!r} (give its id or exact name)")
            return 2
        # As the service does at start-up (app/main.py): what is loaded by now lives as long as
        # the process, so the collector's full passes need not walk it again and again.
        gc.freeze()
        started = time.monotonic()
        bar = _Bar(err, source.size_bytes)
        with bar.progress:
            job = await jobs.ImportRunner(engine).run(
                owner_id=owner_id, source=source, on_progress=bar.update
            )
        seconds = time.monotonic() - started
        async with engine.connect() as conn:
            first = await imports_sql.first_rejections(conn, job_id=job.id, limit=ERRORS_PRINTED)
            if errors_path is not None:
                with errors_path.open("wb") as f:  # noqa: ASYNC230 (a command, not a server)
                    async for chunk in jobs.rejections_csv(conn, job_id=job.id):
                        f.write(chunk)
    finally:
        await engine.dispose()
    _summary(out, job, seconds, first, errors_path)
    if job.status != "done":
        return 2
    return 1 if job.rows_failed else 0


async def _owner(engine: AsyncEngine, owner: str) -> UUID | None:
    async with engine.connect() as conn:
        try:
            owner_id = UUID(owner)
        except ValueError:
            row = await owners_sql.owner_by_name(conn, name=owner)
            return row.id if row else None
        return owner_id if await owners_sql.owner_exists(conn, owner_id=owner_id) else None


class _Bar:
    """Bytes read of the file drive the bar and its ETA; rows and rows/s are shown beside."""

    def __init__(self, console: Console, size_bytes: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[rows]:>12,} rows  {task.fields[rate]:>9,.0f} rows/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.started = time.monotonic()
        self.task: TaskID = self.progress.add_task(
            "reading", total=max(size_bytes, 1), rows=0, rate=0.0
        )

    async def update(self, progress: load.Progress) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.progress.update(
            self.task,
            completed=progress.bytes_read,
            description="writing to PostGIS" if progress.phase == "writing" else "reading",
            rows=progress.rows,
            rate=progress.rows / elapsed,
        )


def _summary(
    out: Console,
    job: ImportJobRow,
    seconds: float,
    first: list[tuple[int, str, str]],
    errors_path: Path | None,
) -> None:
    table = Table(title="import", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("job", str(job.id))
    table.add_row("status", job.status)
    for label, value in (
        ("rows read", job.rows_total),
        ("rows ok", job.rows_ok),
        ("  inserted", job.rows_inserted),
        ("  updated", job.rows_updated),
        ("  unchanged", job.rows_unchanged),
        ("rows rejected", job.rows_failed),
    ):
        table.add_row(label, f"{value:,}")
    table.add_row("time", f"{seconds:,.1f} s")
    table.add_row("rows/s", f"{job.rows_total / max(seconds, 1e-6):,.0f}")
    out.print(table)
    if job.reason:
        out.print(f"[bold red]failed:[/] {job.reason}")
    if first:
        errors = Table(
            title="rejected rows" + (" (the first)" if job.rows_failed > len(first) else "")
        )
        for column in ("row", "field", "msg"):
            errors.add_column(column)
        for row, field, msg in first:
            errors.add_row(str(row), field, msg)
        out.print(errors)
        where = errors_path or f"GET /v1/imports/{job.id}/errors.csv"
        out.print(f"every rejected row: {where}")
