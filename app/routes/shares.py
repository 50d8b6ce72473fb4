"""Routes of shares and of QR codes of deep links (API.md "Shares, QR codes and merchant
statistics")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app import apps, merchants, offers, qrcodes, shares
from app.db import Conn, ReadConn, driver_of, public_read
from app.errors import InvalidInput
from app.routes import callers, params, presenters
from app.routes.params import Coord
from app.routes.responses import problems
from app.schemas.common import SHARE_CODE_PATTERN
from app.schemas.shares import CODE_EXAMPLE, ShareIn, ShareOut, ShareView
from spatial import CoordSystem

ShareCode = Annotated[
    str, Path(pattern=SHARE_CODE_PATTERN, description="A share's code.", examples=[CODE_EXAMPLE])
]
# A code's link never changes, so caches may keep it for a day; an offer's may gain or lose its
# share, which is why it is a day and not a year.
QR_CACHE = "public, max-age=86400"
SVG = "image/svg+xml"

router = APIRouter(route_class=params.KnownQueryRoute)


@router.post(
    "/v1/offers/{offer_id}/shares",
    status_code=201,
    responses={
        200: {"model": ShareOut, "description": "The user's share of this offer, made before"},
        **problems(401, 403, 404, 422),
    },
    tags=["shares"],
    openapi_extra=callers.secured_by(callers.app_user),
)
async def create_share(
    request: Request, response: Response, conn: Conn, offer_id: params.OfferId, body: ShareIn
) -> ShareOut:
    """A user's share of an offer, below the share they arrived through (`parent`). One share
    per user of an app and offer: sharing again answers 200 with the first share, as it is.
    Needs an app key (with `user_id`) or a user token."""
    caller = await callers.app_user(request, await driver_of(conn))
    row, made = await shares.share(
        conn,
        offer_id=offer_id,
        app_id=caller.app_id,
        user_id=apps.user_of(caller, body.user_id),
        parent=body.parent,
    )
    if not made:
        response.status_code = 200
    return ShareOut(
        code=row.code,
        offer_id=row.offer_id,
        user_id=row.user_id,
        parent=row.parent,
        depth=row.depth,
        created_at=row.created_at,
    )


@router.get("/v1/shares/{code}", responses=problems(404, 422), tags=["shares"])
async def get_share(
    request: Request, code: ShareCode, coord: Coord = CoordSystem.WGS84
) -> ShareView:
    """A share's offer, for anyone holding its code (a deep link, a QR code): not who shared
    it. Read on a replica unless the request carries a credential."""
    row, offer = await public_read(request, lambda conn: shares.public_view(conn, code=code))
    return ShareView(
        code=row.code, depth=row.depth, offer=presenters.offer(offer, coord, datetime.now(UTC))
    )


@router.get(
    "/v1/merchants/{merchant_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {SVG: {}}, "description": "An SVG QR code"}, **problems(404, 422)},
    tags=["shares"],
)
async def merchant_qr(request: Request, conn: ReadConn, merchant_id: params.MerchantId) -> Response:
    """A printable QR code (SVG) of the store's deep link `<NEARBY_PUBLIC_URL>/m/<id>`."""
    await merchants.get(conn, merchant_id=merchant_id)
    url = f"{request.app.state.settings.public_base}/m/{merchant_id}"
    return _svg(url)


@router.get(
    "/v1/offers/{offer_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {SVG: {}}, "description": "An SVG QR code"}, **problems(404, 422)},
    tags=["shares"],
)
async def offer_qr(
    request: Request,
    conn: ReadConn,
    offer_id: params.OfferId,
    share: Annotated[
        str | None,
        Query(
            pattern=SHARE_CODE_PATTERN,
            description="A share of this offer, carried in the link as `s` (a 422 otherwise).",
            examples=[CODE_EXAMPLE],
        ),
    ] = None,
) -> Response:
    """A printable QR code (SVG) of the offer's deep link `<NEARBY_PUBLIC_URL>/o/<id>`, with
    `?s=<share>` when a share is given."""
    await offers.get(conn, offer_id=offer_id)
    url = f"{request.app.state.settings.public_base}/o/{offer_id}"
    if share is not None:
        if not await shares.of_offer_exists(conn, offer_id=offer_id, code=share):
            raise InvalidInput.at(["query", "share"], "is not a share of this offer")
        url += f"?s={share}"
    return _svg(url)


def _svg(url: str) -> Response:
    return Response(qrcodes.svg(url), media_type=SVG, headers={"Cache-Control": QR_CACHE})
