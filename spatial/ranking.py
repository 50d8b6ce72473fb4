"""Exact nearest-first pages on top of PostGIS's spherical kNN order.

PostGIS walks a geography GiST index in order of `<->`, the distance on a sphere, while the
distances we report and sort by are geodesics on the WGS-84 spheroid (`ST_Distance`). The two
differ by up to about 0.6%: the spheroid's radii of curvature run from 6,335 km (meridian at the
equator) to 6,400 km (at the poles) against the sphere's 6,371 km.

So a query fetches a *window*: the `window` nearest candidates in sphere order, each with both
distances. `take_page` ranks them by (distance_m, id) and decides whether the page is exactly
the true next page: every row the window did not reach is at least as far on the sphere as the
window's farthest row, hence at least that times (1 - SPHEROID_SLACK) on the spheroid, so a page
that ends nearer than that is exact. When it cannot tell (many rows at near-equal distances),
the caller widens the window and asks again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Generic, Protocol, TypeVar
from uuid import UUID

# |spheroid / sphere - 1| stays below 0.0056 for any pair of points; the rest is margin.
SPHEROID_SLACK = 0.0075
# ST_Distance rounds to 1e-8 m and both distances carry float noise, which at sub-micrometre
# distances outweighs any relative slack (two stacked points 0.1 um away lost their place in
# paging), so every bound also gives this much.
ABSOLUTE_SLACK_M = 1e-6

Key = tuple[float, UUID]  # (distance_m, id): the order of results
_RESULT_ORDER = attrgetter("distance_m", "id")


class Candidate(Protocol):
    @property
    def id(self) -> UUID: ...
    @property
    def distance_m(self) -> float: ...  # geodesic on the WGS-84 spheroid
    @property
    def sphere_m(self) -> float: ...  # on the sphere: the order the index walks in


C = TypeVar("C", bound=Candidate)


@dataclass(frozen=True)
class Page(Generic[C]):
    items: list[C]
    has_more: bool


def window_for(limit: int) -> int:
    """A first window: the page, one more to see whether there is a next page, and a margin.

    On the densest demo data (stacked shops in Helsinki malls) a margin of 5 left 0.4% of
    20-result pages unproven on the first try, and 10 none.
    """
    return limit + 1 + 5 + limit // 10


def sphere_floor(after_distance_m: float) -> float:
    """Rows nearer than this on the sphere are surely before `after_distance_m` on the spheroid."""
    return max(0.0, after_distance_m / (1.0 + SPHEROID_SLACK) - ABSOLUTE_SLACK_M)


def take_page(
    candidates: Sequence[C],
    *,
    limit: int,
    window: int,
    after: Key | None = None,
    keep: Callable[[C], bool] | None = None,
) -> Page[C] | None:
    """The first `limit` candidates after `after` in (distance_m, id) order, or None if unsure.

    `candidates` are what a query returned in ascending `sphere_m` with LIMIT `window`; `keep`
    is an exact test the query could only approximate (it may only drop rows).
    """
    if after is not None or keep is not None:
        candidates_left: Sequence[C] = [
            c
            for c in candidates
            if (after is None or (c.distance_m, c.id) > after) and (keep is None or keep(c))
        ]
    else:
        candidates_left = candidates
    ranked = sorted(candidates_left, key=_RESULT_ORDER)
    if len(candidates) < window:  # the query ran dry: nothing was left unseen
        return Page(ranked[:limit], has_more=len(ranked) > limit)
    if len(ranked) <= limit:
        return None
    horizon = max(c.sphere_m for c in candidates) * (1.0 - SPHEROID_SLACK) - ABSOLUTE_SLACK_M
    if ranked[limit - 1].distance_m < horizon:
        return Page(ranked[:limit], has_more=True)
    return None
