"""Routes of batch imports (API.md: "Batch import of store lists")."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from app import merchants
from app.db import Conn, get_read_conn
from app.errors import InvalidInput, UnsupportedMediaType
from app.imports import jobs
from app.imports.formats import read_mapping
from app.imports.load import ImportFile
from app.routes import params
from app.routes.callers import Caller
from app.routes.params import ImportId
from app.routes.responses import problems
from app.schemas.common import Text200
from app.schemas.imports import ImportAccepted, ImportFormat, ImportJobOut, RowError
from spatial import CoordSystem

# The app limits bodies to NEARBY_MAX_BODY_BYTES; an upload has its own, larger limit
# (NEARBY_MAX_IMPORT_BYTES), checked while it streams to disk: this lifts the app's for it.
_NO_APP_LIMIT = 1 << 62
_FORMAT_OF_TYPE = {
    "text/csv": ImportFormat.CSV,
    "application/csv": ImportFormat.CSV,
    "application/geo+json": ImportFormat.GEOJSON,
    "application/json": ImportFormat.GEOJSON,
    "application/x-ndjson": ImportFormat.NDJSON,
    "application/ndjson": ImportFormat.NDJSON,
    "application/jsonl": ImportFormat.NDJSON,
}

router = APIRouter(route_class=params.KnownQueryRoute)

# A request scope: the connection stays open while errors.csv streams out.
StreamConn = Annotated[AsyncConnection, Depends(get_read_conn)]


@router.post(
    "/v1/imports",
    status_code=202,
    responses=problems(401, 403, 413, 415, 422),
    tags=["imports"],
    max_body_size=_NO_APP_LIMIT,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string"}}
                for t in ("text/csv", "application/geo+json", "application/x-ndjson")
            },
        }
    },
)
async def create_import(
    request: Request,
    conn: Conn,
    caller: Caller,
    format: Annotated[
        ImportFormat | None, Query(description="Default: from Content-Type, else csv.")
    ] = None,
    coord: Annotated[CoordSystem, Query(description="The system of the file's coordinates.")] = (
        CoordSystem.WGS84
    ),
    owner_id: Annotated[UUID | None, Query(description="Required with the admin key.")] = None,
    map: Annotated[
        list[str],
        Query(
            max_length=20,
            description="FIELD=COLUMN: read a field from a column (or key) of another name;"
            " FIELD= leaves an optional field unread.",
        ),
    ] = [],  # noqa: B006 (FastAPI copies defaults)
    filename: Annotated[Text200 | None, Query(description="Shown in the job.")] = None,
) -> ImportAccepted:
    """Start importing the body (the file itself, not a form) for the caller's owner: 202 at
    once; the job runs in the background (GET /v1/imports/{id})."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith("multipart/"):
        raise UnsupportedMediaType("Send the file itself as the request body, not a form")
    fmt = format or _FORMAT_OF_TYPE.get(content_type, ImportFormat.CSV)
    columns = _columns(map)
    target = await merchants.owner_for_writes(conn, caller, owner_id, loc=["query", "owner_id"])
    settings = request.app.state.settings
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_import_bytes:
        raise jobs.too_large(settings.max_import_bytes)
    path = await jobs.save_upload(
        request.stream(), limit_bytes=settings.max_import_bytes, suffix=fmt.value
    )
    source = ImportFile(path, fmt, coord, columns, filename, path.stat().st_size, delete_after=True)
    job = await request.app.state.imports.submit(owner_id=target, source=source)
    return ImportAccepted(id=job.id, status=job.status)


@router.get("/v1/imports/{import_id}", responses=problems(401, 403, 404, 422), tags=["imports"])
async def get_import(conn: Conn, caller: Caller, import_id: ImportId) -> ImportJobOut:
    """An import job: its state, counts, and its first rejected rows."""
    row, errors, truncated = await jobs.status(conn, principal=caller, job_id=import_id)
    return ImportJobOut(
        id=row.id,
        owner_id=row.owner_id,
        status=row.status,
        format=ImportFormat(row.format),
        coord=row.coord,
        filename=row.filename,
        size_bytes=row.size_bytes,
        rows_total=row.rows_total,
        rows_ok=row.rows_ok,
        rows_failed=row.rows_failed,
        rows_inserted=row.rows_inserted,
        rows_updated=row.rows_updated,
        rows_unchanged=row.rows_unchanged,
        errors=[RowError(row=r, field=f, msg=m) for r, f, m in errors],
        errors_truncated=truncated,
        errors_csv=f"/v1/imports/{row.id}/errors.csv",
        reason=row.reason,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


@router.get(
    "/v1/imports/{import_id}/errors.csv",
    responses={
        **problems(401, 403, 404, 422),
        200: {"content": {"text/csv": {}}, "description": "row,field,msg"},
    },
    response_class=StreamingResponse,
    tags=["imports"],
)
async def get_import_errors(
    conn: Conn, caller: Caller, stream_conn: StreamConn, import_id: ImportId
) -> StreamingResponse:
    """Every rejected row of the import, in file order."""
    await jobs.job(conn, principal=caller, job_id=import_id)
    return StreamingResponse(
        jobs.rejections_csv(stream_conn, job_id=import_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )


def _columns(pairs: list[str]) -> dict[str, str]:
    try:
        return read_mapping(pairs)
    except ValueError as exc:
        raise InvalidInput.at(["query", "map"], str(exc)) from None
