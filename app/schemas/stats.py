"""Shapes of merchant statistics (API.md "Shares, QR codes and merchant statistics")."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from app.stats import Bucket


class Totals(BaseModel):
    claims: int = Field(description="Codes claimed in the range (the sum of the series).")
    redemptions: int = Field(description="Codes redeemed in the range (the sum of the series).")
    users: int = Field(description="Distinct users (app and user_id) who claimed in the range.")
    shares: int = Field(description="Shares of the offers created in the range.")
    redemption_rate: float | None = Field(
        description="Of the codes claimed in the range, the fraction redeemed by now; null when"
        " none were claimed.",
        examples=[0.42],
    )


class SeriesPoint(BaseModel):
    t: datetime = Field(
        description="The bucket's start, with the offset of the view's timezone.",
        examples=["2026-12-05T00:00:00+05:30"],
    )
    claims: int = Field(description="Codes claimed in the bucket.")
    redemptions: int = Field(description="Codes redeemed in the bucket.")


class CellOut(BaseModel):
    h3: str = Field(
        description="A resolution-9 H3 cell (hex) where codes were claimed; only cells with at"
        " least 5 distinct users are shown.",
        examples=["8931aa42803ffff"],
    )
    claims: int = Field(description="Codes claimed in the cell in the range.")
    redemptions: int = Field(description="Of those codes, how many have been redeemed.")


class SharerOut(BaseModel):
    user_id: str = Field(description="The sharer.")
    app_id: UUID = Field(description="The sharer's app (extension).")
    depth: int = Field(description="The depth of the sharer's share in its chain (0: first).")
    claims: int = Field(description="Claims made through the sharer's own shares.")
    redemptions: int = Field(description="Redemptions of those claims.")
    chain_claims: int = Field(description="Claims through the sharer's shares and all below.")
    chain_redemptions: int = Field(description="Redemptions through the whole chain below.")
    kol: bool = Field(description="One of the `kol` set (extension).")


class Kol(BaseModel):
    sharers: int = Field(
        description="The size of the smallest set of sharers whose chains hold"
        " at least `redemptions_share` of the attributed redemptions."
    )
    of: int = Field(description="How many sharers there are.")
    redemptions_share: float = Field(
        description="The share of attributed redemptions the set must cover: 0.8."
    )
    covered: int = Field(description="Attributed redemptions the set's chains cover (extension).")
    attributed: int = Field(description="Attributed redemptions of the range (extension).")
    exact: bool = Field(
        description="The smallest set (one offer's share tree); false: the greedy set over"
        " several offers' trees, within ln(n)+1 of the smallest (extension)."
    )


class StatsOut(BaseModel):
    totals: Totals = Field(description="The range's totals.")
    series: list[SeriesPoint] = Field(description="One point per bucket, empty buckets too.")
    cells: list[CellOut] = Field(description="Claim cells, most claims first (k-anonymous).")
    sharers: list[SharerOut] = Field(
        description="The top 100 sharers with claims in the range, most chain redemptions first."
    )
    kol: Kol = Field(description="The smallest set of sharers holding 80% of redemptions.")
    from_: datetime = Field(
        alias="from",
        description="The range's start, widened to the start of its bucket (extension).",
    )
    to: datetime = Field(description="The range's end, widened to a whole bucket (extension).")
    bucket: Bucket = Field(description="hour or day (extension).")
    timezone: str = Field(description="The IANA zone the buckets are told in (extension).")
    cells_withheld: int = Field(
        description="Claims of the range in no shown cell: below the k-anonymity threshold or"
        " claimed before cells were kept (extension)."
    )

    model_config = {"populate_by_name": True}
