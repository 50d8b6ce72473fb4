"""spatial.ranking.take_page against a brute-force ranking of every candidate."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from spatial.ranking import SPHEROID_SLACK, sphere_floor, take_page, window_for

EARTH_SPHERE_M = 6_371_008.771415  # PostGIS's WGS-84 sphere: (2a + b) / 3


@dataclass(frozen=True)
class Row:
    id: uuid.UUID
    distance_m: float
    sphere_m: float


# Spheroid/sphere ratios as the real bound allows (|ratio - 1| < 0.0056). Ties, as shops stacked
# on one spot make them, come from drawing the same (distance, ratio) pair more than once.
spots = st.tuples(st.floats(0, 5000), st.floats(-0.0056, 0.0056))
rows = (
    st.lists(spots, min_size=1, max_size=12)
    .flatmap(
        lambda places: st.lists(
            st.tuples(st.sampled_from(places), st.integers(0, 2**32)),
            max_size=80,
            unique_by=lambda item: item[1],  # ids are unique
        )
    )
    .map(lambda items: [Row(uuid.UUID(int=key), s * (1 + e), s) for (s, e), key in items])
)


def brute_force(all_rows: list[Row], after: tuple[float, uuid.UUID] | None) -> list[Row]:
    return sorted(
        (r for r in all_rows if after is None or (r.distance_m, r.id) > after),
        key=lambda r: (r.distance_m, r.id),
    )


@settings(max_examples=300)
@given(rows, st.integers(1, 25))
def test_pages_in_order_visit_every_row_exactly_once(all_rows: list[Row], limit: int) -> None:
    by_sphere = sorted(all_rows, key=lambda r: r.sphere_m)
    seen: list[Row] = []
    after = None
    while True:
        window = window_for(limit)
        while True:
            fetched = [
                r for r in by_sphere if after is None or r.sphere_m >= sphere_floor(after[0])
            ]
            page = take_page(fetched[:window], limit=limit, window=window, after=after)
            if page is not None:
                break
            window *= 4
        assert page.items == brute_force(all_rows, after)[:limit]
        seen += page.items
        if not page.has_more:
            break
        after = (page.items[-1].distance_m, page.items[-1].id)
    assert seen == brute_force(all_rows, None)


@given(rows)
def test_keep_drops_rows_without_breaking_the_order(all_rows: list[Row]) -> None:
    def even(r: Row) -> bool:
        return r.id.int % 2 == 0

    window = len(all_rows) + 1
    page = take_page(sorted(all_rows, key=lambda r: r.sphere_m), limit=10, window=window, keep=even)
    assert page is not None
    assert page.items == [r for r in brute_force(all_rows, None) if even(r)][:10]


def test_a_full_window_that_cannot_prove_its_page_says_so() -> None:
    tied = [Row(uuid.UUID(int=i), 100.0, 100.0) for i in range(10)]
    assert take_page(tied, limit=5, window=10) is None


@given(st.floats(-89.0, 89.0), st.floats(-180, 180), st.floats(-89.0, 89.0), st.floats(-180, 180))
def test_the_slack_bounds_spheroid_against_sphere_for_any_two_points(
    lat1: float, lng1: float, lat2: float, lng2: float
) -> None:
    geod = Geod(ellps="WGS84")
    sphere = Geod(a=EARTH_SPHERE_M, b=EARTH_SPHERE_M)
    spheroid_m = geod.inv(lng1, lat1, lng2, lat2)[2]
    sphere_m = sphere.inv(lng1, lat1, lng2, lat2)[2]
    if sphere_m > 1.0:  # nearly antipodal pairs have no unique geodesic; skip only the trivial
        assert abs(spheroid_m / sphere_m - 1.0) < 0.0056 < SPHEROID_SLACK
