"""Shapes of location tracking (API.md "Location events and webhooks": POST /v1/track)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import HintsSwappedLatLng, Instant, Lat, Lng, QueryText, Strict
from app.schemas.events import EventOut
from app.schemas.offers import OfferHere
from spatial import CoordSystem

MAX_POINTS = 100
MAX_REPORTED_ACCURACY_M = 1_000_000.0


class TrackPoint(Strict, HintsSwappedLatLng):
    lat: Lat = Field(description="Latitude, in the body's `coord`.", examples=[60.1699])
    lng: Lng = Field(description="Longitude, in the body's `coord`.", examples=[24.9384])
    at: Instant | None = Field(
        None,
        description="When the user was there (RFC 3339); default now. At most 5 minutes ahead"
        " of the server's clock.",
    )
    accuracy_m: float = Field(
        0.0,
        ge=0,
        le=MAX_REPORTED_ACCURACY_M,
        allow_inf_nan=False,
        description="Radius of the position's uncertainty, metres (default 0). A point whose"
        " circle straddles a fence's edge changes nothing; over 500 m the point is ignored.",
        examples=[12],
    )


class TrackIn(Strict):
    user_id: QueryText | None = Field(
        None,
        description="The app's user: required with an app key; with a user token absent or"
        " equal to its sub.",
    )
    coord: CoordSystem = Field(
        CoordSystem.WGS84, description="Coordinate system of the points and of the response."
    )
    points: list[TrackPoint] = Field(
        min_length=1,
        max_length=MAX_POINTS,
        description=f"1..{MAX_POINTS} positions, in any order: they are taken in order of `at`.",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "user_id": "wx-user-42",
                    "coord": "wgs84",
                    "points": [
                        {
                            "lat": 60.1699,
                            "lng": 24.9384,
                            "at": "2026-12-05T12:00:00Z",
                            "accuracy_m": 12,
                        },
                        {
                            "lat": 60.1702,
                            "lng": 24.9390,
                            "at": "2026-12-05T12:00:10Z",
                            "accuracy_m": 9,
                        },
                    ],
                }
            ]
        }
    }


class TrackOut(BaseModel):
    events: list[EventOut] = Field(description="The fence events these points caused, in order.")
    offers_here: list[OfferHere] = Field(
        description="The offers at the newest point, now: what GET /v1/offers/here returns."
    )
