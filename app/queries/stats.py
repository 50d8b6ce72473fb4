"""SQL of merchant statistics (app/stats.py): whose offers a view covers, the quarter-hour
rollup (`QUARTERS`) summed into local hours or days, the claims of a range by H3 cell with
their distinct users, and an offer's claims for the CSV export.

A view covers a set of offers, named by a scope: one offer, a store's offers, or an owner's.
Every query takes the scope as SQL over `:id` (`SCOPES`), so the planner reads the rollup's
and the claim index's ranges offer by offer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

Scope = Literal["offer", "merchant", "owner"]

SCOPES: dict[Scope, str] = {
    "offer": "SELECT CAST(:id AS uuid)",
    "merchant": "SELECT o.id FROM offer o WHERE o.merchant_id = :id",
    "owner": """SELECT o.id FROM offer o JOIN merchant m ON m.id = o.merchant_id
                WHERE m.owner_id = :id""",
}


# The rollup's quarters: the finished ones in offer_stats, and each offer's live one on its row
# (migration 0010). A quarter may be in both (a claim of an earlier quarter arriving after a
# later one began goes to offer_stats): readers sum by quarter.
QUARTERS = """(SELECT offer_id, t, claims, redemptions FROM offer_stats
               UNION ALL
               SELECT id, stats_t, stats_claims, stats_redemptions FROM offer
               WHERE stats_t IS NOT NULL)"""


@dataclass(slots=True)
class Subject:
    """What a statistics view is about: its owner and the timezone its series are told in."""

    owner_id: UUID
    timezone: str


@dataclass(slots=True)
class CellCount:
    cell: int | None  # None: the totals over all claims; 0: claims kept without a cell
    claims: int
    redeemed: int  # of those claims, how many were redeemed by now
    users: int  # distinct (app, user_id)


@dataclass(slots=True)
class SharePoint:
    """A share of the viewed offers, as the attribution needs it."""

    code: str
    parent: str | None
    app_id: UUID
    user_id: str
    created_at: datetime


@dataclass(slots=True)
class ExportRow:
    code: str
    claimed_at: datetime
    redeemed_at: datetime | None
    user_id: str
    app_id: UUID
    cell: int | None
    share: str | None


async def offer_subject(conn: AsyncConnection, *, offer_id: UUID) -> Subject | None:
    row = (
        await conn.execute(
            text(
                """SELECT m.owner_id, m.timezone FROM offer o
                   JOIN merchant m ON m.id = o.merchant_id WHERE o.id = :id"""
            ),
            {"id": offer_id},
        )
    ).one_or_none()
    return Subject(*row) if row else None


async def merchant_subject(conn: AsyncConnection, *, merchant_id: UUID) -> Subject | None:
    row = (
        await conn.execute(
            text("SELECT owner_id, timezone FROM merchant WHERE id = :id"), {"id": merchant_id}
        )
    ).one_or_none()
    return Subject(*row) if row else None


async def owner_exists(conn: AsyncConnection, *, owner_id: UUID) -> bool:
    found = await conn.execute(
        text("SELECT EXISTS (SELECT FROM owner WHERE id = :id)"), {"id": owner_id}
    )
    return bool(found.scalar_one())


async def quarterly(
    conn: AsyncConnection, *, scope: Scope, id: UUID, start: datetime, end: datetime
) -> list[tuple[datetime, int, int]]:
    """(quarter-hour, claims, redemptions) of the scope's offers in [start, end)."""
    rows = await conn.execute(
        text(
            f"""SELECT s.t, sum(s.claims)::bigint, sum(s.redemptions)::bigint
                FROM {QUARTERS} s
                WHERE s.offer_id IN ({SCOPES[scope]}) AND s.t >= :start AND s.t < :end
                GROUP BY s.t"""
        ),
        {"id": id, "start": start, "end": end},
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def daily(
    conn: AsyncConnection, *, scope: Scope, id: UUID, tz: str, start: datetime, end: datetime
) -> list[tuple[date, int, int]]:
    """(local date, claims, redemptions) of the scope's offers in [start, end)."""
    rows = await conn.execute(
        text(
            f"""SELECT (s.t AT TIME ZONE :tz)::date AS day,
                       sum(s.claims)::bigint, sum(s.redemptions)::bigint
                FROM {QUARTERS} s
                WHERE s.offer_id IN ({SCOPES[scope]}) AND s.t >= :start AND s.t < :end
                GROUP BY day"""
        ),
        {"id": id, "tz": tz, "start": start, "end": end},
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def by_cell(
    conn: AsyncConnection, *, scope: Scope, id: UUID, start: datetime, end: datetime
) -> list[CellCount]:
    """The codes claimed in [start, end) per claim cell, and (cell None) over all of them: how
    many, how many of them redeemed since, and by how many distinct users (app, user_id).
    Read from the index (offer_id, claimed_at) alone."""
    # Grouped by claimant first (hash aggregates), then by cell and overall: a count of
    # distinct (app_id, user_id) pairs per group sorts records, and measured twice as slow.
    rows = await conn.execute(
        text(
            f"""WITH per_user AS MATERIALIZED (
                    SELECT c.cell, c.app_id, c.user_id,
                           count(*) AS claims, count(c.redeemed_at) AS redeemed
                    FROM claim c
                    WHERE c.offer_id IN ({SCOPES[scope]})
                      AND c.claimed_at >= :start AND c.claimed_at < :end
                    GROUP BY c.cell, c.app_id, c.user_id
                )
                SELECT coalesce(cell, 0), sum(claims)::bigint, sum(redeemed)::bigint, count(*)
                FROM per_user GROUP BY cell
                UNION ALL
                SELECT NULL, coalesce(sum(claims), 0)::bigint, coalesce(sum(redeemed), 0)::bigint,
                       (SELECT count(*) FROM (SELECT DISTINCT app_id, user_id FROM per_user) AS d)
                FROM per_user"""
        ),
        {"id": id, "start": start, "end": end},
    )
    return [CellCount(r[0], r[1], r[2], r[3]) for r in rows]


async def shares(conn: AsyncConnection, *, scope: Scope, id: UUID) -> list[SharePoint]:
    """Every share of the scope's offers (whole trees)."""
    rows = await conn.execute(
        text(
            f"""SELECT s.code, s.parent, s.app_id, s.user_id, s.created_at FROM share s
                WHERE s.offer_id IN ({SCOPES[scope]})"""
        ),
        {"id": id},
    )
    return [SharePoint(*r) for r in rows]


async def attributed(
    conn: AsyncConnection, *, scope: Scope, id: UUID, start: datetime, end: datetime
) -> list[tuple[str, int, int]]:
    """(share, claims not redeemed, claims redeemed) of the codes claimed in [start, end)
    through a share (claim.share is already the attributed share: see queries/claims.py)."""
    rows = await conn.execute(
        text(
            f"""SELECT c.share, count(*) - count(c.redeemed_at), count(c.redeemed_at)
                FROM claim c
                WHERE c.offer_id IN ({SCOPES[scope]})
                  AND c.claimed_at >= :start AND c.claimed_at < :end AND c.share IS NOT NULL
                GROUP BY c.share"""
        ),
        {"id": id, "start": start, "end": end},
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def offer_claims(
    conn: AsyncConnection, *, offer_id: UUID, page: int = 2000
) -> AsyncIterator[list[ExportRow]]:
    """Every claim of an offer, oldest first, in pages (a server-side cursor: memory stays
    flat whatever the count)."""
    result = await conn.stream(
        text(
            """SELECT code, claimed_at, redeemed_at, user_id, app_id, cell, share FROM claim
               WHERE offer_id = :id ORDER BY claimed_at, code"""
        ),
        {"id": offer_id},
    )
    async for rows in result.partitions(page):
        yield [ExportRow(*r) for r in rows]
