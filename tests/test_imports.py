"""The import pipeline on real PostGIS, in each format: what lands, what is rejected and why.

Each test imports inside its own rolled-back transaction, through the same code a job runs
(app.imports.load.load), and reads back the stored rows and the reported rejections.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.imports.formats import FileRejected, read_mapping
from app.schemas.imports import ImportFormat
from spatial import CoordSystem, gcj02_to_bd09, wgs84_to_gcj02
from tests.factories import create_owner
from tests.imports_helpers import import_file, import_rows, store

FORMATS = list(ImportFormat)
LAT = {"csv": "lat", "ndjson": "lat", "geojson": "geometry.coordinates[1]"}
LNG = {"csv": "lng", "ndjson": "lng", "geojson": "geometry.coordinates[0]"}


@pytest.fixture
async def owner_id(conn: AsyncConnection) -> uuid.UUID:
    owner, _ = await create_owner(conn, "Importer")
    return owner.id


async def stored(conn: AsyncConnection, owner_id: uuid.UUID) -> dict[str, Row[Any]]:
    rows = await conn.execute(
        text(
            "SELECT external_id, name, category, tags, address, phone, ST_Y(location::geometry) AS"
            " lat, ST_X(location::geometry) AS lng, timezone, opening_hours, attributes,"
            " updated_at, open_minutes IS NOT NULL AS has_minutes, ctid::text AS version"
            " FROM merchant WHERE owner_id = :o ORDER BY external_id"
        ),
        {"o": owner_id},
    )
    return {r.external_id: r for r in rows}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_good_rows_land_with_every_field(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    result = await import_rows(conn, owner_id, tmp_path, [store(1), store(2)], fmt)
    assert result.rejections == []
    assert (result.loaded.rows_total, result.loaded.rows_failed) == (2, 0)
    assert (result.loaded.inserted, result.loaded.updated) == (2, 0)
    rows = await stored(conn, owner_id)
    one = rows["S-0001"]
    assert one.name == "Store 1 南京路店" and one.category == "coffee"
    assert one.tags == ["wifi", "outdoor"] and one.phone == "+86 21 5555 0100"
    assert one.lat == pytest.approx(31.2305, abs=1e-12) and one.lng == 121.4737
    assert one.timezone == "Asia/Shanghai" and one.has_minutes and one.attributes == {}


@pytest.mark.parametrize("fmt", FORMATS)
async def test_importing_the_same_file_again_changes_nothing(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    rows = [store(n) for n in range(1, 6)]
    path = tmp_path / f"list.{fmt.value}"
    from tests.imports_helpers import render

    path.write_bytes(render(rows, fmt))
    first = await import_file(conn, owner_id, path, fmt)
    before = await stored(conn, owner_id)
    await conn.execute(text("SELECT pg_sleep(0.01)"))
    second = await import_file(conn, owner_id, path, fmt)
    assert (first.loaded.inserted, first.loaded.updated) == (5, 0)
    assert (second.loaded.inserted, second.loaded.updated) == (0, 0)
    assert second.loaded.rows_total - second.loaded.rows_failed == 5  # all unchanged
    assert await stored(conn, owner_id) == before  # the same row versions (ctid): no rewrite


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_changed_row_updates_only_that_store(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    await import_rows(conn, owner_id, tmp_path, [store(1), store(2)], fmt)
    before = await stored(conn, owner_id)
    again = await import_rows(conn, owner_id, tmp_path, [store(1), store(2, name="Renamed")], fmt)
    assert (again.loaded.inserted, again.loaded.updated) == (0, 1)
    after = await stored(conn, owner_id)
    assert after["S-0002"].name == "Renamed"
    assert after["S-0001"] == before["S-0001"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_rows_without_coordinates_are_reported_and_skipped(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    rows = [store(1), store(2, lat=None, lng=None), store(3, lat=None), store(4)]
    result = await import_rows(conn, owner_id, tmp_path, rows, fmt)
    assert sorted(await stored(conn, owner_id)) == ["S-0001", "S-0004"]
    assert result.loaded.rows_failed == 2
    if fmt is ImportFormat.GEOJSON:  # a Feature without a Point
        assert result.rejections == [
            (2, "geometry", "is required: a Point at the store"),
            (3, "geometry", "is required: a Point at the store"),
        ]
    else:
        assert result.rejections == [
            (2, "lat", "is required"),
            (2, "lng", "is required"),
            (3, "lat", "is required"),
        ]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_the_last_of_duplicated_ids_wins_and_the_earlier_ones_are_reported(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    rows = [
        store(1, name="first"),
        store(2),
        store(1, name="second"),
        store(3),
        store(1, name="third"),
    ]
    result = await import_rows(conn, owner_id, tmp_path, rows, fmt)
    assert (await stored(conn, owner_id))["S-0001"].name == "third"
    msg = "duplicate external_id: row 5 of the file replaces this row"
    assert result.rejections == [(1, "external_id", msg), (3, "external_id", msg)]
    assert (result.loaded.rows_total, result.loaded.rows_failed) == (5, 2)
    assert result.loaded.inserted == 3


async def test_a_duplicate_whose_last_row_is_bad_leaves_the_last_good_one(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path
) -> None:
    rows = [store(1, name="good"), store(1, name="bad", lat=None)]
    result = await import_rows(conn, owner_id, tmp_path, rows, ImportFormat.CSV)
    assert (await stored(conn, owner_id))["S-0001"].name == "good"
    assert result.rejections == [(2, "lat", "is required")]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_swapped_axes_are_rejected_with_a_hint_never_swapped(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    rows = [store(1, lat=121.4737, lng=31.2304), store(2)]
    result = await import_rows(conn, owner_id, tmp_path, rows, fmt)
    assert result.rejections == [
        (1, LAT[fmt], "Input should be less than or equal to 90 (are lat and lng swapped?)")
    ]
    assert sorted(await stored(conn, owner_id)) == ["S-0002"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_out_of_range_and_non_numbers_are_rejected(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    rows = [
        store(1, lat=-91),
        store(2, lng=180.5),
        store(3, lat="31,23"),
        store(4, lng="121.47°"),
        store(5, lat="nan"),
        store(6, lng="1e400"),
        store(7),
    ]
    result = await import_rows(conn, owner_id, tmp_path, rows, fmt)
    not_a_number = "Input should be a valid number, unable to parse string as a number"
    assert result.rejections == [
        (1, LAT[fmt], "Input should be greater than or equal to -90"),
        (2, LNG[fmt], "Input should be less than or equal to 180"),
        (3, LAT[fmt], not_a_number),
        (4, LNG[fmt], not_a_number),
        (5, LAT[fmt], "Input should be a finite number"),
        (6, LNG[fmt], "Input should be a finite number"),
    ]
    assert sorted(await stored(conn, owner_id)) == ["S-0007"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_invalid_timezones_and_hours_are_rejected_and_missing_zones_inferred(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    rows = [
        store(1, timezone="Asia/Beijing"),
        store(2, timezone="GMT+08:00 Asia/Shanghai"),
        store(3, opening_hours="Mo-Fr 8am-late"),
        store(4, timezone=None, lat=60.1699, lng=24.9384),
        store(5, timezone="Asia/Beijing", opening_hours="sunrise-sunset"),
    ]
    result = await import_rows(conn, owner_id, tmp_path, rows, fmt)
    assert [(r, f) for r, f, _ in result.rejections] == [
        (1, "timezone"),
        (2, "timezone"),
        (3, "opening_hours"),
        (5, "opening_hours"),
        (5, "timezone"),
    ]
    assert (
        result.rejections[0][2]
        == "'Asia/Beijing' is not an IANA timezone name (e.g. Asia/Shanghai)"
    )
    assert (await stored(conn, owner_id))["S-0004"].timezone == "Europe/Helsinki"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_text_limits_are_those_of_the_api(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    rows = [
        store(1, name="x" * 201),
        store(2, address="y" * 501),
        store(3, name="nul\x00byte"),
        store(4, tags=";".join(f"t{i}" for i in range(51))),
        store(5, tags="ok;" + "z" * 201),
        store(6, name="   "),
        store(7, name="x" * 200, address="y" * 500, tags=";".join(f"t{i}" for i in range(50))),
    ]
    result = await import_rows(conn, owner_id, tmp_path, rows, fmt)
    assert result.rejections == [
        (1, "name", "String should have at most 200 characters"),
        (2, "address", "String should have at most 500 characters"),
        (3, "name", "Value error, must not contain NUL characters"),
        (4, "tags", "List should have at most 50 items after validation, not 51"),
        (5, "tags", "tag 2: String should have at most 200 characters"),
        (6, "name", "is required"),
    ]
    assert sorted(await stored(conn, owner_id)) == ["S-0007"]


@pytest.mark.parametrize(
    ("coord", "convert"),
    [
        (CoordSystem.GCJ02, wgs84_to_gcj02),
        (CoordSystem.BD09, lambda lat, lng: gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
async def test_coordinates_in_any_system_are_stored_in_wgs84(
    conn: AsyncConnection,
    owner_id: uuid.UUID,
    tmp_path: Path,
    fmt: ImportFormat,
    coord: CoordSystem,
    convert: Callable[[float, float], tuple[float, float]],
) -> None:
    shanghai, hong_kong = (31.2304, 121.4737), (22.2819, 114.1582)
    rows = [
        store(1, lat=convert(*shanghai)[0], lng=convert(*shanghai)[1]),
        store(2, lat=convert(*hong_kong)[0], lng=convert(*hong_kong)[1]),
    ]
    await import_rows(conn, owner_id, tmp_path, rows, fmt, coord=coord)
    got = await stored(conn, owner_id)
    for key, (lat, lng) in (("S-0001", shanghai), ("S-0002", hong_kong)):
        assert (got[key].lat, got[key].lng) == (
            pytest.approx(lat, abs=1e-8),
            pytest.approx(lng, abs=1e-8),
        )


async def test_csv_quirks_bom_aliases_quoted_line_breaks_and_field_counts(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path
) -> None:
    content = (
        "\ufeffExternal_ID,Name,Category,Latitude,Longitude,Address\n"
        'A1,"Two\nlines",tea,31.2,121.4,\n'
        "A2,Plain,tea,31.2,121.4,\n"
        "A3,Too many,tea,31.2,121.4,x,extra\n"
        "A4,Too few,tea,31.2\n"
        "\n"
        ",,,,,\n"
        'A5,"Quoted, comma",tea,31.2,121.4,"Road 1, Shanghai"\n'
    )
    path = tmp_path / "quirks.csv"
    path.write_text(content, encoding="utf-8")
    result = await import_file(conn, owner_id, path, ImportFormat.CSV)
    assert result.rejections == [
        (3, "record", "has 7 fields where the header has 6"),
        (4, "record", "has 4 fields where the header has 6"),
    ]
    rows = await stored(conn, owner_id)
    assert sorted(rows) == ["A1", "A2", "A5"]
    assert rows["A1"].name == "Two\nlines" and rows["A5"].address == "Road 1, Shanghai"
    assert (result.loaded.rows_total, result.loaded.rows_failed) == (5, 2)


async def test_invalid_utf8_very_long_fields_and_stray_quotes_in_csv(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path
) -> None:
    header = b"external_id,name,category,lat,lng\n"
    content = (
        header
        + b"B1,Caf\xe9 latin-1,coffee,1,2\n"
        + b"B2,"
        + b"x" * 300
        + b",coffee,1,2\n"
        + b'B3,"'
        + b"y" * 140_000
        + b",coffee,1,2\n"
        + b"B4,Fine,coffee,1,2\n"
        + b"B5,"
        + b"w" * (2 * 1024 * 1024)
        + b"\n"
        + b"B6,"
        + b"v" * 200_000
        + b",coffee,1,2\n"
        + b"B7,Also fine,coffee,1,2\n"
    )
    path = tmp_path / "dirty.csv"
    path.write_bytes(content)
    result = await import_file(conn, owner_id, path, ImportFormat.CSV)
    unreadable = (
        "cannot be read as CSV (field larger than field limit (131072):"
        " a huge field or a stray quote?)"
    )
    assert result.rejections == [
        (1, "name", "is not valid UTF-8 text"),
        (2, "name", "String should have at most 200 characters"),
        (3, "record", unreadable),
        (5, "record", "has a line longer than 1 MiB"),
        (6, "record", unreadable),
    ]
    assert sorted(await stored(conn, owner_id)) == ["B4", "B7"]


async def test_ndjson_lines_that_are_not_objects_are_reported(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path
) -> None:
    content = (
        '{"external_id": "N1", "name": "A", "category": "c", "lat": 1, "lng": 2}\n'
        "\n"
        '{"external_id": "N2", "name": "B", "category": "c", "lat": 1, "lng": 2\n'
        '["not", "an", "object"]\n'
        '{"external_id": 3, "name": "C", "category": "c", "lat": "1.5", "lng": 2}\n'
        '{"external_id": "N4", "name": "D", "category": "c", "latitude": 1, "longitude": 2,'
        ' "tags": ["a", "b", "a"], "attributes": {"floor": 2}}\n'
    )
    path = tmp_path / "lines.ndjson"
    path.write_text(content)
    result = await import_file(conn, owner_id, path, ImportFormat.NDJSON)
    assert [(r, f) for r, f, _ in result.rejections] == [
        (3, "record"),
        (4, "record"),
        (5, "external_id"),
    ]
    assert result.rejections[2][2] == "Input should be a valid string"
    rows = await stored(conn, owner_id)
    assert sorted(rows) == ["N1", "N4"]
    assert rows["N4"].tags == ["a", "b"] and rows["N4"].attributes == {"floor": 2}


async def test_geojson_features_that_are_no_points_are_reported(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path
) -> None:
    content = """{"type": "FeatureCollection", "name": "stores", "features": [
      {"type": "Feature", "id": "G1", "geometry": {"type": "Point", "coordinates": [2, 1]},
       "properties": {"name": "A", "category": "c"}},
      {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []},
       "properties": {"external_id": "G2", "name": "B", "category": "c"}},
      {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1]},
       "properties": {"external_id": "G3", "name": "C", "category": "c"}},
      ["not a feature"],
      {"type": "Feature", "geometry": {"type": "Point", "coordinates": [2, 1, 30]},
       "properties": {"external_id": "G5", "name": "E", "category": "c", "lat": 99}}
    ], "bbox": [1, 1, 2, 2]}"""
    path = tmp_path / "features.geojson"
    path.write_text(content)
    result = await import_file(conn, owner_id, path, ImportFormat.GEOJSON)
    assert result.rejections == [
        (2, "geometry", "must be a Point, not 'Polygon'"),
        (3, "geometry", "coordinates must be [lng, lat]"),
        (4, "record", 'is not a GeoJSON Feature (an object of type "Feature")'),
    ]
    assert sorted(await stored(conn, owner_id)) == ["G1", "G5"]


async def test_attributes_are_kept_when_a_record_has_none(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path
) -> None:
    with_attributes = [store(1) | {"attributes": {"seats": 4}}]
    await import_rows(conn, owner_id, tmp_path, with_attributes, ImportFormat.NDJSON)
    again = await import_rows(conn, owner_id, tmp_path, [store(1, name="new")], ImportFormat.CSV)
    assert again.loaded.updated == 1
    row = (await stored(conn, owner_id))["S-0001"]
    assert row.name == "new" and row.attributes == {"seats": 4}


async def test_column_mapping_reads_other_names_or_skips_a_field(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path
) -> None:
    path = tmp_path / "own.csv"
    path.write_text("id,title,kind,y,x,Timezone\nM1,A,c,60.17,24.94,GMT+2 Helsinki\n")
    columns = {"external_id": "id", "name": "title", "category": "kind", "lat": "y", "lng": "x"}
    bad = await import_file(conn, owner_id, path, ImportFormat.CSV, columns=columns)
    assert bad.rejections == [
        (1, "Timezone", "'GMT+2 Helsinki' is not an IANA timezone name (e.g. Asia/Shanghai)")
    ]
    good = await import_file(
        conn, owner_id, path, ImportFormat.CSV, columns=columns | {"timezone": ""}
    )
    assert (
        good.rejections == [] and (await stored(conn, owner_id))["M1"].timezone == "Europe/Helsinki"
    )


@pytest.mark.parametrize(
    ("fmt", "content", "reason"),
    [
        (ImportFormat.CSV, b"", "the file is empty"),
        (ImportFormat.NDJSON, b"", "the file is empty"),
        (ImportFormat.GEOJSON, b"", "the file is empty"),
        (ImportFormat.GEOJSON, b"  \n", "the file is empty"),
        (ImportFormat.NDJSON, b"\n\n", "the file has no records"),
        (ImportFormat.CSV, b"\n", "the first line of the file is blank; it must be the CSV header"),
        (
            ImportFormat.CSV,
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "this is not a UTF-8 CSV file (its first line is binary or not UTF-8)",
        ),
        (
            ImportFormat.CSV,
            b'{"type": "FeatureCollection", "features": []}',
            "this looks like JSON, not CSV: send it with format=geojson or ndjson",
        ),
        (
            ImportFormat.CSV,
            b"external_id;name;category;lat;lng\nA;b;c;1;2\n",
            "the CSV header lacks the required column(s) external_id, name, category, lat, lng;"
            " it has 'external_id;name;category;lat;lng'",
        ),
        (
            ImportFormat.CSV,
            b"external_id,name,category,lat,latitude,lng\n",
            "the header has both lat and latitude",
        ),
        (ImportFormat.CSV, b"name,Name,category\n", "the header names the column 'Name' twice"),
        (
            ImportFormat.NDJSON,
            b"external_id,name\nA,b\n",
            "this is not NDJSON: line 1 is not JSON"
            " (unexpected character, expected a JSON value: line 1 column 1 (char 0))",
        ),
        (ImportFormat.NDJSON, b"[1, 2]\n", "this is not NDJSON: line 1 is not a JSON object"),
        (
            ImportFormat.GEOJSON,
            b"external_id,name\n",
            "this is not a GeoJSON FeatureCollection (it is not a JSON object)",
        ),
        (
            ImportFormat.GEOJSON,
            b'{"type": "Feature", "geometry": null}',
            "this GeoJSON is a 'Feature', not a FeatureCollection",
        ),
        (
            ImportFormat.GEOJSON,
            b'{"a": 1}{"b": 2}',
            "there is more data after the end of the JSON document",
        ),
        (
            ImportFormat.GEOJSON,
            b'{"type": "FeatureCollection", "features": [{"type": "Feature"',
            "this is not valid JSON in feature 1: Expecting ',' delimiter",
        ),
        (
            ImportFormat.GEOJSON,
            b'{"type": "FeatureCollection"}',
            "this is not a GeoJSON FeatureCollection: it has no features array",
        ),
        (ImportFormat.GEOJSON, b"\xff\xfe{\x00", "this is not a UTF-8 JSON file"),
    ],
)
async def test_files_that_are_not_store_lists_are_rejected_whole(
    conn: AsyncConnection,
    owner_id: uuid.UUID,
    tmp_path: Path,
    fmt: ImportFormat,
    content: bytes,
    reason: str,
) -> None:
    path = tmp_path / f"bad.{fmt.value}"
    path.write_bytes(content)
    with pytest.raises(FileRejected) as rejected:
        await import_file(conn, owner_id, path, fmt)
    assert rejected.value.reason == reason


@pytest.mark.parametrize("fmt", [ImportFormat.CSV, ImportFormat.GEOJSON])
async def test_a_list_with_no_stores_imports_nothing(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path, fmt: ImportFormat
) -> None:
    """A CSV header alone, or an empty features array (NDJSON without lines is an empty file)."""
    result = await import_rows(conn, owner_id, tmp_path, [], fmt)
    assert (result.loaded.rows_total, result.loaded.inserted, result.rejections) == (0, 0, [])


async def test_many_batches_keep_row_numbers_and_duplicates_across_batches(
    conn: AsyncConnection, owner_id: uuid.UUID, tmp_path: Path
) -> None:
    rows = [store(n) for n in range(1, 12_001)]
    rows[11_000] = store(3, name="late duplicate")  # row 11001 replaces row 3
    rows[7_000] = store(7_001, lat=95)  # row 7001
    result = await import_rows(conn, owner_id, tmp_path, rows, ImportFormat.CSV)
    assert [(r, f) for r, f, _ in result.rejections] == [(3, "external_id"), (7001, "lat")]
    assert (result.loaded.rows_total, result.loaded.rows_failed) == (12_000, 2)
    assert result.loaded.inserted == 11_998
    assert (await stored(conn, owner_id))["S-0003"].name == "late duplicate"


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [
        (["no-equals-sign"], "'no-equals-sign' is not FIELD=COLUMN"),
        (["=Name"], "'=Name' is not FIELD=COLUMN"),
        (["colour=red", "shade=x"], "colour is not a field; shade is not a field"),
        (["lat="], "lat is required"),
    ],
)
def test_a_bad_column_mapping_says_what_is_wrong(pairs: list[str], problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        read_mapping(pairs)
    assert str(raised.value) == problem


def test_a_column_mapping_reads_fields_and_skipped_ones() -> None:
    assert read_mapping([" name = Store name ", "phone="]) == {"name": "Store name", "phone": ""}
