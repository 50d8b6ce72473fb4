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
        description="The column or key as the file names it; `record` for the whole record."
    )
    msg: str = Field(description="What is wrong with it.")


class ImportAccepted(BaseModel):
    id: UUID = Field(description="The import job's id: follow it at GET /v1/imports/{id}.")
    status: Literal["queued", "running", "done", "failed"] = Field(description="queued at first.")


class ImportJobOut(BaseModel):
    id: UUID = Field(description="The import job's id.")
    owner_id: UUID = Field(description="The owner whose stores it loads.")
    status: Literal["queued", "running", "done", "failed"] = Field(
        description="queued, running, done, or failed (see `reason`)."
    )
    format: ImportFormat = Field(description="The file's format.")
    coord: str = Field(description="Coordinate system of the file's positions.")
    filename: str | None = Field(description="The file's name, as uploaded.")
    size_bytes: int = Field(description="The file's size.")
    rows_total: int = Field(description="Data records read so far (all of them once done).")
    rows_ok: int = Field(
        description="Records that are stored now (inserted, updated or unchanged)."
    )
    rows_failed: int = Field(
        description="Records rejected: invalid, or replaced by a later duplicate."
    )
    rows_inserted: int = Field(description="New stores.")
    rows_updated: int = Field(description="Stores that changed.")
    rows_unchanged: int = Field(description="Stores already as in the file.")
    errors: list[RowError] = Field(description="The first rejected rows, in file order.")
    errors_truncated: bool = Field(description="True when errors.csv lists more than `errors`.")
    errors_csv: str = Field(description="Path of the complete list of rejected rows.")
    reason: str | None = Field(description="Why the job failed, if it did.")
    created_at: datetime = Field(description="When the file was accepted.")
    started_at: datetime | None = Field(description="When loading started.")
    finished_at: datetime | None = Field(description="When loading finished (done or failed).")
