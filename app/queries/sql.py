"""Helpers for SQL text on the asyncpg driver (the hot paths): parameters and points."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from spatial.geometry import normalize_lng


class Params:
    """Positional parameters for SQL text: `add` a value, get its placeholder; numbered from
    `$first` (past those of a statement this SQL is a part of)."""

    def __init__(self, *values: Any, first: int = 1) -> None:
        self.values = list(values)
        self.first = first

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${self.first + len(self.values) - 1}"


def escape_like(value: str) -> str:
    """`value` as a literal inside a LIKE pattern (LIKE's default escape is the backslash)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def ewkt(lat: float, lng: float) -> str:
    """A point as EWKT for a geography parameter; repr keeps every bit of the float."""
    return f"SRID=4326;POINT({normalize_lng(lng)!r} {lat!r})"


def boxes_wkt(boxes: Sequence[tuple[float, float, float, float]]) -> str:
    """Longitude/latitude boxes (min lng, min lat, max lng, max lat) as one MULTIPOLYGON's WKT."""
    return "MULTIPOLYGON({})".format(
        ",".join(
            f"(({w!r} {s!r},{e!r} {s!r},{e!r} {n!r},{w!r} {n!r},{w!r} {s!r}))"
            for w, s, e, n in boxes
        )
    )


async def fetch_isolated(conn: asyncpg.Connection, statement: str, values: list[Any]) -> list[Any]:
    """Fetch; inside a transaction (tests), behind a savepoint so a failure leaves it usable."""
    if not conn.is_in_transaction():
        return list(await conn.fetch(statement, *values))
    async with conn.transaction():
        return list(await conn.fetch(statement, *values))
