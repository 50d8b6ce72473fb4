"""Shapes of batch imports: one store record of a file, and the job as clients see it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import (
    MAX_TAGS,
    Address,
    Attributes,
    HintsSwappedLatLng,
    Lat,
    Lng,
    Name,
    Text200,
)


class ImportFormat(StrEnum):
    CSV = "csv"
    GEOJSON = "geojson"
    NDJSON = "ndjson"


class StoreRecord(HintsSwappedLatLng):
    """One store of an imported file, with the same limits as a merchant of the API (MerchantIn).

    The readers (app/imports/formats.py) leave out empty values, split `tags` on `;`, and take
    `lat`/`lng` from a GeoJSON Point; keys the contract does not name are ignored.
    """

    model_config = ConfigDict(extra="ignore")

    external_id: Name
    name: Name
    category: Name
    lat: Lat
    lng: Lng
    address: Address | None = None
    phone: Text200 | None = None
    tags: Annotated[list[Name], Field(max_length=MAX_TAGS)] = []
    opening_hours: Text200 | None = None
    timezone: Text200 | None = None
    # NDJSON and GeoJSON only; a record without it leaves a stored store's attributes alone.
    attributes: Attributes | None = None


class RowError(BaseModel):
    row: int = Field(
        description="1-based data record: CSV header not counted, GeoJSON feature, NDJSON line."
    )
    field: str = Field(
        description="The column or key as the file names it; `record` for the whole record;"
        " `set=FIELD` for a value given with set=."
    )
    msg: str = Field(description="Why the row was rejected for this field.")
    external_id: str | None = Field(
        None, description="The rejected row's store number, when it had one.", examples=["SH-0001"]
    )


class ColumnFailed(BaseModel):
    """A field every row failed: said once, with the fix, instead of once per row."""

    field: str = Field(description="The contract's field, e.g. `timezone`.")
    column: str = Field(description="The column or key as the file names it, e.g. `Timezone`.")
    rows: int = Field(
        description="How many rows failed it: every row read so far but those rejected for"
        " another field before this one was checked."
    )
    msg: str = Field(description="The first row's message for it.")
    fix: str = Field(
        description="What to do: map=FIELD=COLUMN, map=FIELD= (leave it unread) or"
        " set=FIELD=VALUE, as applies.",
        examples=[
            "every row failed timezone (read from 'Timezone') (25,599 of 25,600 rows, ...), e.g."
            " ... Fix: map it from another column with map=timezone=COLUMN, or leave it unread"
            " with map=timezone= (zones then come from the stores' locations), or set it for"
            " every row with set=timezone=Asia/Shanghai."
        ],
    )


JobStatus = Literal["queued", "running", "done", "failed"]


class ImportAccepted(BaseModel):
    id: UUID = Field(description="The job's id: GET /v1/imports/{id} follows it.")
    status: JobStatus = Field(description="`queued` at first.")


class ImportJobSummary(BaseModel):
    """A job without its rejected rows (GET /v1/imports lists these)."""

    id: UUID = Field(description="The job's id.")
    owner_id: UUID = Field(description="The owner whose stores the job writes.")
    status: JobStatus = Field(description="queued, running, done or failed.")
    format: ImportFormat = Field(description="The file's format.")
    coord: str = Field(description="The coordinate system of the file's coordinates.")
    filename: str | None = Field(description="The file's name, as given.")
    size_bytes: int = Field(description="The file's size.")
    bytes_read: int = Field(
        description="How much of the file has been read (size_bytes once done): with size_bytes,"
        " the progress of a running job."
    )
    rows_total: int = Field(description="Data records read so far (all of them once done).")
    rows_ok: int = Field(
        description="Records that are stored now (inserted, updated or unchanged)."
    )
    rows_failed: int = Field(
        description="Records rejected: invalid, or replaced by a later duplicate."
    )
    rows_inserted: int = Field(description="New stores.")
    rows_updated: int = Field(description="Stores that changed.")
    rows_unchanged: int = Field(description="Stores already exactly as the file gives them.")
    columns_failed: list[ColumnFailed] = Field(
        description="Fields that failed as a whole column (at least 10 rows read, none passed,"
        " and this field rejected at least 90% of them), each once with the fix; their rows"
        " are left out of `errors` but listed in errors.csv."
    )
    constants: dict[str, str | list[str]] = Field(
        description="The values set for every row with set=FIELD=VALUE."
    )
    errors_csv: str = Field(description="Path of the complete list of rejected rows.")
    reason: str | None = Field(description="Why the job failed, if it did.")
    created_at: datetime = Field(description="When the job was accepted.")
    started_at: datetime | None = Field(description="When it began to run.")
    finished_at: datetime | None = Field(description="When it ended, done or failed.")


class ImportJobOut(ImportJobSummary):
    errors: list[RowError] = Field(
        description="The first rejected rows, in file order (but for those of `columns_failed`)."
    )
    errors_truncated: bool = Field(description="True when errors.csv lists more than `errors`.")


class ImportJobList(BaseModel):
    results: list[ImportJobSummary] = Field(description="The owner's jobs, newest first.")
    next_cursor: str | None = Field(description="The next page's cursor; null on the last.")
