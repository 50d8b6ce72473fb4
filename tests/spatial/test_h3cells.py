"""spatial.h3cells: literal cells, parents by bit masks, resolutions for areas."""

from __future__ import annotations

import h3
import h3.api.basic_int as h3i
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from spatial import (
    INDEX_RES,
    cell_center,
    cell_of,
    cell_ring,
    cell_to_hex,
    parent_masks,
    resolution_for_area,
)


def test_cell_of_matches_the_h3_documentation_example() -> None:
    assert cell_to_hex(cell_of(37.7752702151959, -122.418307270836, 9)) == "8928308280fffff"


def test_merchants_are_indexed_at_resolution_15() -> None:
    cell = cell_of(60.1699, 24.9384)
    assert INDEX_RES == 15 and h3.get_resolution(cell_to_hex(cell)) == 15
    assert cell_to_hex(cell) == "8f1126d338dc98e"


@given(st.floats(-89.9, 89.9), st.floats(-180, 180), st.integers(0, 15))
def test_parent_masks_give_h3s_own_parent(lat: float, lng: float, res: int) -> None:
    cell = cell_of(lat, lng)
    keep, set_bits = parent_masks(res)
    assert (cell & keep) | set_bits == h3i.cell_to_parent(cell, res)


def test_parent_masks_fit_in_a_signed_bigint() -> None:
    for res in range(16):
        for value in parent_masks(res):
            assert -(2**63) <= value < 2**63


def test_parent_masks_refuse_resolutions_outside_0_to_15() -> None:
    with pytest.raises(ValueError, match="0..15"):
        parent_masks(16)


def test_cell_center_is_inside_its_cell() -> None:
    cell = cell_of(22.5431, 114.0579, 9)
    assert cell_of(*cell_center(cell), 9) == cell


@pytest.mark.parametrize(
    ("area_m2", "res"),
    [
        (510e12, 0),  # the world: 122 base cells
        (4e9, 6),  # a 60 km region: 111 cells of 36 km^2
        (25e6, 9),  # a 5 km city centre: 237 cells of 0.1 km^2
        (4e6, 10),  # a 2 km viewport: 266 cells of 15,000 m^2
        (1.0, 15),
    ],
)
def test_resolution_for_area_keeps_a_map_to_a_few_hundred_cells(area_m2: float, res: int) -> None:
    assert resolution_for_area(area_m2) == res


@given(st.floats(-80, 80), st.floats(-180, 180), st.integers(1, 15))
def test_a_cell_ring_is_closed_continuous_and_holds_the_cell(
    lat: float, lng: float, res: int
) -> None:
    cell = cell_of(lat, lng, res)
    lats, lngs = cell_ring(cell)
    assert (lats[0], lngs[0]) == (lats[-1], lngs[-1]) and len(lats) >= 6
    assert max(abs(b - a) for a, b in zip(lngs, lngs[1:], strict=False)) < 180
    wrapped = [((lng + 180) % 360 - 180) for lng in lngs[:-1]]
    expected = h3i.cell_to_boundary(cell)
    assert lats[:-1] == pytest.approx([lat for lat, _ in expected], abs=1e-9)
    assert wrapped == pytest.approx([lng for _, lng in expected], abs=1e-9)
    centre_lat, centre_lng = cell_center(cell)
    centre_lng += 360 * round((lngs[0] - centre_lng) / 360)
    ring = shapely.Polygon(zip(lngs, lats, strict=True))
    assert ring.contains(shapely.Point(centre_lng, centre_lat))
