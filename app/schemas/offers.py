"""Shapes of geofenced offers and their claims.

A geofence is a circle (`center`, `radius_m`), a GeoJSON Polygon or MultiPolygon ([lng, lat]
positions), or null: a 500 m circle around the store. Every coordinate is in the body's `coord`.
Types and ranges are checked here; rings, self-intersections and the vertex limit are checked
by spatial/geofence.py, which says where the problem is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from app.schemas.common import (
    COORD_HELP,
    CURSOR_HELP,
    HintsSwappedLatLng,
    Instant,
    Lat,
    LatLng,
    Lng,
    Name,
    PageCursor,
    PageLimit,
    QueryText,
    Strict,
    Text200,
)
from spatial import MAX_RADIUS_M, MAX_VERTICES, MIN_RADIUS_M, CoordSystem

Coordinate = Annotated[float, Field(allow_inf_nan=False)]


def _position(value: list[float]) -> list[float]:
    if not -180.0 <= value[0] <= 180.0:
        raise ValueError("longitude (the first number) must be within -180..180")
    if not -90.0 <= value[1] <= 90.0:
        raise ValueError("latitude (the second number) must be within -90..90")
    return value


Position = Annotated[
    list[Coordinate],
    Field(min_length=2, max_length=3, description="[lng, lat] or [lng, lat, altitude]"),
    AfterValidator(_position),
]
BBoxMember = list[Coordinate] | None


class CircleFence(Strict):
    type: Literal["circle"]
    center: LatLng
    radius_m: float = Field(
        ge=MIN_RADIUS_M,
        le=MAX_RADIUS_M,
        allow_inf_nan=False,
        description="Geodesic radius in metres on the WGS-84 spheroid.",
    )


class PolygonFence(Strict):
    type: Literal["Polygon"]
    coordinates: list[list[Position]] = Field(
        description=f"Rings of [lng, lat]; at most {MAX_VERTICES:,} vertices in all."
    )
    bbox: BBoxMember = Field(None, description="Accepted and ignored (RFC 7946 5).")


class MultiPolygonFence(Strict):
    type: Literal["MultiPolygon"]
    coordinates: list[list[list[Position]]] = Field(
        description=f"Polygons of rings of [lng, lat]; at most {MAX_VERTICES:,} vertices in all."
    )
    bbox: BBoxMember = Field(None, description="Accepted and ignored (RFC 7946 5).")


Geofence = Annotated[CircleFence | PolygonFence | MultiPolygonFence, Field(discriminator="type")]
Quantity = Annotated[int, Field(ge=1, le=1_000_000_000)]
PerUserLimit = Annotated[int, Field(ge=1, le=1_000_000)]
DwellSeconds = Annotated[int, Field(ge=60, le=86_400)]
DWELL_HELP = "Seconds a tracked user stays inside the fence before fence.dwelled (60..86400)."


class OfferIn(Strict):
    title: Name
    description: Text200 | None = None
    geofence: Geofence | None = Field(None, description="null: a 500 m circle around the store.")
    coord: CoordSystem = CoordSystem.WGS84
    starts_at: Instant | None = Field(None, description="Default: now. Inclusive.")
    ends_at: Instant | None = Field(None, description="Default: never. Exclusive.")
    quantity: Quantity | None = Field(None, description="Codes to hand out; null: unlimited.")
    per_user_limit: PerUserLimit | None = Field(1, description="Codes per user; null: unlimited.")
    dwell_s: DwellSeconds = Field(300, description=DWELL_HELP)


class OfferPatch(Strict):
    """Only the fields given change. null: geofence a 500 m circle around the store, starts_at
    now, ends_at never, quantity and per_user_limit unlimited, description none."""

    title: Name | None = None
    description: Text200 | None = None
    geofence: Geofence | None = None
    coord: CoordSystem = CoordSystem.WGS84
    starts_at: Instant | None = None
    ends_at: Instant | None = None
    quantity: Quantity | None = None
    per_user_limit: PerUserLimit | None = None
    dwell_s: DwellSeconds | None = Field(None, description=DWELL_HELP + " null: not changed.")


class CircleOut(BaseModel):
    type: Literal["circle"]
    center: LatLng
    radius_m: float


class PolygonOut(BaseModel):
    type: Literal["Polygon"]
    coordinates: list[list[list[float]]]


class MultiPolygonOut(BaseModel):
    type: Literal["MultiPolygon"]
    coordinates: list[list[list[list[float]]]]


OfferStatus = Literal["scheduled", "active", "sold_out", "ended"]


class OfferOut(BaseModel):
    id: UUID
    merchant_id: UUID
    title: str
    description: str | None
    geofence: Annotated[CircleOut | PolygonOut | MultiPolygonOut, Field(discriminator="type")]
    coord: CoordSystem
    starts_at: datetime
    ends_at: datetime | None
    quantity: int | None
    per_user_limit: int | None
    dwell_s: int = Field(description=DWELL_HELP)
    status: OfferStatus = Field(
        description="At the request's time (offers/here: at `at`): scheduled before starts_at, "
        "ended from ends_at on, else sold_out when no code is left, else active."
    )
    claimed: int = Field(description="Codes handed out.")
    redeemed: int = Field(description="Codes redeemed at the store.")
    remaining: int | None = Field(description="Codes left; null for an unlimited offer.")
    created_at: datetime
    updated_at: datetime


class OfferList(BaseModel):
    results: list[OfferOut]
    next_cursor: str | None


class MerchantSummary(BaseModel):
    id: UUID
    name: str
    category: str
    address: str | None
    phone: str | None
    location: LatLng


class OfferHere(OfferOut):
    merchant: MerchantSummary
    distance_m: float = Field(description="To the store, geodesic on WGS-84, metres.")


class OffersHerePage(BaseModel):
    results: list[OfferHere]
    next_cursor: str | None


class OffersHereQuery(HintsSwappedLatLng):
    lat: Lat = Field(examples=[60.1699])
    lng: Lng = Field(examples=[24.9384])
    at: Instant | None = Field(None, description="RFC 3339 instant; default now.")
    category: Annotated[list[QueryText], Field(max_length=20)] = Field(
        [], description="Repeatable: offers of stores in any of these categories."
    )
    limit: PageLimit = 20
    cursor: PageCursor | None = Field(None, description=CURSOR_HELP)
    coord: CoordSystem = Field(CoordSystem.WGS84, description=COORD_HELP)


MAX_ACCURACY_M = 5000.0


class ClaimIn(Strict, HintsSwappedLatLng):
    user_id: QueryText | None = Field(
        None,
        description="The app's user, e.g. a mini program's openid: required with an app key; "
        "with a user token absent or equal to its sub.",
    )
    lat: Lat
    lng: Lng
    coord: CoordSystem = CoordSystem.WGS84
    accuracy_m: float = Field(
        0.0,
        ge=0,
        le=MAX_ACCURACY_M,
        allow_inf_nan=False,
        description="Radius of the position's uncertainty, metres (default 0). The claim counts "
        "only if this circle reaches at most 50 m past the fence's edge.",
    )


class ClaimOffer(BaseModel):
    """What a claim shows of its offer: its title, end and store."""

    id: UUID
    title: str
    ends_at: datetime | None
    merchant: MerchantSummary


class ClaimOut(BaseModel):
    code: str
    offer_id: UUID
    user_id: str
    claimed_at: datetime
    offer: ClaimOffer


class RedeemedOut(BaseModel):
    code: str
    offer_id: UUID
    user_id: str
    claimed_at: datetime
    redeemed_at: datetime


class ClaimView(BaseModel):
    """A code as its cashier or its user sees it, with the whole offer."""

    code: str
    offer_id: UUID
    user_id: str
    claimed_at: datetime
    redeemed_at: datetime | None
    offer: OfferOut


class UserClaim(BaseModel):
    code: str
    offer_id: UUID
    user_id: str
    claimed_at: datetime
    redeemed_at: datetime | None
    offer: ClaimOffer


class UserClaimsPage(BaseModel):
    results: list[UserClaim]
    next_cursor: str | None
