"""Routes of geofenced offers and of claiming them (API.md: "Geofenced offers"), plus the
owner's list of a merchant's offers (GET /v1/merchants/{id}/offers), an extension for the web
console. What follows a claim (look-up, redeem, a user's codes) is in routes/claims.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from app import apps, claims, offers
from app.db import Conn, driver_connection, driver_read, public_read
from app.errors import PROBLEM_JSON
from app.routes import callers, params, presenters
from app.routes.callers import Caller
from app.routes.params import Coord, Cursor, Limit, MerchantId, OfferId
from app.routes.responses import json_body, problems
from app.schemas.offers import (
    ClaimIn,
    ClaimOut,
    OfferIn,
    OfferList,
    OfferOut,
    OfferPatch,
    OffersHerePage,
    OffersHereQuery,
)
from spatial import CoordSystem

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="A repeat (same offer and key, within 24 h) returns the first response.",
    ),
]

router = APIRouter(route_class=params.KnownQueryRoute)


@router.post(
    "/v1/merchants/{merchant_id}/offers",
    status_code=201,
    responses=problems(401, 403, 404, 422),
    tags=["offers"],
)
async def create_offer(
    conn: Conn, caller: Caller, merchant_id: MerchantId, body: OfferIn
) -> OfferOut:
    """A geofenced offer of one of the caller's stores."""
    row = await offers.create(conn, principal=caller, merchant_id=merchant_id, body=body)
    return presenters.offer(row, body.coord, datetime.now(UTC))


@router.get(
    "/v1/merchants/{merchant_id}/offers", responses=problems(401, 403, 404, 422), tags=["offers"]
)
async def list_offers(
    conn: Conn,
    caller: Caller,
    merchant_id: MerchantId,
    limit: Limit = 20,
    cursor: Cursor = None,
    coord: Coord = CoordSystem.WGS84,
) -> OfferList:
    """A merchant's offers, newest first, with their counts: for its owner (or the admin)."""
    rows, next_cursor = await offers.list_of_merchant(
        conn, principal=caller, merchant_id=merchant_id, after_cursor=cursor, limit=limit
    )
    return OfferList(
        results=presenters.offers(rows, coord, datetime.now(UTC)), next_cursor=next_cursor
    )


# Before /v1/offers/{offer_id}, which would otherwise take "here" for an id.
@router.get(
    "/v1/offers/here",
    response_model=OffersHerePage,
    responses=problems(422),
    tags=["offers"],
    openapi_extra=params.openapi(OffersHereQuery),
)
async def offers_here(request: Request) -> Response:
    """Every offer whose geofence covers the point, active at `at` with codes left, nearest
    store first (ties by offer id)."""
    query = params.read(OffersHereQuery, request)
    result = await driver_read(
        request,
        lambda conn: offers.here(
            conn,
            lat=query.lat,
            lng=query.lng,
            coord=query.coord,
            at=query.at,
            categories=query.category,
            limit=query.limit,
            after_cursor=query.cursor,
        ),
    )
    return json_body(
        presenters.offers_here_json(result.hits, query.coord, result.at, result.next_cursor)
    )


@router.get("/v1/offers/{offer_id}", responses=problems(404, 422), tags=["offers"])
async def get_offer(
    request: Request, offer_id: OfferId, coord: Coord = CoordSystem.WGS84
) -> OfferOut:
    """An offer, for anyone (read on a replica unless the request carries a credential)."""
    row = await public_read(request, lambda conn: offers.get(conn, offer_id=offer_id))
    return presenters.offer(row, coord, datetime.now(UTC))


@router.patch("/v1/offers/{offer_id}", responses=problems(401, 403, 404, 422), tags=["offers"])
async def patch_offer(conn: Conn, caller: Caller, offer_id: OfferId, body: OfferPatch) -> OfferOut:
    """Change an offer (its store's owner or the admin); codes already claimed stay valid."""
    row = await offers.edit(conn, principal=caller, offer_id=offer_id, patch=body)
    return presenters.offer(row, body.coord, datetime.now(UTC))


@router.delete(
    "/v1/offers/{offer_id}",
    status_code=204,
    responses=problems(401, 403, 404, 422),
    tags=["offers"],
)
async def delete_offer(conn: Conn, caller: Caller, offer_id: OfferId) -> Response:
    """Remove an offer (its store's owner or the admin)."""
    await offers.remove(conn, principal=caller, offer_id=offer_id)
    return Response(status_code=204)


@router.post(
    "/v1/offers/{offer_id}/claims",
    status_code=201,
    response_model=ClaimOut,
    responses=problems(401, 403, 404, 409, 422, 429),
    tags=["claims"],
    openapi_extra=callers.secured_by(callers.app_user),
)
async def claim_offer(
    request: Request, offer_id: OfferId, body: ClaimIn, idempotency_key: IdempotencyKey = None
) -> Response:
    """A code for an app's user standing inside the fence; at most `quantity` codes ever.
    Needs an app key (with `user_id`) or a user token."""
    async with driver_connection(request) as conn:
        caller = await callers.app_user(request, conn)
        attempt = claims.Attempt(
            offer_id=offer_id,
            app_id=caller.app_id,
            user_id=apps.user_of(caller, body.user_id),
            lat=body.lat,
            lng=body.lng,
            coord=body.coord,
            accuracy_m=body.accuracy_m,
            key=idempotency_key,
            share=body.share,
        )
        outcome = await claims.claim(conn, attempt, limits=request.app.state.limits)
    return Response(
        outcome.body,
        status_code=outcome.status,
        media_type=PROBLEM_JSON if outcome.status >= 400 else "application/json",
        headers={"Idempotent-Replayed": "true"} if outcome.replayed else None,
    )
