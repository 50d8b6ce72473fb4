"""spatial.geometry.BBox: validation, the antimeridian, centre and area."""

from __future__ import annotations

import pytest

from spatial import BBox


def test_a_box_across_the_antimeridian_splits_in_two_envelopes() -> None:
    box = BBox(10, 170, 20, -170)
    assert box.crosses_antimeridian and box.lng_span == 20
    assert box.envelopes() == [(170, 10, 180.0, 20), (-180.0, 10, -170, 20)]
    assert box.centre() == (15.0, 180.0)
    assert box.contains(15, 179.5) and box.contains(15, -179.5) and not box.contains(15, 0)


def test_an_ordinary_box_is_one_envelope() -> None:
    box = BBox(60.16, 24.93, 60.18, 24.96)
    assert box.envelopes() == [(24.93, 60.16, 24.96, 60.18)]
    assert box.centre() == pytest.approx((60.17, 24.945))
    assert box.contains(60.16, 24.93) and not box.contains(60.181, 24.94)


def test_the_whole_world_has_the_earths_area() -> None:
    assert BBox(-90, -180, 90, 180).area_m2() == pytest.approx(5.10066e14, rel=1e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((91, 0, 92, 1), "min_lat"),
        ((0, -181, 1, 1), "min_lng"),
        ((0, 0, 1, 180.5), "max_lng"),
        ((2, 0, 1, 1), "greater"),
    ],
)
def test_invalid_boxes_are_refused(args: tuple[float, float, float, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BBox(*args)
