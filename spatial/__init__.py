"""Pure geometry, H3 and coordinate code for Nearby: no I/O, no web or database imports."""

from spatial.coords import (
    CoordSystem,
    bd09_to_gcj02,
    from_wgs84,
    from_wgs84_many,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_mainland_china,
    in_mainland_china_many,
    to_wgs84,
    to_wgs84_many,
    wgs84_to_gcj02,
)
from spatial.geometry import BBox
from spatial.h3cells import (
    INDEX_RES,
    H3Cell,
    cell_center,
    cell_of,
    cell_to_hex,
    parent_masks,
    resolution_for_area,
)
from spatial.ranking import SPHEROID_SLACK, Page, sphere_floor, take_page, window_for

__all__ = [
    "INDEX_RES",
    "SPHEROID_SLACK",
    "BBox",
    "CoordSystem",
    "H3Cell",
    "Page",
    "bd09_to_gcj02",
    "cell_center",
    "cell_of",
    "cell_to_hex",
    "from_wgs84",
    "from_wgs84_many",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_mainland_china",
    "in_mainland_china_many",
    "parent_masks",
    "resolution_for_area",
    "sphere_floor",
    "take_page",
    "to_wgs84",
    "to_wgs84_many",
    "wgs84_to_gcj02",
    "window_for",
]
