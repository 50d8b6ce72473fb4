"""Routes of claim codes after the claim (API.md: "Geofenced offers", "Apps and users"): a
cashier's look-up, redeeming, and a user's own codes. Claiming is in routes/offers.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from app import claims
from app.db import Conn, ReadConn
from app.routes import params, presenters
from app.routes.callers import AnyCaller, AppCaller, Caller
from app.routes.params import Coord, Cursor, Limit
from app.routes.responses import problems
from app.schemas.common import QueryText
from app.schemas.offers import ClaimView, RedeemedOut, UserClaimsPage
from spatial import CoordSystem

Code = Annotated[str, Path(pattern="^[A-Za-z2-7]{26}$", description="A claim's code.")]

router = APIRouter(route_class=params.KnownQueryRoute)


@router.get("/v1/claims/{code}", responses=problems(401, 403, 404, 422), tags=["claims"])
async def get_claim(
    conn: ReadConn, caller: AnyCaller, code: Code, coord: Coord = CoordSystem.WGS84
) -> ClaimView:
    """A code and its offer, for a cashier before redeeming it: the offer's owner (or the
    admin), or the app and user that claimed it."""
    record, offer = await claims.look_up(conn, caller=caller, code=code)
    return ClaimView(
        code=record.code,
        offer_id=record.offer_id,
        user_id=record.user_id,
        claimed_at=record.claimed_at,
        redeemed_at=record.redeemed_at,
        offer=presenters.offer(offer, coord, datetime.now(UTC)),
        share=record.share,
    )


@router.post(
    "/v1/claims/{code}/redeem", responses=problems(401, 403, 404, 409, 422), tags=["claims"]
)
async def redeem_claim(conn: Conn, caller: Caller, code: Code) -> RedeemedOut:
    """Redeem a code at the store, once (the offer's owner or the admin)."""
    row = await claims.redeem(conn, principal=caller, code=code)
    assert row.redeemed_at is not None
    return RedeemedOut(
        code=row.code,
        offer_id=row.offer_id,
        user_id=row.user_id,
        claimed_at=row.claimed_at,
        redeemed_at=row.redeemed_at,
    )


@router.get("/v1/users/{user_id}/claims", responses=problems(401, 403, 422), tags=["claims"])
async def user_claims(
    conn: ReadConn,
    caller: AppCaller,
    user_id: Annotated[QueryText, Path(description="The app's user.")],
    limit: Limit = 20,
    cursor: Cursor = None,
    coord: Coord = CoordSystem.WGS84,
) -> UserClaimsPage:
    """A user's codes, newest first, with their offer and whether they were redeemed: for the
    user's app (its key) or the user (their token)."""
    rows, next_cursor = await claims.of_user(
        conn, caller=caller, user_id=user_id, after_cursor=cursor, limit=limit
    )
    return presenters.user_claims(rows, coord, next_cursor)
