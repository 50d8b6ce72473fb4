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

from app import events
from app.claims import offer_summary_body
from app.offers import HereResult
from app.offers import status as offers_status
from app.queries.claims import UserClaim
from app.queries.merchants import MerchantRow
from app.queries.offers import OfferHit, OfferRow
from app.queries.search import MerchantHit
from app.schemas.merchants import MerchantOut
from app.schemas.offers import OfferOut, UserClaimsPage
from app.tracking import Tracked
from spatial import CoordSystem, cell_to_hex, from_wgs84, geojson_in

JSON_OPTIONS = orjson.OPT_UTC_Z  # "2026-11-22T06:00:00Z", as pydantic writes it


def merchant(row: MerchantRow, coord: CoordSystem) -> MerchantOut:
    return MerchantOut.model_validate(merchant_body(row, coord))


def merchants(rows: Sequence[MerchantRow], coord: CoordSystem) -> list[MerchantOut]:
    return [merchant(row, coord) for row in rows]


def nearby_json(
    hits: Sequence[MerchantHit],
    coord: CoordSystem,
    next_cursor: str | None,
    radius_m: float,
    offers_here: HereResult | None = None,
) -> bytes:
    """A nearby page; with `offers_here` (include=offers), also GET /v1/offers/here's first page
    at the same point, its results written as that route writes them."""
    results = []
    for hit in hits:
        body = merchant_body(hit, coord)
        body["distance_m"] = hit.distance_m
        results.append(body)
    page: dict[str, Any] = {"results": results, "next_cursor": next_cursor, "radius_m": radius_m}
    if offers_here is not None:
        page["offers_here"] = offers_here_results(offers_here.hits, coord, offers_here.at)
        page["offers_next_cursor"] = offers_here.next_cursor
    return orjson.dumps(page, option=JSON_OPTIONS)


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
    results = offers_here_results(hits, coord, at)
    return orjson.dumps({"results": results, "next_cursor": next_cursor}, option=JSON_OPTIONS)


def offers_here_results(
    hits: Sequence[OfferHit], coord: CoordSystem, at: datetime
) -> list[dict[str, Any]]:
    """The result objects of GET /v1/offers/here (also nearby's `offers_here`)."""
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
    return results


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
        "dwell_s": row.dwell_s,
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
            "share": row.share,
        }
        for row in rows
    ]
    return UserClaimsPage.model_validate({"results": results, "next_cursor": next_cursor})


def tracked_json(tracked: Tracked, coord: CoordSystem) -> bytes:
    """POST /v1/track's response: the events and the offers at the newest point, positions in
    `coord` (events are stored, replayed and sent to webhooks in WGS-84)."""
    return orjson.dumps(
        {
            "events": [_event_in(events.document(row), coord) for row in tracked.events],
            "offers_here": offers_here_results(tracked.here, coord, tracked.here_at),
        },
        option=JSON_OPTIONS,
    )


def _event_in(document: dict[str, Any], coord: CoordSystem) -> dict[str, Any]:
    """A fence event's document with the position in its `data` in `coord`."""
    data = document["data"]
    if coord is not CoordSystem.WGS84 and "lat" in data and "lng" in data:
        data["lat"], data["lng"] = from_wgs84(data["lat"], data["lng"], coord)
    return document
