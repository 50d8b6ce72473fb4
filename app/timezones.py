"""IANA timezones of stores: validate a given name, or infer one from the location."""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from timezonefinder import TimezoneFinder


def validate(name: str) -> str:
    """The name itself if it is an IANA zone known here; ValueError otherwise."""
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise ValueError(f"{name!r} is not an IANA timezone name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA timezone name (e.g. Asia/Shanghai)") from None
    return name


def infer(lat: float, lng: float) -> str:
    """The zone at a point; at sea, the nautical Etc/GMT zone (timezonefinder's data)."""
    return _finder().timezone_at(lat=lat, lng=lng) or "UTC"


@cache
def _finder() -> TimezoneFinder:
    return TimezoneFinder()
