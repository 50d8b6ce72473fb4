"""Derive spatial/data/mainland_china.json: the area where GCJ-02 applies.

Source: Natural Earth's public-domain 1:10m admin-0 countries (v4.1.0), as shipped in TopoJSON by
the npm package `world-atlas` (v2). Natural Earth files Hong Kong (344), Macao (446) and Taiwan
(158, with Kinmen and Matsu) as units of their own, so feature 156 ("China") is the mainland.

The 10m coastline is generalised (positions are quantized to about 300 m), so a shop on a
seafront in Shenzhen, Xiamen or Sanya can fall just "in the sea" and would escape the datum shift.
The area therefore is China's land plus the sea within SEA_MARGIN_DEG of it that is nearer to
China's land than to any other unit's (Hong Kong across Starling Inlet, Macao, Kinmen, Korea),
found as the union over a ladder of distances d of buffer(China, d) - buffer(neighbours, d), in
steps of STEP_DEG. Land borders keep Natural Earth's precision (about 300 m).

Run by hand when the outline should change (needs shapely, e.g. from the project's .venv):

    npm pack world-atlas@2 && tar xzf world-atlas-2.*.tgz
    .venv/bin/python scripts/build_mainland_outline.py package/countries-10m.json
"""

import json
import sys
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon

CHINA = "156"
SEA_MARGIN_DEG = 0.1  # about 11 km
STEP_DEG = 0.0025  # about 250 m, the precision of the 10m data
OUT = Path(__file__).resolve().parent.parent / "spatial" / "data" / "mainland_china.json"

Arcs = list[list[tuple[float, float]]]


def decode_arcs(topology: dict) -> Arcs:
    """Absolute (lng, lat) positions of every arc; TopoJSON stores quantized deltas."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arc_ids: list[int], arcs: Arcs) -> list[tuple[float, float]]:
    """Stitch a ring from arc references: ~i is arc i reversed; arcs share their end points."""
    points: list[tuple[float, float]] = []
    for i in arc_ids:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def unit_shape(geometry: dict, arcs: Arcs) -> shapely.Geometry:
    polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
    rings = [[ring(r, arcs) for r in polygon] for polygon in polygons]
    # Quantization collapses some islets to fewer than four positions: they have no area.
    shape = MultiPolygon(
        [Polygon(p[0], [h for h in p[1:] if len(h) >= 4]) for p in rings if len(p[0]) >= 4]
    )
    return shapely.make_valid(shape, method="structure")


def main(path: str) -> None:
    topology = json.loads(Path(path).read_text())
    arcs = decode_arcs(topology)
    units = [g for g in topology["objects"]["countries"]["geometries"] if g.get("arcs")]
    china = unit_shape(next(g for g in units if g.get("id") == CHINA), arcs)
    reach = china.buffer(2 * SEA_MARGIN_DEG)
    neighbours = shapely.union_all(
        [
            shape
            for g in units
            if g.get("id") != CHINA and (shape := unit_shape(g, arcs)).intersects(reach)
        ]
    )
    steps = round(SEA_MARGIN_DEG / STEP_DEG)
    nearer = [
        china.buffer(STEP_DEG * k).difference(neighbours.buffer(STEP_DEG * k))
        for k in range(1, steps + 1)
    ]
    area = shapely.union_all([china, *nearer])
    area = shapely.set_precision(area.simplify(0.001), 1e-5)  # 1e-5 deg is about 1 m
    OUT.write_text(
        json.dumps(
            {
                "source": "Natural Earth 1:10m admin-0 countries v4.1.0 (public domain), "
                f"via world-atlas 2; land of unit 156 plus the sea within {SEA_MARGIN_DEG} deg "
                "of it that is nearer to it than to any other unit",
                "geometry": shapely.geometry.mapping(area),
            },
            separators=(",", ":"),
        )
        + "\n"
    )
    vertices = shapely.get_num_coordinates(area)
    print(f"{OUT}: {area.geom_type}, {vertices} vertices, valid={area.is_valid}")


if __name__ == "__main__":
    main(sys.argv[1])
