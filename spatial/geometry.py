"""Plain geometry of the map: viewport boxes that may cross the antimeridian."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG), for areas that only choose a resolution

Envelope = tuple[float, float, float, float]  # min_lng, min_lat, max_lng, max_lat


@dataclass(frozen=True)
class BBox:
    """A lat/lng viewport. min_lng > max_lng means it crosses the antimeridian."""

    min_lat: float
    min_lng: float
    max_lat: float
    max_lng: float

    def __post_init__(self) -> None:
        for name in ("min_lat", "max_lat"):
            if not -90.0 <= getattr(self, name) <= 90.0:
                raise ValueError(f"{name} must be within -90..90")
        for name in ("min_lng", "max_lng"):
            if not -180.0 <= getattr(self, name) <= 180.0:
                raise ValueError(f"{name} must be within -180..180")
        if self.min_lat > self.max_lat:
            raise ValueError("min_lat must not be greater than max_lat")

    @property
    def crosses_antimeridian(self) -> bool:
        return self.min_lng > self.max_lng

    @property
    def lng_span(self) -> float:
        span = self.max_lng - self.min_lng
        return span + 360.0 if self.crosses_antimeridian else span

    def envelopes(self) -> list[Envelope]:
        """One envelope, or two split at the antimeridian."""
        if self.crosses_antimeridian:
            return [
                (self.min_lng, self.min_lat, 180.0, self.max_lat),
                (-180.0, self.min_lat, self.max_lng, self.max_lat),
            ]
        return [(self.min_lng, self.min_lat, self.max_lng, self.max_lat)]

    def centre(self) -> tuple[float, float]:
        """(lat, lng) of the middle of the box, along its own longitude span."""
        lng = self.min_lng + self.lng_span / 2.0
        return (self.min_lat + self.max_lat) / 2.0, lng - 360.0 if lng > 180.0 else lng

    def contains(self, lat: float, lng: float) -> bool:
        if not self.min_lat <= lat <= self.max_lat:
            return False
        if self.crosses_antimeridian:
            return lng >= self.min_lng or lng <= self.max_lng
        return self.min_lng <= lng <= self.max_lng

    def area_m2(self) -> float:
        """Area on the sphere: R^2 * dlng * (sin max_lat - sin min_lat)."""
        band = math.sin(math.radians(self.max_lat)) - math.sin(math.radians(self.min_lat))
        return EARTH_RADIUS_M**2 * math.radians(self.lng_span) * band


def normalize_lng(lng: float) -> float:
    """One spelling for the antimeridian: +180 becomes -180 (the same meridian)."""
    return -180.0 if lng == 180.0 else lng


def reach_m(lat: float, lng: float, envelopes: Sequence[Envelope]) -> float:
    """A distance from (lat, lng) beyond which no point of the envelopes lies (1% to spare).

    Measured on the mean sphere at 64 points along each edge; the 1% covers both the WGS-84
    spheroid (within 0.6% of the sphere) and the edges between samples.
    """
    farthest = 0.0
    for min_lng, min_lat, max_lng, max_lat in envelopes:
        for i in range(65):
            t = i / 64
            along_lat = min_lat + (max_lat - min_lat) * t
            along_lng = min_lng + (max_lng - min_lng) * t
            for point in (
                (along_lat, min_lng),
                (along_lat, max_lng),
                (min_lat, along_lng),
                (max_lat, along_lng),
            ):
                farthest = max(farthest, _sphere_m(lat, lng, *point))
    return farthest * 1.01 + 1.0


def _sphere_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance on the mean sphere (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
