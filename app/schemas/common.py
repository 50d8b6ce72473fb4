"""Field types every request shares (names, coordinates, text limits) and the problem shape."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

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

# What every paged query string (and every route that speaks a coordinate system) takes.
PageLimit = Annotated[int, Field(ge=1, le=100)]
PageCursor = Annotated[str, StringConstraints(max_length=512)]
CURSOR_HELP = "next_cursor of the previous page."
COORD_HELP = "Coordinate system of every position in and out."


class Strict(BaseModel):
    """Request bodies refuse unknown fields: a misspelt field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class LatLng(Strict):
    lat: Lat
    lng: Lng


class Problem(BaseModel):
    """RFC 9457 problem details, served as application/problem+json."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None
