"""Stored rows (WGS-84) -> response bodies, in the coordinate system the client asked for.

Searches are the hot path: their bodies are built as plain dicts and written with orjson, one
pass, no model validation (tests/test_contract.py checks them against the response schemas).
Other routes wrap the same dicts in their pydantic models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from app.queries import MerchantHit, MerchantRow
from app.schemas import MerchantOut
from spatial import CoordSystem, cell_to_hex, from_wgs84

JSON_OPTIONS = orjson.OPT_UTC_Z  # "2026-11-22T06:00:00Z", as pydantic writes it


def merchant(row: MerchantRow, coord: CoordSystem) -> MerchantOut:
    return MerchantOut.model_validate(merchant_body(row, coord))


def merchants(rows: Sequence[MerchantRow], coord: CoordSystem) -> list[MerchantOut]:
    return [merchant(row, coord) for row in rows]


def nearby_json(hits: Sequence[MerchantHit], coord: CoordSystem, next_cursor: str | None) -> bytes:
    results = []
    for hit in hits:
        body = merchant_body(hit, coord)
        body["distance_m"] = hit.distance_m
        results.append(body)
    return orjson.dumps({"results": results, "next_cursor": next_cursor}, option=JSON_OPTIONS)


def bbox_json(rows: Sequence[MerchantRow], coord: CoordSystem, truncated: bool) -> bytes:
    results = [merchant_body(row, coord) for row in rows]
    return orjson.dumps({"results": results, "truncated": truncated}, option=JSON_OPTIONS)


def merchant_body(row: MerchantRow, coord: CoordSystem) -> dict[str, Any]:
    """The contract's merchant object, with the location in `coord`."""
    lat, lng = (
        from_wgs84(row.lat, row.lng, coord)
        if coord is not CoordSystem.WGS84
        else (row.lat, row.lng)
    )
    return {
        "id": str(row.id),
        "owner_id": str(row.owner_id),
        "external_id": row.external_id,
        "name": row.name,
        "category": row.category,
        "tags": row.tags,
        "address": row.address,
        "phone": row.phone,
        "location": {"lat": lat, "lng": lng},
        "coord": coord.value,
        "h3": cell_to_hex(row.h3),
        "timezone": row.timezone,
        "opening_hours": row.opening_hours,
        "attributes": orjson.Fragment(row.attributes)
        if isinstance(row.attributes, str)
        else row.attributes,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
