"""Shapes of owners and merchants."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from app.schemas.common import MAX_TAGS, Address, Attributes, LatLng, Name, Strict, Text200
from spatial import CoordSystem


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
