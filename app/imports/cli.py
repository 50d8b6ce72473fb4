"""`nearby import FILE --owner ...`: the import job of the API, run in the foreground with a
progress bar (rows/s, ETA) on stderr and a summary table on stdout. (`--url`: the same through a
running service, app/imports/remote.py, which shares the options and the summary here.)

Exit status: 0 when every row landed, 1 when rows were rejected (the rest landed), 2 when the
import failed as a whole (nothing landed) or could not start.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import make_engine
from app.imports import jobs, load
from app.imports.formats import read_constants, read_mapping
from app.imports.load import ImportFile
from app.queries import imports as imports_sql
from app.queries import owners as owners_sql
from app.queries.imports import Rejected
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


def source_of(args: argparse.Namespace, err: Console) -> ImportFile | None:
    """The file and options of the command line, checked; None (said on `err`) if wrong."""
    path: Path = args.file
    if not path.is_file():
        err.print(f"nearby import: {path} is not a file")
        return None
    fmt = ImportFormat(args.format) if args.format else _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        err.print(f"nearby import: say --format for {path.name} (csv, geojson or ndjson)")
        return None
    try:
        columns = read_mapping(args.map)
    except ValueError as exc:
        err.print(f"nearby import: --map: {exc}")
        return None
    try:
        constants = read_constants(args.set, columns)
    except ValueError as exc:
        err.print(f"nearby import: --set: {exc}")
        return None
    return ImportFile(
        path=path,
        format=fmt,
        coord=CoordSystem(args.coord),
        columns=columns,
        filename=path.name,
        size_bytes=path.stat().st_size,
        delete_after=False,
        constants=constants,
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    out, err = Console(), Console(stderr=True)
    source = source_of(args, err)
    if source is None:
        return 2
    if args.owner is None:
        err.print("nearby import: say --owner (or --url and --key to import through the service)")
        return 2
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
        bar = Bar(err, source.size_bytes)
        with bar.progress:
            job = await jobs.ImportRunner(engine).run(
                owner_id=owner_id, source=source, on_progress=bar.update
            )
        seconds = time.monotonic() - started
        async with engine.connect() as conn:
            first = await imports_sql.first_rejected(
                conn,
                job_id=job.id,
                limit=ERRORS_PRINTED,
                skip_fields=[column["column"] for column in job.columns_failed],
            )
            if errors_path is not None:
                with errors_path.open("wb") as f:  # noqa: ASYNC230 (a command, not a server)
                    async for chunk in jobs.rejections_csv(conn, job_id=job.id):
                        f.write(chunk)
    finally:
        await engine.dispose()
    where = errors_path or f"GET /v1/imports/{job.id}/errors.csv"
    summary(out, asdict(job), seconds, first, where)
    return exit_status(job.status, job.rows_failed)


def exit_status(status: str, rows_failed: int) -> int:
    if status != "done":
        return 2
    return 1 if rows_failed else 0


async def _owner(engine: AsyncEngine, owner: str) -> UUID | None:
    async with engine.connect() as conn:
        try:
            owner_id = UUID(owner)
        except ValueError:
            row = await owners_sql.owner_by_name(conn, name=owner)
            return row.id if row else None
        return owner_id if await owners_sql.owner_exists(conn, owner_id=owner_id) else None


class Bar:
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
        self.show(progress)

    def show(self, progress: load.Progress) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        self.progress.update(
            self.task,
            completed=progress.bytes_read,
            description=_PHASES.get(progress.phase, progress.phase),
            rows=progress.rows,
            rate=progress.rows / elapsed,
        )


_PHASES = {"writing": "writing to PostGIS", "reading": "reading", "uploading": "uploading"}


def summary(
    out: Console,
    job: Mapping[str, Any],
    seconds: float,
    first: Sequence[Rejected],
    errors_where: Path | str,
) -> None:
    """The job's counts, why it failed, the columns that failed as a whole with their fix, and
    its first rejected rows (`job` has the fields of GET /v1/imports/{id})."""
    table = Table(title="import", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("job", str(job["id"]))
    table.add_row("status", job["status"])
    for label, key in (
        ("rows read", "rows_total"),
        ("rows ok", "rows_ok"),
        ("  inserted", "rows_inserted"),
        ("  updated", "rows_updated"),
        ("  unchanged", "rows_unchanged"),
        ("rows rejected", "rows_failed"),
    ):
        table.add_row(label, f"{job[key]:,}")
    table.add_row("time", f"{seconds:,.1f} s")
    table.add_row("rows/s", f"{job['rows_total'] / max(seconds, 1e-6):,.0f}")
    out.print(table)
    if job["reason"]:
        out.print(f"[bold red]failed:[/] {escape(job['reason'])}")
    for column in job["columns_failed"]:
        out.print(f"[bold red]whole column:[/] {escape(_cli_words(column['fix']))}")
    if first:
        errors = Table(
            title="rejected rows" + (" (the first)" if job["rows_failed"] > len(first) else "")
        )
        for name in ("row", "external_id", "field", "msg"):
            errors.add_column(name)
        for row, field, msg, external_id in first:
            errors.add_row(str(row), escape(external_id or ""), escape(field), escape(msg))
        out.print(errors)
    if job["rows_failed"]:
        out.print(f"every rejected row: {errors_where}")


def _cli_words(fix: str) -> str:
    """A fix in the words of this command: --map FIELD=..., --set FIELD=..."""
    return fix.replace(" map=", " --map ").replace(" set=", " --set ")
