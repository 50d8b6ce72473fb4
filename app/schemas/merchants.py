"""Shapes of owners and merchants."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field, JsonValue

from app.schemas.common import (
    COORD_HELP,
    MAX_TAGS,
    Address,
    Attributes,
    CreatedAt,
    LatLng,
    Name,
    NextCursor,
    Strict,
    Text200,
    UpdatedAt,
)
from spatial import CoordSystem

STORE_EXAMPLE: dict[str, JsonValue] = {
    "external_id": "hel-0042",
    "name": "Cafe Esplanad",
    "category": "cafe",
    "tags": ["coffee", "bakery"],
    "address": "Pohjoisesplanadi 37, Helsinki",
    "phone": "+358 9 665 496",
    "location": {"lat": 60.1676, "lng": 24.9486},
    "opening_hours": "Mo-Fr 08:00-20:00; Sa 09:00-18:00",
    "attributes": {"wifi": True},
}

EXTERNAL_ID = "The owner's own id of the store, unique per owner (imports match on it)."
STORE_NAME = "The store's name, as shown to users."
CATEGORY = "One category, e.g. `cafe`; searches filter on it."
TAGS = "Free words a text search (`q`) also matches."
ADDRESS = "Postal address, for people."
PHONE = "Phone number, as written."
LOCATION = "Where the store is, in `coord`."
TIMEZONE = "IANA time zone name; inferred from the location if absent."
OPENING_HOURS = "OpenStreetMap opening_hours syntax; null: no hours known."
ATTRIBUTES = "Any JSON object of the owner's (at most 16 KiB, 8 levels deep)."


class OwnerIn(Strict):
    name: Name = Field(description="The owner's name (a company or a person).")

    model_config = {"json_schema_extra": {"examples": [{"name": "Esplanadi Cafes Oy"}]}}


class OwnerOut(BaseModel):
    id: UUID = Field(description="The owner's id.")
    name: str = Field(description="The owner's name.")
    api_key: str = Field(description="The owner's key: shown once; only its hash is stored.")
    created_at: CreatedAt

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "0b6f2c1e-2f59-4b8e-9d0a-3c1f8f2b7a10",
                    "name": "Esplanadi Cafes Oy",
                    "api_key": "nbk_3q2yS0Jb7wXGv0j1y7bVbq4aC8k1Yt9Q",
                    "created_at": "2026-11-22T08:00:00Z",
                }
            ]
        }
    }


class MerchantIn(Strict):
    owner_id: UUID | None = Field(
        None, description="Required with the admin key; else the key's owner."
    )
    external_id: Name | None = Field(None, description=EXTERNAL_ID)
    name: Name = Field(description=STORE_NAME)
    category: Name = Field(description=CATEGORY)
    tags: Annotated[list[Name], Field(max_length=MAX_TAGS)] = Field([], description=TAGS)
    address: Address | None = Field(None, description=ADDRESS)
    phone: Text200 | None = Field(None, description=PHONE)
    location: LatLng = Field(description=LOCATION)
    coord: CoordSystem = Field(CoordSystem.WGS84, description=COORD_HELP)
    timezone: Text200 | None = Field(None, description=TIMEZONE)
    opening_hours: Text200 | None = Field(None, description=OPENING_HOURS)
    attributes: Attributes = Field({}, description=ATTRIBUTES)

    model_config = {"json_schema_extra": {"examples": [STORE_EXAMPLE]}}


class MerchantPatch(Strict):
    """Only the fields given change; null clears an optional field (timezone: re-inferred)."""

    external_id: Name | None = Field(None, description=EXTERNAL_ID)
    name: Name | None = Field(None, description=STORE_NAME)
    category: Name | None = Field(None, description=CATEGORY)
    tags: Annotated[list[Name], Field(max_length=MAX_TAGS)] | None = Field(None, description=TAGS)
    address: Address | None = Field(None, description=ADDRESS)
    phone: Text200 | None = Field(None, description=PHONE)
    location: LatLng | None = Field(None, description=LOCATION)
    coord: CoordSystem = Field(CoordSystem.WGS84, description=COORD_HELP)
    timezone: Text200 | None = Field(None, description=TIMEZONE)
    opening_hours: Text200 | None = Field(None, description=OPENING_HOURS)
    attributes: Attributes | None = Field(None, description=ATTRIBUTES)

    model_config = {
        "json_schema_extra": {"examples": [{"opening_hours": "Mo-Su 07:00-22:00", "tags": []}]}
    }


class MerchantOut(BaseModel):
    id: UUID = Field(description="The store's id.")
    owner_id: UUID = Field(description="The owner the store belongs to.")
    external_id: str | None = Field(description=EXTERNAL_ID)
    name: str = Field(description=STORE_NAME)
    category: str = Field(description=CATEGORY)
    tags: list[str] = Field(description=TAGS)
    address: str | None = Field(description=ADDRESS)
    phone: str | None = Field(description=PHONE)
    location: LatLng = Field(description=LOCATION)
    coord: CoordSystem = Field(description=COORD_HELP)
    h3: str = Field(
        description="H3 cell at the index resolution (15), hex; always of the WGS-84 point."
    )
    timezone: str = Field(description="IANA time zone name of the store.")
    opening_hours: str | None = Field(description=OPENING_HOURS)
    attributes: dict[str, Any] = Field(description=ATTRIBUTES)
    created_at: CreatedAt
    updated_at: UpdatedAt

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    **STORE_EXAMPLE,
                    "id": "5d0c3a0e-7a4b-4f7e-8a59-2b1d6c9e0f31",
                    "owner_id": "0b6f2c1e-2f59-4b8e-9d0a-3c1f8f2b7a10",
                    "coord": "wgs84",
                    "h3": "8f089968a4d2c5a",
                    "timezone": "Europe/Helsinki",
                    "created_at": "2026-11-22T08:01:00Z",
                    "updated_at": "2026-11-22T08:01:00Z",
                }
            ]
        }
    }


class MerchantList(BaseModel):
    results: list[MerchantOut] = Field(description="The page's stores.")
    next_cursor: NextCursor
