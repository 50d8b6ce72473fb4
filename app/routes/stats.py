"""Routes of merchant statistics (API.md "Shares, QR codes and merchant statistics"): an offer's
and a store's, the owner's as a whole and an offer's claims as CSV (extensions)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncConnection

from app import attribution, stats, timezones
from app.db import Conn, get_read_conn
from app.errors import InvalidInput
from app.routes import params
from app.routes.callers import Caller
from app.routes.responses import problems
from app.schemas.stats import CellOut, Kol, SeriesPoint, SharerOut, StatsOut, Totals
from app.stats import Asked, Bucket, Stats

From = Annotated[
    AwareDatetime | None,
    Query(
        alias="from",
        description="The range's start, with its offset (default: 30 days before `to`); widened"
        " to the start of its bucket.",
        examples=["2026-11-01T00:00:00+08:00"],
    ),
]
To = Annotated[
    AwareDatetime | None,
    Query(
        description="The range's end, exclusive, with its offset (default: now); widened to the"
        " end of its bucket. At most 31 days of hour buckets, 366 of day"
        " buckets.",
        examples=["2026-12-01T00:00:00+08:00"],
    ),
]
BucketQ = Annotated[
    Bucket, Query(description="hour or day, in the store's timezone (default day).")
]
StreamConn = Annotated[AsyncConnection, Depends(get_read_conn)]

router = APIRouter(route_class=params.KnownQueryRoute)


@router.get(
    "/v1/offers/{offer_id}/stats",
    response_model=StatsOut,
    responses=problems(401, 403, 404, 422),
    tags=["statistics"],
)
async def offer_stats(
    request: Request,
    conn: Conn,
    caller: Caller,
    offer_id: params.OfferId,
    from_: From = None,
    to: To = None,
    bucket: BucketQ = Bucket.day,
) -> Response:
    """An offer's statistics for its owner (or the admin), bucketed in its store's timezone."""
    view = await stats.of_offer(
        conn,
        principal=caller,
        offer_id=offer_id,
        asked=Asked(from_, to, bucket),
        cache=request.app.state.stats_cache,
    )
    return _response(view)


@router.get(
    "/v1/merchants/{merchant_id}/stats",
    response_model=StatsOut,
    responses=problems(401, 403, 404, 422),
    tags=["statistics"],
)
async def merchant_stats(
    request: Request,
    conn: Conn,
    caller: Caller,
    merchant_id: params.MerchantId,
    from_: From = None,
    to: To = None,
    bucket: BucketQ = Bucket.day,
) -> Response:
    """A store's statistics over all its offers, for its owner (or the admin), bucketed in the
    store's timezone."""
    view = await stats.of_merchant(
        conn,
        principal=caller,
        merchant_id=merchant_id,
        asked=Asked(from_, to, bucket),
        cache=request.app.state.stats_cache,
    )
    return _response(view)


@router.get(
    "/v1/stats",
    response_model=StatsOut,
    responses=problems(401, 403, 404, 422),
    tags=["statistics"],
)
async def owner_stats(
    request: Request,
    conn: Conn,
    caller: Caller,
    from_: From = None,
    to: To = None,
    bucket: BucketQ = Bucket.day,
    tz: Annotated[
        str,
        Query(
            max_length=64,
            description="The IANA timezone of the buckets (default UTC: an owner's stores may"
            " lie in several).",
            examples=["Asia/Shanghai"],
        ),
    ] = "UTC",
    owner_id: Annotated[UUID | None, Query(description="Required with the admin key.")] = None,
) -> Response:
    """Statistics over every offer of an owner (an extension): the caller's own, or with the
    admin key the `owner_id` given."""
    try:
        timezones.validate(tz)
    except ValueError as exc:
        raise InvalidInput.at(["query", "tz"], str(exc)) from None
    view = await stats.of_owner(
        conn,
        principal=caller,
        owner_id=owner_id,
        tz=tz,
        asked=Asked(from_, to, bucket),
        cache=request.app.state.stats_cache,
    )
    return _response(view)


@router.get(
    "/v1/offers/{offer_id}/claims.csv",
    responses={
        **problems(401, 403, 404, 422),
        200: {
            "content": {"text/csv": {}},
            "description": "code,claimed_at,redeemed_at,user_id,app,share,cell",
        },
    },
    response_class=StreamingResponse,
    tags=["statistics"],
)
async def offer_claims_csv(
    conn: Conn, caller: Caller, stream_conn: StreamConn, offer_id: params.OfferId
) -> StreamingResponse:
    """Every claim of an offer, oldest first, streamed as CSV for its owner (or the admin).
    User strings starting with = + - @ get a leading apostrophe (CSV injection)."""
    await stats.claims_csv_check(conn, principal=caller, offer_id=offer_id)
    return StreamingResponse(
        stats.claims_csv(stream_conn, offer_id=offer_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="offer-{offer_id}-claims.csv"'},
    )


def _response(view: Stats) -> Response:
    """The answer's JSON, rendered once for all the requests that share a cached answer."""
    body = view.rendered.get("json")
    if body is None:
        body = view.rendered["json"] = _out(view).model_dump_json(by_alias=True).encode()
    return Response(body, media_type="application/json")


def _out(view: Stats) -> StatsOut:
    return StatsOut(
        totals=Totals(
            claims=view.claims,
            redemptions=view.redemptions,
            users=view.users,
            shares=view.shares,
            redemption_rate=view.redemption_rate,
        ),
        series=[
            SeriesPoint(t=p.t, claims=p.claims, redemptions=p.redemptions) for p in view.series
        ],
        cells=[CellOut(h3=c.h3, claims=c.claims, redemptions=c.redemptions) for c in view.cells],
        sharers=[
            SharerOut(
                user_id=u.user_id,
                app_id=u.app_id,
                depth=u.credit.depth,
                claims=u.credit.claims,
                redemptions=u.credit.redemptions,
                chain_claims=u.credit.chain_claims,
                chain_redemptions=u.credit.chain_redemptions,
                kol=u.kol,
            )
            for u in view.sharers
        ],
        kol=Kol(
            sharers=view.kol.sharers,
            of=view.kol.of,
            redemptions_share=float(attribution.KOL_SHARE),
            covered=view.kol.covered,
            attributed=view.kol.total,
            exact=view.kol.exact,
        ),
        from_=view.start,
        to=view.end,
        bucket=view.bucket,
        timezone=view.timezone,
        cells_withheld=view.cells_withheld,
    )
