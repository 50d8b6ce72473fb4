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
    SHARE_CODE_PATTERN,
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
    type: Literal["circle"] = Field(description="circle")
    center: LatLng = Field(description="The circle's centre, in the body's `coord`.")
    radius_m: float = Field(
        ge=MIN_RADIUS_M,
        le=MAX_RADIUS_M,
        allow_inf_nan=False,
        description="Geodesic radius in metres on the WGS-84 spheroid.",
    )


class PolygonFence(Strict):
    type: Literal["Polygon"] = Field(description="A GeoJSON Polygon (RFC 7946).")
    coordinates: list[list[Position]] = Field(
        description=f"Rings of [lng, lat]; at most {MAX_VERTICES:,} vertices in all."
    )
    bbox: BBoxMember = Field(None, description="Accepted and ignored (RFC 7946 5).")


class MultiPolygonFence(Strict):
    type: Literal["MultiPolygon"] = Field(description="A GeoJSON MultiPolygon (RFC 7946).")
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
    title: Name = Field(description="The offer, in a few words (e.g. `Coffee -50%`).")
    description: Text200 | None = Field(None, description="More about it, for users.")
    geofence: Geofence | None = Field(None, description="null: a 500 m circle around the store.")
    coord: CoordSystem = Field(CoordSystem.WGS84, description="Coordinate system of the geofence.")
    starts_at: Instant | None = Field(None, description="Default: now. Inclusive.")
    ends_at: Instant | None = Field(None, description="Default: never. Exclusive.")
    quantity: Quantity | None = Field(None, description="Codes to hand out; null: unlimited.")
    per_user_limit: PerUserLimit | None = Field(1, description="Codes per user; null: unlimited.")
    dwell_s: DwellSeconds = Field(300, description=DWELL_HELP)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "title": "Cinnamon bun with any coffee",
                    "description": "Show the code at the counter.",
                    "geofence": {
                        "type": "circle",
                        "center": {"lat": 60.1676, "lng": 24.9486},
                        "radius_m": 300,
                    },
                    "ends_at": "2026-12-24T18:00:00+02:00",
                    "quantity": 100,
                    "per_user_limit": 1,
                }
            ]
        }
    }


class OfferPatch(Strict):
    """Only the fields given change. null: geofence a 500 m circle around the store, starts_at
    now, ends_at never, quantity and per_user_limit unlimited, description none."""

    title: Name | None = Field(None, description="The offer, in a few words.")
    description: Text200 | None = Field(None, description="More about it; null: none.")
    geofence: Geofence | None = Field(
        None, description="The new fence; null: a 500 m circle around the store."
    )
    coord: CoordSystem = Field(CoordSystem.WGS84, description="Coordinate system of the geofence.")
    starts_at: Instant | None = Field(
        None, description="From when it applies (inclusive); null: now."
    )
    ends_at: Instant | None = Field(None, description="Until when (exclusive); null: never.")
    quantity: Quantity | None = Field(None, description="Codes to hand out; null: unlimited.")
    per_user_limit: PerUserLimit | None = Field(
        None, description="Codes per user; null: unlimited."
    )

    dwell_s: DwellSeconds | None = Field(None, description=DWELL_HELP + " null: not changed.")

    model_config = {"json_schema_extra": {"examples": [{"quantity": 200, "ends_at": None}]}}


class CircleOut(BaseModel):
    type: Literal["circle"] = Field(description="circle")
    center: LatLng = Field(description="The circle's centre, in `coord`.")
    radius_m: float = Field(description="Geodesic radius in metres.")


class PolygonOut(BaseModel):
    type: Literal["Polygon"] = Field(description="A GeoJSON Polygon.")
    coordinates: list[list[list[float]]] = Field(description="Rings of [lng, lat], in `coord`.")


class MultiPolygonOut(BaseModel):
    type: Literal["MultiPolygon"] = Field(description="A GeoJSON MultiPolygon.")
    coordinates: list[list[list[list[float]]]] = Field(
        description="Polygons of rings of [lng, lat], in `coord`."
    )


OfferStatus = Literal["scheduled", "active", "sold_out", "ended"]


class OfferOut(BaseModel):
    id: UUID = Field(description="The offer's id.")
    merchant_id: UUID = Field(description="The store that offers it.")
    title: str = Field(description="The offer, in a few words.")
    description: str | None = Field(description="More about it, for users.")
    geofence: Annotated[CircleOut | PolygonOut | MultiPolygonOut, Field(discriminator="type")] = (
        Field(description="Where the offer applies, in `coord`.")
    )
    coord: CoordSystem = Field(description="Coordinate system of the geofence.")
    starts_at: datetime = Field(description="From when it applies (inclusive).")
    ends_at: datetime | None = Field(description="Until when (exclusive); null: never.")
    quantity: int | None = Field(description="Codes to hand out in all; null: unlimited.")
    per_user_limit: int | None = Field(description="Codes per user; null: unlimited.")
    dwell_s: int = Field(description=DWELL_HELP)
    status: OfferStatus = Field(
        description="At the request's time (offers/here: at `at`): scheduled before starts_at, "
        "ended from ends_at on, else sold_out when no code is left, else active."
    )
    claimed: int = Field(description="Codes handed out.")
    redeemed: int = Field(description="Codes redeemed at the store.")
    remaining: int | None = Field(description="Codes left; null for an unlimited offer.")
    created_at: datetime = Field(description="When it was created (RFC 3339, UTC).")
    updated_at: datetime = Field(description="When it last changed (RFC 3339, UTC).")


class OfferList(BaseModel):
    results: list[OfferOut] = Field(description="The page's offers, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class MerchantSummary(BaseModel):
    id: UUID = Field(description="The store's id.")
    name: str = Field(description="The store's name.")
    category: str = Field(description="The store's category.")
    address: str | None = Field(description="Postal address.")
    phone: str | None = Field(description="Phone number.")
    location: LatLng = Field(description="Where the store is, in `coord`.")


class OfferHere(OfferOut):
    merchant: MerchantSummary = Field(description="The store that offers it.")
    distance_m: float = Field(description="To the store, geodesic on WGS-84, metres.")


class OffersHerePage(BaseModel):
    results: list[OfferHere] = Field(description="The offers, nearest store first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


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
    coord: CoordSystem = Field(CoordSystem.WGS84, description="Coordinate system of lat and lng.")
    accuracy_m: float = Field(
        0.0,
        ge=0,
        le=MAX_ACCURACY_M,
        allow_inf_nan=False,
        description="Radius of the position's uncertainty, metres (default 0). The claim counts "
        "only if this circle reaches at most 50 m past the fence's edge.",
    )
    share: str | None = Field(
        None,
        pattern=SHARE_CODE_PATTERN,
        description="The code of the share of this offer the user came through: the claim is "
        "attributed to it (to its parent when it is the user's own share), and its redemption "
        "credited up the share's chain. A code that is not a share of this offer is a 422.",
        examples=["4kQ9ZtWb1xR7mN2pL8sV0c"],
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"user_id": "user-123", "lat": 60.1677, "lng": 24.9481, "accuracy_m": 15}]
        }
    }


class ClaimOffer(BaseModel):
    """What a claim shows of its offer: its title, end and store."""

    id: UUID = Field(description="The offer's id.")
    title: str = Field(description="The offer, in a few words.")
    ends_at: datetime | None = Field(description="Until when it applies; null: never.")
    merchant: MerchantSummary = Field(description="Where to redeem the code.")


class ClaimOut(BaseModel):
    code: str = Field(description="The code to show at the store (26 characters, base32).")
    offer_id: UUID = Field(description="The offer claimed.")
    user_id: str = Field(description="The app's user who holds it.")
    claimed_at: datetime = Field(description="When it was claimed.")
    offer: ClaimOffer = Field(description="The offer, its end and its store.")
    share: str | None = Field(
        description="The share the claim is attributed to (extension): the one named in the "
        "claim, or its parent when it was the user's own share; null when none."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "code": "K7Q2M4ZP6XW3N5T2B4R6Y2A3CD",
                    "offer_id": "7f3e9a52-1c4d-4b8a-9e2f-6d5c4b3a2f10",
                    "user_id": "user-123",
                    "claimed_at": "2026-11-22T08:05:00Z",
                    "offer": {
                        "id": "7f3e9a52-1c4d-4b8a-9e2f-6d5c4b3a2f10",
                        "title": "Cinnamon bun with any coffee",
                        "ends_at": "2026-12-24T16:00:00Z",
                        "merchant": {
                            "id": "5d0c3a0e-7a4b-4f7e-8a59-2b1d6c9e0f31",
                            "name": "Cafe Esplanad",
                            "category": "cafe",
                            "address": "Pohjoisesplanadi 37, Helsinki",
                            "phone": None,
                            "location": {"lat": 60.1676, "lng": 24.9486},
                        },
                    },
                    "share": None,
                }
            ]
        }
    }


class RedeemedOut(BaseModel):
    code: str = Field(description="The code redeemed.")
    offer_id: UUID = Field(description="Its offer.")
    user_id: str = Field(description="The app's user who held it.")
    claimed_at: datetime = Field(description="When it was claimed.")
    redeemed_at: datetime = Field(description="When it was redeemed (now).")


class ClaimView(BaseModel):
    """A code as its cashier or its user sees it, with the whole offer."""

    code: str = Field(description="The code.")
    offer_id: UUID = Field(description="Its offer.")
    user_id: str = Field(description="The app's user who holds it.")
    claimed_at: datetime = Field(description="When it was claimed.")
    redeemed_at: datetime | None = Field(description="When it was redeemed; null: not yet.")
    offer: OfferOut = Field(description="The whole offer, as now.")
    share: str | None = Field(
        description="The share the claim is attributed to (extension): the one named in the "
        "claim, or its parent when it was the user's own share; null when none."
    )


class UserClaim(BaseModel):
    code: str = Field(description="The code.")
    offer_id: UUID = Field(description="Its offer.")
    user_id: str = Field(description="The app's user who holds it.")
    claimed_at: datetime = Field(description="When it was claimed.")
    redeemed_at: datetime | None = Field(description="When it was redeemed; null: not yet.")
    offer: ClaimOffer = Field(description="The offer, its end and its store.")
    share: str | None = Field(
        description="The share the claim is attributed to (extension): the one named in the "
        "claim, or its parent when it was the user's own share; null when none."
    )


class UserClaimsPage(BaseModel):
    results: list[UserClaim] = Field(description="The user's codes, newest first.")
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
