"""Merchant and owner use cases (register, read, edit, remove, list; new owners and their keys)
and the checks every store passes.

`prepare` turns one store's fields, in any coordinate system, into the validated WGS-84 values
the database keeps; the HTTP routes and the batch import both go through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app import cursor, opening_hours, timezones
from app.auth import Principal, hash_key, new_api_key
from app.db import constraint_errors
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.opening_hours import Interval
from app.queries import merchants as merchants_sql
from app.queries import owners as owners_sql
from app.queries.merchants import MerchantRow, MerchantValues
from app.queries.owners import OwnerRow
from app.schemas.merchants import MerchantIn, MerchantPatch
from spatial import CoordSystem, cell_of, to_wgs84


class FieldError(ValueError):
    """A store field that fails a check, named so it can be reported (as loc or row/field)."""

    def __init__(self, field: str, msg: str) -> None:
        super().__init__(f"{field}: {msg}")
        self.field = field
        self.msg = msg


def prepare(
    *,
    external_id: str | None,
    name: str,
    category: str,
    tags: Sequence[str],
    address: str | None,
    phone: str | None,
    lat: float,
    lng: float,
    coord: CoordSystem,
    timezone: str | None,
    opening_hours_text: str | None,
    attributes: dict[str, Any],
) -> MerchantValues:
    """Validated values to store. Lengths and types are the schemas' job; this checks meaning."""
    lat, lng = to_wgs84(lat, lng, coord)
    open_minutes = checked_opening_hours(opening_hours_text)
    return MerchantValues(
        external_id=external_id,
        name=name,
        category=category,
        tags=unique_tags(tags),
        address=address,
        phone=phone,
        lat=lat,
        lng=lng,
        h3=cell_of(lat, lng),
        timezone=checked_timezone(timezone, lat, lng),
        opening_hours=opening_hours_text,
        open_minutes=list(open_minutes) if open_minutes is not None else None,
        attributes=attributes,
    )


# The checks of `prepare`, one per field, shared with the batch import (app/imports/rows.py),
# which converts coordinates a batch at a time and reports every failing field of a row.


def checked_opening_hours(text: str | None) -> tuple[Interval, ...] | None:
    """The weekly open intervals of an opening_hours value; FieldError if unsupported."""
    if text is None:
        return None
    parsed = _parsed_hours(text)
    if isinstance(parsed, str):
        raise FieldError("opening_hours", parsed)
    return parsed


def checked_timezone(timezone: str | None, lat: float, lng: float) -> str:
    """The given IANA zone (FieldError if unknown), or the zone at the WGS-84 point if None."""
    if timezone is None:
        return timezones.infer(lat, lng)
    problem = _timezone_problem(timezone)
    if problem is not None:
        raise FieldError("timezone", problem)
    return timezone


def unique_tags(tags: Sequence[str]) -> list[str]:
    """Tags in their first order, each once."""
    return list(dict.fromkeys(tags))


# A store list repeats a handful of distinct values in these fields: parse each once. Bounded,
# so a list with millions of distinct values cannot grow them without limit.
@lru_cache(maxsize=4096)
def _parsed_hours(text: str) -> tuple[Interval, ...] | str:
    try:
        return tuple(opening_hours.parse(text))
    except ValueError as exc:
        return str(exc)


@lru_cache(maxsize=1024)
def _timezone_problem(timezone: str) -> str | None:
    try:
        timezones.validate(timezone)
    except ValueError as exc:
        return str(exc)
    return None


async def create_owner(conn: AsyncConnection, *, name: str) -> tuple[OwnerRow, str]:
    """A new owner and its API key; the key is returned this once and stored only as a hash."""
    api_key = new_api_key()
    row = await owners_sql.insert_owner(conn, name=name, api_key_hash=hash_key(api_key))
    return row, api_key


async def register(conn: AsyncConnection, *, principal: Principal, body: MerchantIn) -> MerchantRow:
    owner_id = await owner_for_writes(conn, principal, body.owner_id, loc=["body", "owner_id"])
    values = _prepared_or_422(
        lambda: prepare(
            external_id=body.external_id,
            name=body.name,
            category=body.category,
            tags=body.tags,
            address=body.address,
            phone=body.phone,
            lat=body.location.lat,
            lng=body.location.lng,
            coord=body.coord,
            timezone=body.timezone,
            opening_hours_text=body.opening_hours,
            attributes=body.attributes,
        )
    )
    with constraint_errors(_DUPLICATE, values.external_id):
        return await merchants_sql.insert_merchant(conn, owner_id=owner_id, values=values)


async def get(conn: AsyncConnection, *, merchant_id: UUID) -> MerchantRow:
    row = await merchants_sql.merchant_by_id(conn, merchant_id=merchant_id)
    if row is None:
        raise NotFound(f"There is no merchant {merchant_id}")
    return row


async def edit(
    conn: AsyncConnection, *, principal: Principal, merchant_id: UUID, patch: MerchantPatch
) -> MerchantRow:
    current = await writable(conn, principal, merchant_id)
    given = patch.model_fields_set - {"coord"}
    for required in ("name", "category", "location", "tags", "attributes"):
        if required in given and getattr(patch, required) is None:
            raise InvalidInput.at(["body", required], "may not be null")

    def pick(field: str, default: Any) -> Any:
        return getattr(patch, field) if field in given else default

    if patch.location is not None and "location" in given:
        lat, lng, coord = patch.location.lat, patch.location.lng, patch.coord
    else:
        lat, lng, coord = current.lat, current.lng, CoordSystem.WGS84
    values = _prepared_or_422(
        lambda: prepare(
            external_id=pick("external_id", current.external_id),
            name=pick("name", current.name),
            category=pick("category", current.category),
            tags=pick("tags", current.tags),
            address=pick("address", current.address),
            phone=pick("phone", current.phone),
            lat=lat,
            lng=lng,
            coord=coord,
            timezone=pick("timezone", current.timezone),
            opening_hours_text=pick("opening_hours", current.opening_hours),
            attributes=pick("attributes", current.attributes),
        )
    )
    with constraint_errors(_DUPLICATE, values.external_id):
        return await merchants_sql.update_merchant(conn, merchant_id=merchant_id, values=values)


async def remove(conn: AsyncConnection, *, principal: Principal, merchant_id: UUID) -> None:
    await writable(conn, principal, merchant_id)
    await merchants_sql.delete_merchant(conn, merchant_id=merchant_id)


async def list_own(
    conn: AsyncConnection,
    *,
    principal: Principal,
    owner_id: UUID | None,
    after_cursor: str | None,
    limit: int,
    external_id: str | None = None,
    q: str | None = None,
) -> tuple[list[MerchantRow], str | None]:
    """A page of an owner's merchants in id order, and the cursor of the next page: the one
    whose store number is `external_id` (exactly), those whose name holds `q` (ignoring case)."""
    if principal.owner_id is None:
        if owner_id is None:
            raise InvalidInput.at(["query", "owner_id"], "is required with the admin key")
    elif owner_id not in (None, principal.owner_id):
        raise Forbidden("An owner key lists only its own merchants")
    target = owner_id or principal.owner_id
    assert target is not None
    query = cursor.fingerprint("merchants", str(target), external_id, q)
    after = cursor.read(after_cursor, query, UUID)[0] if after_cursor is not None else None
    rows = await merchants_sql.merchants_of_owner(
        conn,
        owner_id=target,
        after=after,
        limit=limit + 1,
        external_id=external_id,
        name_contains=q,
    )
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], cursor.encode([str(rows[limit - 1].id)], query)


async def owner_for_writes(
    conn: AsyncConnection, principal: Principal, owner_id: UUID | None, *, loc: list[str | int]
) -> UUID:
    """The owner new stores go to: the caller's own, or the one the admin names at `loc`."""
    if principal.owner_id is not None:
        if owner_id not in (None, principal.owner_id):
            raise Forbidden("An owner key writes stores only for its own owner")
        return principal.owner_id
    if owner_id is None:
        raise InvalidInput.at(loc, "is required with the admin key")
    if not await owners_sql.owner_exists(conn, owner_id=owner_id):
        raise InvalidInput.at(loc, f"there is no owner {owner_id}")
    return owner_id


async def writable(
    conn: AsyncConnection, principal: Principal, merchant_id: UUID, *, for_update: bool = True
) -> MerchantRow:
    """The merchant, if `principal` may change it (and its offers); locked with `for_update`."""
    row = await merchants_sql.merchant_by_id(conn, merchant_id=merchant_id, for_update=for_update)
    if row is None:
        raise NotFound(f"There is no merchant {merchant_id}")
    if not principal.may_write(row.owner_id):
        raise Forbidden("This merchant belongs to another owner")
    return row


def _prepared_or_422(make: Any) -> MerchantValues:
    try:
        values: MerchantValues = make()
    except FieldError as exc:
        raise InvalidInput.at(["body", exc.field], exc.msg) from None
    return values


def _duplicate(external_id: str | None) -> Conflict:
    return Conflict(f"This owner already has a merchant with external_id {external_id!r}")


_DUPLICATE = {merchants_sql.DUPLICATE_EXTERNAL_ID: _duplicate}
