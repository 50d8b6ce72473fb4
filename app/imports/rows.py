"""Records of a store list -> the rows an import stages, a batch at a time, with every rejection.

Each record passes the checks of a merchant of the API: the limits of the schemas (the same
field types, in `StoreRecord`) and the meaning checks of `app.merchants` (opening hours,
timezone). Coordinates are converted to WGS-84 a batch at a time (spatial.to_wgs84_many); a
record without a timezone gets the one of its location, as the API does. A failing record is
reported once per failing field, with the field named as the file names it.

`batches` is plain blocking code: the importer runs it in a worker thread, so parsing the next
batch overlaps with the database taking the last one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import orjson
from pydantic import ValidationError

from app.imports.formats import Record, RecordError, StoreFile
from app.merchants import FieldError, checked_opening_hours, checked_timezone, unique_tags
from app.opening_hours import Interval
from app.queries.imports import StagedRow
from app.schemas.imports import StoreRecord
from spatial import CoordSystem, cell_of, to_wgs84_many
from spatial.geometry import normalize_lng

BATCH_ROWS = 5000

Rejection = tuple[int, str, str]  # row, field (as the file names it), message


@dataclass(slots=True)
class Batch:
    rows: list[StagedRow] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    records: int = 0  # data records read, good or bad
    failed: int = 0  # records rejected (a record may have several rejections)
    bytes_read: int = 0
    # The store number of each rejected record that had one (reported beside its rejections).
    external_ids: dict[int, str] = field(default_factory=dict)
    # Each field's name in the file -> the contract's field (for the whole-column check).
    fields: dict[str, str] = field(default_factory=dict)


def batches(store: StoreFile, coord: CoordSystem, size: int = BATCH_ROWS) -> Iterator[Batch]:
    """The file's records, checked and converted, `size` at a time (blocking)."""
    pending: list[Record] = []
    batch = Batch()
    for item in store:
        batch.records += 1
        if isinstance(item, RecordError):
            batch.rejections.append((item.row, item.field, item.msg))
            batch.failed += 1
        else:
            pending.append(item)
        if batch.records >= size:
            yield _finish(batch, pending, store, coord)
            pending, batch = [], Batch()
    if batch.records:
        yield _finish(batch, pending, store, coord)


def stage(records: Sequence[Record], names: dict[str, str], coord: CoordSystem) -> Batch:
    """Check and convert records: the rows to stage and the rejections, in file order."""
    batch = Batch()
    checked: list[tuple[int, StoreRecord]] = []
    record_of = {record.row: record for record in records}
    for record in records:
        try:
            checked.append((record.row, StoreRecord.model_validate(record.values)))
        except ValidationError as exc:
            batch.rejections.extend(_rejections(record, exc, names))
            batch.failed += 1
            _keep_external_id(batch, record)
    lats, lngs = to_wgs84_many([s.lat for _, s in checked], [s.lng for _, s in checked], coord)
    for (row, store), lat_value, lng_value in zip(checked, lats, lngs, strict=True):
        lat, lng = float(lat_value), float(lng_value)
        problems: dict[str, str] = {}
        open_minutes = timezone = None
        try:
            open_minutes = checked_opening_hours(store.opening_hours)
        except FieldError as exc:
            problems[exc.field] = exc.msg
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0):
            problems["lat"] = f"lies outside the globe once converted from {coord.value}"
        else:
            try:
                timezone = checked_timezone(store.timezone, lat, lng)
            except FieldError as exc:
                problems[exc.field] = exc.msg
        if problems:
            batch.rejections.extend((row, names[f], msg) for f, msg in problems.items())
            batch.failed += 1
            _keep_external_id(batch, record_of[row])
            continue
        assert timezone is not None  # checked without a problem
        # By position: a keyword call costs 1.4 us more per row than this one (a quarter of
        # staging a row); mypy checks each argument against StagedRow's field types.
        batch.rows.append(
            StagedRow(
                row,
                store.external_id,
                store.name,
                store.category,
                unique_tags(store.tags),
                store.address,
                store.phone,
                lat,
                normalize_lng(lng),
                cell_of(lat, lng),
                timezone,
                store.opening_hours,
                None if open_minutes is None else _multirange(open_minutes),
                None if store.attributes is None else orjson.dumps(store.attributes).decode(),
            )
        )
    batch.rejections.sort()
    return batch


def _finish(batch: Batch, pending: list[Record], store: StoreFile, coord: CoordSystem) -> Batch:
    staged = stage(pending, store.names, coord)
    batch.rows = staged.rows
    batch.rejections = sorted(batch.rejections + staged.rejections)
    batch.failed += staged.failed
    batch.external_ids = staged.external_ids
    batch.fields = {name: field for field, name in store.names.items()}
    batch.bytes_read = store.bytes_read
    return batch


def _keep_external_id(batch: Batch, record: Record) -> None:
    """The store number of a record that failed its checks, as text the database takes (a bad
    one is itself a reason to fail: NUL, bytes that are not UTF-8, 10,000 characters)."""
    value = record.values.get("external_id")
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)[:200].replace("\x00", "\ufffd")
        batch.external_ids[record.row] = text.encode("utf-8", "replace").decode("utf-8")


def _rejections(record: Record, exc: ValidationError, names: dict[str, str]) -> list[Rejection]:
    """One rejection per failing field; several problems of one field share a message."""
    messages: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        key = str(loc[0]) if loc else "record"
        msg = "is required" if error["type"] == "missing" else error["msg"]
        if key == "tags" and len(loc) > 1 and isinstance(loc[1], int):
            msg = f"tag {loc[1] + 1}: {msg}"
        messages.setdefault(key, []).append(msg)
    return [(record.row, names.get(key, key), "; ".join(msgs)) for key, msgs in messages.items()]


@lru_cache(maxsize=4096)
def _multirange(intervals: tuple[Interval, ...]) -> str:
    """PostgreSQL's text form of an int4multirange."""
    return "{" + ",".join(f"[{start},{end})" for start, end in intervals) + "}"
