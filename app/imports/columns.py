"""A column that fails as a whole: when every row of a file is rejected for the same field (a
`Timezone` column of names that are no IANA zone, a key the file spells otherwise), the job
says so once, with the fix, instead of listing the same error for each of 25,600 rows.

"Whole column" means: at least MIN_ROWS data records have been read, not one of them passed
(every one was rejected, for this field or another), and this field rejected at least SHARE of
them. The rest are rows rejected for another field before this one could be checked: the
Starbucks directory's 25,600 rows fail `Timezone` but for the one row without coordinates,
which is rejected for those first. While a job runs this is said of the rows read so far (a
later good row takes it back); once done, of the whole file. The rows stay in errors.csv,
every one of them; only the job's JSON `errors` leaves them out, as the one line says it all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.imports.rows import Batch

MIN_ROWS = 10
SHARE = 0.9
# A sample value for the `set=` of a fix, where one helps.
_EXAMPLES = {"timezone": "Asia/Shanghai", "category": "tea", "opening_hours": "Mo-Su 08:00-22:00"}
_NEVER_CONSTANT = ("external_id", "lat", "lng", "attributes")
_REQUIRED = ("external_id", "name", "category", "lat", "lng")


@dataclass(slots=True)
class ColumnTally:
    """Counts, over the batches of a file, the rows rejected for each field."""

    rows: int = 0
    failed_rows: int = 0
    failed_by_column: dict[str, int] = field(default_factory=dict)
    sample: dict[str, str] = field(default_factory=dict)  # the first message of each column
    fields: dict[str, str] = field(default_factory=dict)  # column -> the contract's field

    def add(self, batch: Batch) -> None:
        self.rows += batch.records
        self.failed_rows += batch.failed
        self.fields.update(batch.fields)
        for _, column, msg in batch.rejections:
            self.failed_by_column[column] = self.failed_by_column.get(column, 0) + 1
            self.sample.setdefault(column, msg)

    def failed(self) -> list[dict[str, Any]]:
        """Each column every row failed (so far), with the fix: the job's `columns_failed`."""
        if self.rows < MIN_ROWS or self.failed_rows < self.rows:
            return []
        return [
            whole_column(
                self.fields.get(column, column), column, count, self.rows, self.sample[column]
            )
            for column, count in sorted(self.failed_by_column.items())
            if count >= SHARE * self.rows
        ]


def whole_column(field: str, column: str, rows: int, total: int, msg: str) -> dict[str, Any]:
    """The one report of a column every row failed: which, how many rows, why, and the fix."""
    return {
        "field": field,
        "column": column,
        "rows": rows,
        "msg": msg,
        "fix": fix(field, column, rows, total, msg),
    }


def fix(field: str, column: str, rows: int, total: int, msg: str) -> str:
    """What to do about it, in the words of the HTTP options (the command's --map and --set are
    the same)."""
    named = field if column == field else f"{field} (read from {column!r})"
    counted = f"all {rows:,} rows" if rows == total else f"{rows:,} of {total:,} rows, the rest"
    if rows != total:
        counted += " rejected for another field first"
    what = f"every row failed {named} ({counted}); the first said: {msg}."
    if field == "record":
        return f"{what} Is the file of the format it was sent as?"
    ways = [f"map it from another column with map={field}=COLUMN"]
    if field not in _REQUIRED:
        if field == "timezone":
            ways.append(
                "leave it unread with map=timezone= (zones then come from the stores' locations)"
            )
        else:
            ways.append(f"leave it unread with map={field}=")
    if field not in _NEVER_CONSTANT:
        ways.append(f"set it for every row with set={field}={_EXAMPLES.get(field, 'VALUE')}")
    return f"{what} Fix: {', or '.join(ways)}."
