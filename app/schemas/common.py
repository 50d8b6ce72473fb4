"""Field types every request shares (names, coordinates, text limits) and the problem shape."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

MAX_TAGS = 50
# API.md "Merchants": `attributes` is an object of at most 16 KiB serialised and 8 levels deep
# (the object itself is level 1), its integers in 64 bits (signed). Past these a store's JSON
# would outweigh every search result it appears in, or break the serialiser (orjson stops at 254
# levels and at 64-bit integers) after the request was accepted.
MAX_ATTRIBUTES_BYTES = 16 * 1024
MAX_ATTRIBUTES_DEPTH = 8
_INT64 = range(-(2**63), 2**63)
# A share's code (app/shares.py): it fits a mini program QR code's 32-character `scene`.
SHARE_CODE_PATTERN = "^[0-9A-Za-z]{1,32}$"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def checked_attributes(value: dict[str, Any]) -> dict[str, Any]:
    """A store's `attributes` within the contract's limits, else ValueError saying which and where.

    The one owner of these rules: MerchantIn/MerchantPatch (API) and StoreRecord (imports) both
    validate through the `Attributes` type. Walked without recursion, so no depth is too deep.
    """
    pending: list[tuple[Any, str, int]] = [(value, "", 1)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_ATTRIBUTES_DEPTH:
                raise ValueError(
                    f"must be at most {MAX_ATTRIBUTES_DEPTH} levels deep (objects and arrays);"
                    f" {where} is level {depth}"
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    _no_nul(key)
                    pending.append((child, f"{where}.{key}" if where else key, depth + 1))
            else:
                pending.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str):
            _no_nul(item)  # PostgreSQL cannot store NUL in text or jsonb
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int) and item not in _INT64:
            raise ValueError(f"integers must fit in 64 bits (signed); {where} does not")
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"numbers must be finite; {where} is {item}")
    size = len(orjson.dumps(value))
    if size > MAX_ATTRIBUTES_BYTES:
        raise ValueError(
            f"must be at most {MAX_ATTRIBUTES_BYTES // 1024} KiB serialised as JSON;"
            f" this is {size:,} bytes"
        )
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]
Text200 = Annotated[str, StringConstraints(max_length=200), AfterValidator(_no_nul)]
Address = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)]
Lat = Annotated[
    float, Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude, degrees north.")
]
Lng = Annotated[
    float, Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude, degrees east.")
]
Attributes = Annotated[dict[str, Any], AfterValidator(checked_attributes)]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("needs a UTC offset (RFC 3339), e.g. 2026-11-22T14:00:00+08:00")
    return value


QueryText = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)]
Instant = Annotated[datetime, AfterValidator(_aware)]

# What every paged query string (and every route that speaks a coordinate system) takes.
PageLimit = Annotated[int, Field(ge=1, le=100, description="At most this many results (1-100).")]
PageCursor = Annotated[str, StringConstraints(max_length=512)]
CURSOR_HELP = "next_cursor of the previous page."
COORD_HELP = "Coordinate system of every position in and out."
# What every page answers with, and the times every stored thing carries.
NextCursor = Annotated[
    str | None,
    Field(description="Pass as `cursor` to get the next page; null on the last page."),
]
CreatedAt = Annotated[datetime, Field(description="When it was created (RFC 3339, UTC).")]
UpdatedAt = Annotated[datetime, Field(description="When it last changed (RFC 3339, UTC).")]


SWAP_HINT = " (are lat and lng swapped?)"
_RANGE_ERRORS = ("less_than_equal", "greater_than_equal")


def swap_hint(lat: Any, lng: Any) -> str:
    """SWAP_HINT when lat is out of range but lat and lng would both be valid the other way
    round (a store at lat 121.47, lng 31.23 is in Shanghai); else "". Never swaps them itself."""
    try:
        lat_deg, lng_deg = float(lat), float(lng)
    except (TypeError, ValueError):
        return ""
    return SWAP_HINT if 90.0 < abs(lat_deg) <= 180.0 and abs(lng_deg) <= 90.0 else ""


class HintsSwappedLatLng(BaseModel):
    """A shape with `lat` and `lng` fields: a range error of `lat` says when they look swapped.

    The one owner of that hint, for request bodies, query strings and imported rows alike.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _hint_swapped(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            hint = swap_hint(data.get("lat"), data.get("lng")) if isinstance(data, dict) else ""
            if not hint:
                raise
            errors = [_hinted(error, hint) for error in exc.errors(include_url=False)]
            raise ValidationError.from_exception_data(exc.title, errors) from None


def _hinted(error: Any, hint: str) -> InitErrorDetails:
    """The error as it was (its message kept word for word), plus the hint on lat's range."""
    msg = error["msg"]
    if error["loc"] == ("lat",) and error["type"] in _RANGE_ERRORS:
        msg += hint
    # A message as its own template: no context, so braces in it stay as they are.
    return InitErrorDetails(
        type=PydanticCustomError(error["type"], msg), loc=error["loc"], input=error["input"]
    )


class Strict(BaseModel):
    """Request bodies refuse unknown fields: a misspelt field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class LatLng(Strict, HintsSwappedLatLng):
    """A position, in the `coord` of the body or query it is part of."""

    lat: Lat
    lng: Lng


class Problem(BaseModel):
    """RFC 9457 problem details, served as application/problem+json."""

    type: str = Field(description="A URI naming the kind of problem; `about:blank` for plain HTTP.")
    title: str = Field(description="The kind of problem, in a few words.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a person to read.")
    errors: list[dict[str, Any]] | None = Field(
        None,
        description="Validation errors: each with `loc` (where: body/query/path and the field), "
        "`msg` and `type`.",
    )
