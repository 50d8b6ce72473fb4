"""Stored rows (WGS-84) -> response bodies, in the coordinate system the client asked for.

Searches are the hot path: their bodies are built as plain dicts and written with orjson, one
pass, no model validation (the route tests validate them against the response schemas).
Other routes wrap the same dicts in their pydantic models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from app.claims import offer_summary_body
from app.offers import status as offers_status
from app.queries.claims import UserClaim
from app.queries.merchants import MerchantRow
from app.queries.offers import OfferHit, OfferRow
from app.queries.search import MerchantHit
from app.schemas.merchants import MerchantOut
from app.schemas.offers import OfferOut, UserClaimsPage
from spatial import CoordSystem, cell_to_hex, from_wgs84, geojson_in

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


def offer(row: OfferRow, coord: CoordSystem, at: datetime) -> OfferOut:
    return OfferOut.model_validate(offer_body(row, coord, at))


def offers(rows: Sequence[OfferRow], coord: CoordSystem, at: datetime) -> list[OfferOut]:
    return [offer(row, coord, at) for row in rows]


def offers_here_json(
    hits: Sequence[OfferHit], coord: CoordSystem, at: datetime, next_cursor: str | None
) -> bytes:
    results = []
    for hit in hits:
        body = offer_body(hit, coord, at)
        lat, lng = (
            from_wgs84(hit.merchant_lat, hit.merchant_lng, coord)
            if coord is not CoordSystem.WGS84
            else (hit.merchant_lat, hit.merchant_lng)
        )
        body["merchant"] = {
            "id": str(hit.merchant_id),
            "name": hit.merchant_name,
            "category": hit.merchant_category,
            "address": hit.merchant_address,
            "phone": hit.merchant_phone,
            "location": {"lat": lat, "lng": lng},
        }
        body["distance_m"] = hit.distance_m
        results.append(body)
    return orjson.dumps({"results": results, "next_cursor": next_cursor}, option=JSON_OPTIONS)


def offer_body(row: OfferRow, coord: CoordSystem, at: datetime) -> dict[str, Any]:
    """The contract's offer object with its status at `at`, every position in `coord`."""
    geofence: Any = row.geofence
    if isinstance(geofence, str):  # RawJson from the hot path
        geofence = (
            orjson.Fragment(geofence)
            if coord is CoordSystem.WGS84
            else geojson_in(orjson.loads(geofence), coord)
        )
    else:
        geofence = geojson_in(geofence, coord)
    return {
        "id": str(row.id),
        "merchant_id": str(row.merchant_id),
        "title": row.title,
        "description": row.description,
        "geofence": geofence,
        "coord": coord.value,
        "starts_at": row.starts_at,
        "ends_at": row.ends_at,
        "quantity": row.quantity,
        "per_user_limit": row.per_user_limit,
        "status": offers_status(row, at),
        "claimed": row.claimed,
        "redeemed": row.redeemed,
        "remaining": None if row.quantity is None else row.quantity - row.claimed,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def user_claims(
    rows: Sequence[UserClaim], coord: CoordSystem, next_cursor: str | None
) -> UserClaimsPage:
    results = [
        {
            "code": row.code,
            "offer_id": row.offer_id,
            "user_id": row.user_id,
            "claimed_at": row.claimed_at,
            "redeemed_at": row.redeemed_at,
            "offer": offer_summary_body(row.offer, row.offer_id, coord),
        }
        for row in rows
    ]
    return UserClaimsPage.model_validate({"results": results, "next_cursor": next_cursor})
