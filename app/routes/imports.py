"""Routes of batch imports (API.md: "Batch import of store lists")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from app import merchants
from app.db import Conn, get_read_conn
from app.errors import InvalidInput, UnsupportedMediaType
from app.imports import jobs
from app.imports.form import FormFile, boundary_of, file_chunks
from app.imports.formats import read_constants, read_mapping
from app.imports.load import ImportFile
from app.queries.imports import ImportJobRow
from app.routes import params
from app.routes.callers import Caller
from app.routes.params import Cursor, ImportId, Limit
from app.routes.responses import problems
from app.schemas.common import Text200
from app.schemas.imports import (
    ColumnFailed,
    ImportAccepted,
    ImportFormat,
    ImportJobList,
    ImportJobOut,
    ImportJobSummary,
    RowError,
)
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
                **{
                    t: {"schema": {"type": "string"}}
                    for t in ("text/csv", "application/geo+json", "application/x-ndjson")
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "The store list (its only field).",
                            }
                        },
                        "required": ["file"],
                    }
                },
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
    set: Annotated[
        list[str],
        Query(
            max_length=20,
            description="FIELD=VALUE: give every row this value for a field the file lacks (or"
            " whose column is wrong), e.g. set=category=tea or set=timezone=Asia/Shanghai;"
            " repeatable. Not for external_id, lat or lng.",
            examples=[["category=tea"]],
        ),
    ] = [],  # noqa: B006 (FastAPI copies defaults)
    filename: Annotated[Text200 | None, Query(description="Shown in the job.")] = None,
) -> ImportAccepted:
    """Start importing a store list for the caller's owner: 202 at once; the job runs in the
    background (GET /v1/imports/{id}). The body is the file itself, or a multipart/form-data
    form whose one field `file` is the file (its filename and type then name the format when
    `format` is not given)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    columns = _columns(map)
    constants = _constants(set, columns)
    target = await merchants.owner_for_writes(conn, caller, owner_id, loc=["query", "owner_id"])
    settings = request.app.state.settings
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_import_bytes:
        raise jobs.too_large(settings.max_import_bytes)
    chunks: AsyncIterator[bytes] = request.stream()
    form: FormFile | None = None
    if content_type == "multipart/form-data":
        form = FormFile()
        chunks = file_chunks(chunks, boundary_of(request.headers["content-type"]), form)
    elif content_type.startswith("multipart/"):
        raise UnsupportedMediaType(
            "Send the file itself as the body, or a multipart/form-data form"
        )
    path = await jobs.save_upload(chunks, limit_bytes=settings.max_import_bytes, suffix="upload")
    if form is not None:
        filename = filename or form.filename
        fmt = format or _format_of_file(form)
    else:
        fmt = format or _FORMAT_OF_TYPE.get(content_type, ImportFormat.CSV)
    source = ImportFile(
        path,
        fmt,
        coord,
        columns,
        filename,
        path.stat().st_size,
        delete_after=True,
        constants=constants,
    )
    job = await request.app.state.imports.submit(owner_id=target, source=source)
    return ImportAccepted(id=job.id, status=job.status)


@router.get("/v1/imports", responses=problems(401, 403, 422), tags=["imports"])
async def list_imports(
    conn: Conn,
    caller: Caller,
    owner_id: Annotated[UUID | None, Query(description="Required with the admin key.")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ImportJobList:
    """The caller's import jobs, newest first (the admin key names an `owner_id`), without
    their rejected rows (GET /v1/imports/{id} has those)."""
    rows, next_cursor = await jobs.list_jobs(
        conn, principal=caller, owner_id=owner_id, after_cursor=cursor, limit=limit
    )
    return ImportJobList(results=[_summary(row) for row in rows], next_cursor=next_cursor)


@router.get("/v1/imports/{import_id}", responses=problems(401, 403, 404, 422), tags=["imports"])
async def get_import(conn: Conn, caller: Caller, import_id: ImportId) -> ImportJobOut:
    """A job: its progress, counts, the columns every row failed and its first rejected rows."""
    row, errors, truncated = await jobs.status(conn, principal=caller, job_id=import_id)
    return ImportJobOut(
        **_summary(row).model_dump(),
        errors=[
            RowError(row=e.row, field=e.field, msg=e.msg, external_id=e.external_id) for e in errors
        ],
        errors_truncated=truncated,
    )


def _summary(row: ImportJobRow) -> ImportJobSummary:
    return ImportJobSummary(
        id=row.id,
        owner_id=row.owner_id,
        status=row.status,
        format=ImportFormat(row.format),
        coord=row.coord,
        filename=row.filename,
        size_bytes=row.size_bytes,
        bytes_read=row.bytes_read,
        rows_total=row.rows_total,
        rows_ok=row.rows_ok,
        rows_failed=row.rows_failed,
        rows_inserted=row.rows_inserted,
        rows_updated=row.rows_updated,
        rows_unchanged=row.rows_unchanged,
        columns_failed=[ColumnFailed(**column) for column in row.columns_failed],
        constants=row.constants,
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
        200: {"content": {"text/csv": {}}, "description": "row,field,msg,external_id"},
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


_SUFFIXES = {
    "csv": ImportFormat.CSV,
    "tsv": ImportFormat.CSV,
    "geojson": ImportFormat.GEOJSON,
    "json": ImportFormat.GEOJSON,
    "ndjson": ImportFormat.NDJSON,
    "jsonl": ImportFormat.NDJSON,
}


def _format_of_file(form: FormFile) -> ImportFormat:
    """A form's file's format: by its type, else its name's suffix, else CSV."""
    by_type = _FORMAT_OF_TYPE.get((form.content_type or "").lower())
    if by_type is not None:
        return by_type
    suffix = (form.filename or "").rpartition(".")[2].lower()
    return _SUFFIXES.get(suffix, ImportFormat.CSV)


def _constants(pairs: list[str], columns: dict[str, str]) -> dict[str, Any]:
    try:
        return read_constants(pairs, columns)
    except ValueError as exc:
        raise InvalidInput.at(["query", "set"], str(exc)) from None


def _columns(pairs: list[str]) -> dict[str, str]:
    try:
        return read_mapping(pairs)
    except ValueError as exc:
        raise InvalidInput.at(["query", "map"], str(exc)) from None
