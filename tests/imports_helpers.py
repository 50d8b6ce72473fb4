"""Writing store lists in each format, and importing them inside a test's transaction."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app.imports import load
from app.imports.formats import FIELDS
from app.imports.load import ImportFile, Loaded, Progress
from app.imports.rows import Batch
from app.queries import imports as imports_sql
from app.schemas.imports import ImportFormat
from spatial import CoordSystem

CSV_FIELDS = tuple(field for field in FIELDS if field != "attributes")


def render(rows: Sequence[Mapping[str, Any]], fmt: ImportFormat) -> bytes:
    """The same stores as a file of `fmt`; a None value or missing key is an empty value."""
    if fmt is ImportFormat.CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for row in rows:
            writer.writerow(["" if row.get(f) is None else row[f] for f in CSV_FIELDS])
        return out.getvalue().encode()
    if fmt is ImportFormat.NDJSON:
        lines = [json.dumps({k: v for k, v in row.items() if v is not None}) for row in rows]
        return ("\n".join(lines) + "\n").encode()
    features = []
    for row in rows:
        properties = {k: v for k, v in row.items() if k not in ("lat", "lng") and v is not None}
        geometry = None
        if row.get("lat") is not None and row.get("lng") is not None:
            geometry = {"type": "Point", "coordinates": [_number(row["lng"]), _number(row["lat"])]}
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


@dataclass
class Imported:
    loaded: Loaded
    rejections: list[tuple[int, str, str]]

    @property
    def rejected_rows(self) -> list[int]:
        return sorted({row for row, _, _ in self.rejections})


async def import_file(
    conn: AsyncConnection,
    owner_id: UUID,
    path: Path,
    fmt: ImportFormat,
    *,
    coord: CoordSystem = CoordSystem.WGS84,
    columns: Mapping[str, str] | None = None,
) -> Imported:
    """Run the import pipeline on a file inside the test's transaction, as a job would."""
    size = path.stat().st_size  # noqa: ASYNC240 (a small local file)
    job = await imports_sql.insert_job(
        conn,
        owner_id=owner_id,
        format=fmt.value,
        coord=coord.value,
        filename=path.name,
        size_bytes=size,
        runner=uuid.uuid4(),
    )

    async def keep(batch: Batch, progress: Progress) -> None:
        await imports_sql.insert_rejections(conn, job_id=job.id, rejections=batch.rejections)

    source = ImportFile(path, fmt, coord, columns or {}, path.name, size, False)
    loaded = await load.load(conn, owner_id=owner_id, source=source, job_id=job.id, on_batch=keep)
    rejections = await imports_sql.first_rejections(conn, job_id=job.id, limit=10**9)
    return Imported(loaded, rejections)


async def import_rows(
    conn: AsyncConnection,
    owner_id: UUID,
    tmp_path: Path,
    rows: Sequence[Mapping[str, Any]],
    fmt: ImportFormat,
    **options: Any,
) -> Imported:
    path = tmp_path / f"stores-{uuid.uuid4().hex[:6]}.{fmt.value}"
    path.write_bytes(render(rows, fmt))
    return await import_file(conn, owner_id, path, fmt, **options)


def store(n: int, **changes: Any) -> dict[str, Any]:
    """A valid store near People's Square, Shanghai."""
    return {
        "external_id": f"S-{n:04d}",
        "name": f"Store {n} 南京路店",
        "category": "coffee",
        "lat": 31.2304 + n * 1e-4,
        "lng": 121.4737,
        "address": "上海市黄浦区南京东路 100 号",
        "phone": "+86 21 5555 0100",
        "tags": "wifi;outdoor",
        "opening_hours": "Mo-Fr 08:00-22:00; Sa,Su 10:00-20:00",
        "timezone": "Asia/Shanghai",
    } | changes
