"""H3 cells of merchants: the index resolution, parents as bit masks, and cluster resolutions.

Merchants are stored with their cell at INDEX_RES = 15 (about 0.9 m^2), the finest H3 level. Every
coarser cell is then a function of the stored value alone: its parent at resolution r is two bit
operations (`cell & keep | set`, see `parent_masks`), so clusters at any resolution 0..15 are one
GROUP BY over an indexed bigint, with no H3 extension in PostgreSQL. Cells are ints (as
h3.api.basic_int gives them); clients see them as hex strings.
"""

from __future__ import annotations

import h3
import h3.api.basic_int as h3i

H3Cell = int
INDEX_RES = 15
MAX_RES = 15
_RES_SHIFT = 52  # bits 52-55 hold the resolution; digit k (1..15) sits at bits 3*(15-k)..+2
_INT64 = 1 << 64


def cell_of(lat: float, lng: float, res: int = INDEX_RES) -> H3Cell:
    """The cell containing a point."""
    return int(h3i.latlng_to_cell(lat, lng, res))


def cell_to_hex(cell: H3Cell) -> str:
    """H3's string form: lower-case hex without a prefix (what h3.int_to_str gives)."""
    return f"{cell:x}"


def parent_masks(res: int) -> tuple[int, int]:
    """(keep, set) so that `cell & keep | set` is the parent at `res` of any finer cell.

    The parent has the resolution field set to `res` and every digit below it set to 7 (unused).
    Both values are signed 64-bit, ready for a PostgreSQL bigint.
    """
    if not 0 <= res <= MAX_RES:
        raise ValueError(f"resolution must be 0..{MAX_RES}, got {res}")
    unused_bits = 3 * (MAX_RES - res)
    unused = (1 << unused_bits) - 1  # digits res+1..15, each 0b111
    keep = ~((0xF << _RES_SHIFT) | unused) & (_INT64 - 1)
    set_bits = (res << _RES_SHIFT) | unused
    return _signed(keep), _signed(set_bits)


def resolution_for_area(area_m2: float, max_cells: int = 400) -> int:
    """The finest resolution at which an area spans at most about `max_cells` average cells."""
    for res in range(MAX_RES, -1, -1):
        if area_m2 / float(h3.average_hexagon_area(res, "m^2")) <= max_cells:
            return res
    return 0


def cell_center(cell: H3Cell) -> tuple[float, float]:
    lat, lng = h3i.cell_to_latlng(cell)
    return float(lat), float(lng)


def cell_ring(cell: H3Cell) -> tuple[list[float], list[float]]:
    """The cell's outline as a closed ring (lats, lngs), for drawing on a map.

    Six vertices, five for a pentagon, more where an edge crosses an icosahedron face; the first
    repeats at the end. Longitudes are unwrapped to follow on from the first vertex, so a cell
    astride the antimeridian has some beyond +-180 instead of a ring that jumps across the map.
    (The few coarse cells around a pole have no such ring: theirs winds once round the globe.)
    """
    lats: list[float] = []
    lngs: list[float] = []
    for lat, lng in h3i.cell_to_boundary(cell):
        if lngs:
            lng += 360.0 * round((lngs[0] - lng) / 360.0)
        lats.append(float(lat))
        lngs.append(float(lng))
    return lats + lats[:1], lngs + lngs[:1]


def _signed(value: int) -> int:
    return value - _INT64 if value >= 1 << 63 else value
