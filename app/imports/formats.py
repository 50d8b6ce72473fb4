"""Store lists as files: CSV, GeoJSON and NDJSON read as a stream of records, never whole.

A reader yields, in file order, a `Record` (a store's values under the contract's field names,
empty values left out) or a `RecordError` (a record that cannot be read at all: wrong field
count, broken quoting, a line over 1 MiB, invalid JSON). A file that is not of its format at all
raises `FileRejected` with the reason: empty, not UTF-8, a CSV header without the required
columns, JSON that is not a FeatureCollection. `row` is the 1-based number of the data record:
the CSV header is not counted and a quoted line break does not start a record; the feature's
position in GeoJSON; the line in NDJSON. Blank CSV records (or ones of empty cells only) and
blank NDJSON lines are counted but carry no store, so they are skipped without a report.

Column names match without regard to case or surrounding blanks; `latitude`, `longitude` and
`lon` are accepted for `lat` and `lng`, and `columns` maps a field to any other name, or to ""
to leave an optional field unread (a `timezone` column of junk: the zones are then inferred).
`constants` give a field one value in every record (`set=category=tea`): its column, if the
file has one, is not read.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from pydantic import ValidationError

from app.imports.geojson import TOO_DEEP, FeatureCollection, NotAFeatureCollection
from app.merchants import FieldError, checked_opening_hours, checked_timezone
from app.schemas.imports import ImportFormat, StoreRecord

FIELDS = tuple(StoreRecord.model_fields)  # what a record may hold, in the schema's order
REQUIRED = ("external_id", "name", "category", "lat", "lng")
ALIASES = {"lat": ("lat", "latitude"), "lng": ("lng", "longitude", "lon")}
MAX_LINE_CHARS = 1024 * 1024  # a CSV or NDJSON line; longer ones are reported and skipped
RECORD = "record"  # the `field` of an error about a whole record
_ORJSON_TOO_DEEP = "depth limit exceeded"  # orjson's message past its 1,024 levels
_LONG_DIGITS = re.compile(rb"\d{19}")  # a number that may not fit in 64 bits


class FileRejected(Exception):
    """The file is not a store list of its format; `reason` says why, for the job."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Record:
    row: int
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordError:
    row: int
    field: str
    msg: str


def read_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """`FIELD=COLUMN` pairs (HTTP `map=`, the command's `--map`) as field -> column, "" for a
    field not read; ValueError saying what is wrong."""
    columns: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip():
            raise ValueError(f"{pair!r} is not FIELD=COLUMN")
        columns[field.strip()] = column.strip()
    problems = [f"{field} is not a field" for field in columns if field not in FIELDS]
    problems += [f"{field} is required" for field in REQUIRED if columns.get(field) == ""]
    if problems:
        raise ValueError("; ".join(problems))
    return columns


# Fields a constant may not give: a store's identity and position differ from row to row.
NOT_CONSTANT = ("external_id", "lat", "lng", "attributes")


def read_constants(pairs: Sequence[str], columns: Mapping[str, str]) -> dict[str, Any]:
    """`FIELD=VALUE` pairs (HTTP `set=`, the command's `--set`) as field -> value (tags split on
    `;`); ValueError saying what is wrong. A field may not be both mapped and set."""
    constants: dict[str, Any] = {}
    problems: list[str] = []
    for pair in pairs:
        field, sep, value = pair.partition("=")
        field, value = field.strip(), value.strip()
        if not sep or not field:
            problems.append(f"{pair!r} is not FIELD=VALUE")
        elif field not in FIELDS:
            problems.append(f"{field} is not a field")
        elif field in NOT_CONSTANT:
            problems.append(f"{field} differs from store to store and cannot be set for all")
        elif not value:
            problems.append(f"{field} needs a value (map={field}= leaves a field unread)")
        elif field in columns:
            problems.append(f"{field} is both mapped (map=) and set (set=)")
        elif field in constants:
            problems.append(f"{field} is set twice")
        else:
            constants[field] = _split_tags(value) if field == "tags" else value
    if not problems:
        problems = _constant_problems(constants)
    if problems:
        raise ValueError("; ".join(problems))
    return constants


def _constant_problems(constants: dict[str, Any]) -> list[str]:
    """What a row would be told about these values: the checks of every record, up front."""
    probe = {"external_id": "x", "name": "x", "category": "x", "lat": 0, "lng": 0} | constants
    try:
        StoreRecord.model_validate(probe)
    except ValidationError as exc:
        return [f"{e['loc'][0]}: {e['msg']}" for e in exc.errors(include_url=False) if e["loc"]]
    try:
        if "timezone" in constants:
            checked_timezone(constants["timezone"], 0.0, 0.0)
        checked_opening_hours(constants.get("opening_hours"))
    except FieldError as exc:
        return [f"{exc.field}: {exc.msg}"]
    return []


class StoreFile:
    """An open store list. Iterate it once for its records; close it (or use `with`)."""

    def __init__(
        self,
        path: Path,
        fmt: ImportFormat,
        columns: Mapping[str, str],
        constants: Mapping[str, Any] | None = None,
    ) -> None:
        self.format = fmt
        self.columns = {field: name.strip() for field, name in columns.items()}
        self.constants = dict(constants or {})
        # The name of each field in the file, for error reports (set once the header is read).
        self.names: dict[str, str] = {field: field for field in FIELDS}
        self.names.update({field: f"set={field}" for field in self.constants})
        self.ignored: list[str] = []  # CSV columns that are no field
        self._raw: BinaryIO = path.open("rb")

    def __enter__(self) -> StoreFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._raw.close()

    @property
    def bytes_read(self) -> int:
        return 0 if self._raw.closed else self._raw.tell()

    def __iter__(self) -> Iterator[Record | RecordError]:
        if self.format is ImportFormat.CSV:
            return self._csv()
        if self.format is ImportFormat.NDJSON:
            return self._ndjson()
        return self._geojson()

    # ------------------------------------------------------------------------------------ CSV

    def _csv(self) -> Iterator[Record | RecordError]:
        text = io.TextIOWrapper(
            self._raw, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        try:
            lines = _Lines(text)
            header = self._csv_header(lines)
            positions = self._csv_positions(header)
            width = len(header)
            reader = csv.reader(lines)
            row = 0
            while True:
                row += 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except _LineTooLong:
                    yield RecordError(row, RECORD, "has a line longer than 1 MiB")
                    continue
                except csv.Error as exc:
                    why = f"cannot be read as CSV ({exc}: a huge field or a stray quote?)"
                    yield RecordError(row, RECORD, why)
                    continue
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line, or one of empty cells only: no store in it
                if len(cells) != width:
                    yield RecordError(
                        row, RECORD, f"has {len(cells)} fields where the header has {width}"
                    )
                    continue
                values: dict[str, Any] = {}
                broken = None
                for field, index in positions:
                    value = cells[index].strip()
                    if not value:
                        continue
                    if not value.isascii() and not _is_utf8(value):
                        broken = field
                        break
                    values[field] = _split_tags(value) if field == "tags" else value
                if broken is not None:
                    yield RecordError(row, self.names[broken], "is not valid UTF-8 text")
                    continue
                values.update(self.constants)
                yield Record(row, values)
        finally:
            text.detach()

    def _csv_header(self, lines: _Lines) -> list[str]:
        try:
            line = next(lines, "")
        except _LineTooLong:
            raise FileRejected(
                "this is not a CSV store list: its first line is over 1 MiB"
            ) from None
        if not line.strip():
            if not line:
                raise FileRejected("the file is empty")
            raise FileRejected("the first line of the file is blank; it must be the CSV header")
        if "\x00" in line or not _is_utf8(line):
            raise FileRejected(
                "this is not a UTF-8 CSV file (its first line is binary or not UTF-8)"
            )
        if line.lstrip()[:1] in ("{", "["):
            raise FileRejected(
                "this looks like JSON, not CSV: send it with format=geojson or ndjson"
            )
        return next(csv.reader([line]))

    def _csv_positions(self, header: list[str]) -> list[tuple[str, int]]:
        """(field, column index) of every field the header holds; FileRejected if it lacks one."""
        folded = [name.strip().lower() for name in header]
        index: dict[str, int] = {}
        for position, name in enumerate(folded):
            if name and name in index:
                raise FileRejected(f"the header names the column {header[position]!r} twice")
            index[name] = position
        positions: list[tuple[str, int]] = []
        used: set[int] = set()
        missing: list[str] = []
        for field in FIELDS:
            if field == "attributes" or field in self.constants:
                continue
            if self.columns.get(field) == "":
                continue
            if field in self.columns:
                wanted = self.columns[field]
                if wanted.lower() not in index:
                    raise FileRejected(
                        f"the column {wanted!r} (given for {field}) is not in the header"
                    )
                candidates = [wanted.lower()]
            else:
                candidates = [name for name in ALIASES.get(field, (field,)) if name in index]
                if len(candidates) > 1:
                    raise FileRejected(f"the header has both {' and '.join(candidates)}")
            if not candidates:
                if field in REQUIRED:
                    missing.append(field)
                continue
            position = index[candidates[0]]
            positions.append((field, position))
            used.add(position)
            self.names[field] = header[position].strip()
        if missing:
            found = ", ".join(repr(name) for name in header[:20])
            hint = (
                " (tab-separated? only commas separate columns)" if "\t" in "".join(header) else ""
            )
            raise FileRejected(
                f"the CSV header lacks the required column(s) {', '.join(missing)}{hint};"
                f" it has {found}"
            )
        self.ignored = [header[i].strip() for i in range(len(header)) if i not in used]
        return positions

    # --------------------------------------------------------------------------------- NDJSON

    def _ndjson(self) -> Iterator[Record | RecordError]:
        row, seen_object = 0, False
        while True:
            line = self._raw.readline(MAX_LINE_CHARS)
            if not line:
                if not seen_object:
                    raise FileRejected(
                        "the file is empty" if row == 0 else "the file has no records"
                    )
                return
            row += 1
            if row == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if len(line) == MAX_LINE_CHARS and not line.endswith(b"\n"):
                while (more := self._raw.readline(MAX_LINE_CHARS)) and not more.endswith(b"\n"):
                    pass
                yield RecordError(row, RECORD, "is a line longer than 1 MiB")
                continue
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)
                if _LONG_DIGITS.search(line):
                    value = json.loads(line)  # orjson turns integers past 64 bits into floats
            except RecursionError:
                yield RecordError(row, RECORD, "is nested too deeply to be read as JSON")
                continue
            except orjson.JSONDecodeError as exc:
                if exc.msg == _ORJSON_TOO_DEEP:
                    # JSON all the same (orjson stops at 1,024 levels): a bad row, not a bad file
                    seen_object = True
                    yield RecordError(row, RECORD, f"is nested too deeply ({exc.msg})")
                    continue
                if not seen_object:
                    raise FileRejected(
                        f"this is not NDJSON: line {row} is not JSON ({exc})"
                    ) from None
                yield RecordError(row, RECORD, f"is not valid JSON ({exc})")
                continue
            if not isinstance(value, dict):
                if not seen_object:
                    raise FileRejected(f"this is not NDJSON: line {row} is not a JSON object")
                yield RecordError(row, RECORD, "is not a JSON object")
                continue
            seen_object = True
            yield Record(row, self._from_object(value, with_position=True))

    def _from_object(self, obj: dict[str, Any], *, with_position: bool) -> dict[str, Any]:
        """The contract's fields of a JSON object (NDJSON line or GeoJSON properties)."""
        keys = {key.strip().lower(): key for key in obj if isinstance(key, str)}
        values: dict[str, Any] = {}
        values.update(self.constants)
        for field in FIELDS:
            if (not with_position and field in ALIASES) or field in self.constants:
                continue
            wanted = self.columns.get(field)
            if wanted == "":
                continue
            names = (wanted.lower(),) if wanted else ALIASES.get(field, (field,))
            key = next((keys[name] for name in names if name in keys), None)
            if key is None:
                continue
            value = obj[key]
            if isinstance(value, str):
                value = value.strip()
                if field == "tags":
                    value = _split_tags(value)
            if value is None or value == "" or value == []:
                continue
            values[field] = value
            self.names[field] = key
        return values

    # -------------------------------------------------------------------------------- GeoJSON

    def _geojson(self) -> Iterator[Record | RecordError]:
        text = io.TextIOWrapper(self._raw, encoding="utf-8-sig", newline="")
        try:
            for row, feature in enumerate(FeatureCollection(text).features(), start=1):
                yield self.feature_record(row, feature)
        except NotAFeatureCollection as exc:
            raise FileRejected(exc.reason) from None
        except UnicodeDecodeError:
            raise FileRejected("this is not a UTF-8 JSON file") from None
        finally:
            text.detach()

    def feature_record(self, row: int, feature: Any) -> Record | RecordError:
        if feature is TOO_DEEP:
            return RecordError(row, RECORD, "is nested too deeply to be read as JSON")
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            return RecordError(
                row, RECORD, 'is not a GeoJSON Feature (an object of type "Feature")'
            )
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            return RecordError(row, "properties", "must be an object")
        values = self._from_object(properties, with_position=False)
        if "external_id" not in values and isinstance(feature.get("id"), str | int):
            values["external_id"] = str(feature["id"]).strip()  # GeoJSON's own identifier
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict):
            return RecordError(row, "geometry", "is required: a Point at the store")
        if geometry.get("type") != "Point":
            return RecordError(row, "geometry", f"must be a Point, not {geometry.get('type')!r}")
        position = geometry.get("coordinates")
        if not isinstance(position, list) or not 2 <= len(position) <= 3:
            return RecordError(row, "geometry", "coordinates must be [lng, lat]")
        values["lng"], values["lat"] = position[0], position[1]
        self.names["lng"], self.names["lat"] = "geometry.coordinates[0]", "geometry.coordinates[1]"
        return Record(row, values)


class _LineTooLong(Exception):
    pass


class _Lines:
    """The lines of a text file for csv.reader, none longer than MAX_LINE_CHARS: a longer one
    is skipped and raises _LineTooLong, which csv.reader passes on (it then starts afresh)."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self.text = text

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(MAX_LINE_CHARS)
        if not line:
            raise StopIteration
        if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
            while (more := self.text.readline(MAX_LINE_CHARS)) and not more.endswith(("\n", "\r")):
                pass
            raise _LineTooLong
        return line


def _split_tags(value: str) -> list[str]:
    return [tag.strip() for tag in value.split(";") if tag.strip()]


def _is_utf8(value: str) -> bool:
    """False when decoding left lone surrogates for bytes that are not UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
