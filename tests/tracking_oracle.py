"""A plain-Python oracle of the tracking state machine (API.md "Location events and webhooks"),
written from the contract, not from app/tracking.py, and knowing nothing of PostGIS.

Where a point stands towards a fence, with its accuracy circle of radius `acc` (the same rule
the service states in app/queries/tracking.py, measured here with pyproj's geodesics and
shapely):
- a circle (centre c, radius R): inside when R >= acc and d(c, p) <= R - acc; on the edge when
  d(c, p) <= R + acc; else outside;
- a polygon (edges straight in lng/lat): on the edge when acc > 0 and the polygon's edge comes
  within acc of the point; else inside when the polygon covers the point; else outside.
`margin_m` says how close the point came to one of those thresholds: the tests leave out cases
closer than the measuring error rather than loosen what they assert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import shapely
from pyproj import Geod

from tests.test_presence import edge_distance_m

GEOD = Geod(ellps="WGS84")
MAX_ACCURACY_M = 500.0


@dataclass(frozen=True)
class CircleShape:
    lat: float
    lng: float
    radius_m: float


@dataclass(frozen=True)
class PolygonShape:
    ring: tuple[tuple[float, float], ...]  # (lat, lng), closed


@dataclass(frozen=True)
class OracleFence:
    shape: CircleShape | PolygonShape
    starts_at: datetime
    ends_at: datetime | None
    dwell_s: int

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)


@dataclass(frozen=True)
class OraclePoint:
    lat: float
    lng: float
    at: datetime
    accuracy_m: float


def standing(shape: CircleShape | PolygonShape, p: OraclePoint) -> tuple[str, float]:
    """("in" | "edge" | "out", the distance in metres to the nearest decision threshold)."""
    acc = p.accuracy_m
    if isinstance(shape, CircleShape):
        d = GEOD.inv(shape.lng, shape.lat, p.lng, p.lat)[2]
        margins = [abs(d - (shape.radius_m + acc))]
        if shape.radius_m >= acc:
            margins.append(abs(d - (shape.radius_m - acc)))
            if d <= shape.radius_m - acc:
                return "in", min(margins)
        return ("edge" if d <= shape.radius_m + acc else "out"), min(margins)
    edge_m = edge_distance_m(p.lat, p.lng, list(shape.ring))
    margin = min(edge_m, abs(edge_m - acc)) if acc > 0 else edge_m
    if acc > 0 and edge_m <= acc:
        return "edge", margin
    polygon = shapely.Polygon([(lng, lat) for lat, lng in shape.ring])
    return ("in" if polygon.covers(shapely.Point(p.lng, p.lat)) else "out"), margin


@dataclass
class Oracle:
    """One user's state over the fences; `call` returns the events a tracking call causes, as
    (type, fence index, at)."""

    fences: list[OracleFence]
    newest: datetime | None = None
    visits: dict[int, tuple[datetime, bool]] = field(default_factory=dict)

    def call(self, points: list[OraclePoint]) -> list[tuple[str, int, datetime]]:
        out: list[tuple[str, int, datetime]] = []
        for p in sorted(points, key=lambda p: p.at):
            if p.accuracy_m > MAX_ACCURACY_M:
                continue
            if self.newest is not None and p.at < self.newest:
                continue
            self.newest = p.at
            for i, fence in enumerate(self.fences):
                if not fence.active(p.at):
                    continue
                where, _ = standing(fence.shape, p)
                visit = self.visits.get(i)
                if visit is None:
                    if where == "in":
                        self.visits[i] = (p.at, False)
                        out.append(("fence.entered", i, p.at))
                elif where == "out":
                    del self.visits[i]
                    out.append(("fence.exited", i, p.at))
                elif not visit[1] and p.at - visit[0] >= timedelta(seconds=fence.dwell_s):
                    self.visits[i] = (visit[0], True)
                    out.append(("fence.dwelled", i, p.at))
        return out
