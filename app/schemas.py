"""Request and response shapes of the HTTP contract (../shared/API.md). No table models here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from spatial import CoordSystem

MAX_TAGS = 50


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _no_nul_anywhere(value: Any) -> Any:
    """PostgreSQL cannot store NUL in text or jsonb, so it is refused up front."""
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul_anywhere(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul_anywhere(item)
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]
Text200 = Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)]
Address = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Lng = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Attributes = Annotated[dict[str, Any], AfterValidator(_no_nul_anywhere)]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a UTC offset (RFC 3339), e.g. 2026-11-22T14:00:00+08:00")
    return value


QueryText = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)]
Instant = Annotated[datetime, AfterValidator(_aware)]


class Strict(BaseModel):
    """Request bodies refuse unknown fields: a misspelt field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class LatLng(Strict):
    lat: Lat
    lng: Lng


class OwnerIn(Strict):
    name: Name


class OwnerOut(BaseModel):
    id: UUID
    name: str
    api_key: str = Field(description="Shown once; only its hash is stored.")
    created_at: datetime


class MerchantIn(Strict):
    owner_id: UUID | None = Field(
        None, description="Required with the admin key; else the key's owner."
    )
    external_id: Name | None = None
    name: Name
    category: Name
    tags: Annotated[list[Name], Field(max_length=MAX_TAGS)] = []
    address: Address | None = None
    phone: Text200 | None = None
    location: LatLng
    coord: CoordSystem = CoordSystem.WGS84
    timezone: Text200 | None = Field(
        None, description="IANA name; inferred from the location if absent."
    )
    opening_hours: Text200 | None = Field(None, description="OpenStreetMap opening_hours syntax.")
    attributes: Attributes = {}


class MerchantPatch(Strict):
    """Only the fields given change; null clears an optional field (timezone: re-inferred)."""

    external_id: Name | None = None
    name: Name | None = None
    category: Name | None = None
    tags: Annotated[list[Name], Field(max_length=MAX_TAGS)] | None = None
    address: Address | None = None
    phone: Text200 | None = None
    location: LatLng | None = None
    coord: CoordSystem = CoordSystem.WGS84
    timezone: Text200 | None = None
    opening_hours: Text200 | None = None
    attributes: Attributes | None = None


class MerchantOut(BaseModel):
    id: UUID
    owner_id: UUID
    external_id: str | None
    name: str
    category: str
    tags: list[str]
    address: str | None
    phone: str | None
    location: LatLng
    coord: CoordSystem
    h3: str = Field(
        description="H3 cell at the index resolution (15), hex; always of the WGS-84 point."
    )
    timezone: str
    opening_hours: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class MerchantList(BaseModel):
    results: list[MerchantOut]
    next_cursor: str | None


class NearbyHit(MerchantOut):
    distance_m: float = Field(description="Geodesic distance on the WGS-84 spheroid, metres.")


class NearbyPage(BaseModel):
    results: list[NearbyHit]
    next_cursor: str | None


class BBoxPage(BaseModel):
    results: list[MerchantOut]
    truncated: bool


class Cluster(BaseModel):
    h3: str
    count: int
    lat: float
    lng: float


class ClusterPage(BaseModel):
    clusters: list[Cluster]
    resolution: int
    coord: CoordSystem
    truncated: bool = Field(
        description="True when only the most populous `limit` cells are listed."
    )


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok"]
    revision: str


class Problem(BaseModel):
    """RFC 9457 problem details, served as application/problem+json."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


# ------------------------------------------------------------------------- search query strings


class BoxQuery(BaseModel):
    min_lat: Lat
    min_lng: Lng = Field(description="min_lng > max_lng: the box crosses the antimeridian.")
    max_lat: Lat
    max_lng: Lng
    category: Annotated[list[QueryText], Field(max_length=20)] = Field(
        [], description="Repeatable: any of these categories."
    )
    coord: CoordSystem = Field(
        CoordSystem.WGS84, description="Coordinate system of every position in and out."
    )

    @model_validator(mode="after")
    def _lat_order(self) -> BoxQuery:
        if self.min_lat > self.max_lat:
            raise ValueError("min_lat must not be greater than max_lat")
        return self


class NearbyQuery(BaseModel):
    lat: Lat
    lng: Lng
    radius: float = Field(1000, ge=1, le=50_000, allow_inf_nan=False, description="Metres.")
    category: Annotated[list[QueryText], Field(max_length=20)] = Field(
        [], description="Repeatable: any of these categories."
    )
    q: QueryText | None = Field(
        None, description="Case-insensitive substring of the name or a tag."
    )
    open_now: bool = Field(False, description="Only stores open at `at`, in their own timezone.")
    at: Instant | None = Field(None, description="RFC 3339 instant for open_now; default now.")
    limit: int = Field(20, ge=1, le=100)
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = Field(
        None, description="next_cursor of the previous page."
    )
    coord: CoordSystem = Field(
        CoordSystem.WGS84, description="Coordinate system of every position in and out."
    )


class BBoxQuery(BoxQuery):
    limit: int = Field(20, ge=1, le=100, description="At most this many, nearest the centre.")


class ClusterQuery(BoxQuery):
    resolution: int | None = Field(
        None, ge=0, le=15, description="H3 resolution; default from the box size."
    )
    limit: int = Field(
        2000, ge=1, le=10_000, description="At most this many cells, most populous first."
    )
