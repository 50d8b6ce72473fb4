"""Shapes of the searches: their query strings and their pages."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from app.schemas.common import (
    COORD_HELP,
    CURSOR_HELP,
    HintsSwappedLatLng,
    Instant,
    Lat,
    Lng,
    PageCursor,
    PageLimit,
    QueryText,
)
from app.schemas.merchants import MerchantOut
from app.schemas.offers import OfferHere
from spatial import CoordSystem

Radius = Annotated[float, Field(ge=1, le=50_000, allow_inf_nan=False)]


class NearbyHit(MerchantOut):
    distance_m: float = Field(description="Geodesic distance on the WGS-84 spheroid, metres.")


class NearbyPage(BaseModel):
    results: list[NearbyHit] = Field(description="The page's stores, nearest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
    radius_m: float = Field(
        description="The radius searched, metres: `radius`, or the step `radius=auto` settled on."
    )
    offers_here: list[OfferHere] | None = Field(
        None,
        description="With `include=offers`, on the first page only: the first page of "
        "GET /v1/offers/here at the same point (`at`, `category` and `coord` as given, limit 20).",
    )
    offers_next_cursor: str | None = Field(
        None, description="With `offers_here`: the cursor of GET /v1/offers/here's next page."
    )


class BBoxPage(BaseModel):
    results: list[MerchantOut] = Field(
        description="The stores in the box, nearest its centre first."
    )
    truncated: bool = Field(description="True when more stores are in the box than `limit`.")


class Cluster(BaseModel):
    h3: str = Field(description="The H3 cell, hex.")
    count: int = Field(description="Stores in the cell (that match the filters).")
    lat: float = Field(description="Latitude of the cell's centre, in `coord`.")
    lng: float = Field(description="Longitude of the cell's centre, in `coord`.")
    boundary: list[list[float]] | None = Field(
        None,
        description="With `boundaries=true`: the cell's outline, a closed ring of [lng, lat] in "
        "`coord` (longitudes continue past +-180 for a cell astride the antimeridian).",
    )


class ClusterPage(BaseModel):
    clusters: list[Cluster] = Field(description="The cells, most populous first.")
    resolution: int = Field(description="The H3 resolution counted at.")
    coord: CoordSystem = Field(description="Coordinate system of the positions.")
    truncated: bool = Field(
        description="True when only the most populous `limit` cells are listed."
    )


class BoxQuery(BaseModel):
    min_lat: Lat = Field(examples=[60.15])
    min_lng: Lng = Field(
        description="min_lng > max_lng: the box crosses the antimeridian.", examples=[24.9]
    )
    max_lat: Lat = Field(examples=[60.2])
    max_lng: Lng = Field(examples=[25.0])
    category: Annotated[list[QueryText], Field(max_length=20)] = Field(
        [], description="Repeatable: any of these categories."
    )
    coord: CoordSystem = Field(CoordSystem.WGS84, description=COORD_HELP)
    owner_id: UUID | None = Field(
        None,
        description="Only this owner's stores (a chain's console maps its own stores with it).",
    )

    @model_validator(mode="after")
    def _lat_order(self) -> BoxQuery:
        if self.min_lat > self.max_lat:
            raise ValueError("min_lat must not be greater than max_lat")
        return self


class NearbyQuery(HintsSwappedLatLng):
    lat: Lat = Field(examples=[60.1699])
    lng: Lng = Field(examples=[24.9384])
    radius: Radius | Literal["auto"] = Field(
        1000,
        description="Metres, or `auto`: the first of 1, 2, 5, 10, 20 and 50 km holding `limit` "
        "stores (else 50 km).",
    )
    category: Annotated[list[QueryText], Field(max_length=20)] = Field(
        [], description="Repeatable: any of these categories."
    )
    q: QueryText | None = Field(
        None, description="Case-insensitive substring of the name or a tag."
    )
    open_now: bool = Field(False, description="Only stores open at `at`, in their own timezone.")
    at: Instant | None = Field(
        None, description="RFC 3339 instant for open_now and include=offers; default now."
    )
    limit: PageLimit = 20
    cursor: PageCursor | None = Field(None, description=CURSOR_HELP)
    coord: CoordSystem = Field(CoordSystem.WGS84, description=COORD_HELP)
    include: Literal["offers"] | None = Field(
        None, description="`offers`: the first page also carries `offers_here`."
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
    boundaries: bool = Field(
        False, description="Also give each cell's outline (`boundary`), e.g. to draw hexagons."
    )
