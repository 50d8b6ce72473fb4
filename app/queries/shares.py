"""SQL of shares: making one (its chain's path copied from its parent's in the same
statement), finding a user's share of an offer, and reading one by its code (also on the
driver connection, for a keyed claim's response)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.attribution import Credit

_COLUMNS = "code, offer_id, app_id, user_id, parent, depth, path, created_at"


@dataclass(slots=True)
class ShareRow:
    code: str
    offer_id: UUID
    app_id: UUID
    user_id: str
    parent: str | None
    depth: int
    path: list[str]  # codes from the chain's root down to this share
    created_at: datetime


async def share_by_code(conn: AsyncConnection, *, code: str) -> ShareRow | None:
    row = (
        await conn.execute(text(f"SELECT {_COLUMNS} FROM share WHERE code = :code"), {"code": code})
    ).one_or_none()
    return ShareRow(*row) if row else None


async def share_of_offer(conn: asyncpg.Connection, *, code: str, offer_id: UUID) -> ShareRow | None:
    """The share `code` if it is one of the offer's, on the asyncpg driver connection."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM share WHERE code = $1 AND offer_id = $2", code, offer_id
    )
    return ShareRow(*row) if row else None


async def share_of_user(
    conn: AsyncConnection, *, offer_id: UUID, app_id: UUID, user_id: str
) -> ShareRow | None:
    row = (
        await conn.execute(
            text(
                f"""SELECT {_COLUMNS} FROM share
                    WHERE offer_id = :offer_id AND app_id = :app_id AND user_id = :user_id"""
            ),
            {"offer_id": offer_id, "app_id": app_id, "user_id": user_id},
        )
    ).one_or_none()
    return ShareRow(*row) if row else None


async def insert_share(
    conn: AsyncConnection,
    *,
    code: str,
    offer_id: UUID,
    app_id: UUID,
    user_id: str,
    parent: str | None,
) -> ShareRow | None:
    """A new share under `parent` (a share of the same offer, or None for a root), its depth
    and path one below the parent's; None if the user already has a share of the offer.
    Breaks fk_share_offer_id_offer when the offer is gone."""
    row = (
        await conn.execute(
            text(
                f"""INSERT INTO share (code, offer_id, app_id, user_id, parent, depth, path)
                    SELECT :code, :offer_id, :app_id, :user_id, p.code,
                           coalesce(p.depth + 1, 0),
                           coalesce(p.path, '{{}}'::text[]) || CAST(:code AS text)
                    FROM (SELECT) AS one
                    LEFT JOIN share p ON p.code = :parent AND p.offer_id = :offer_id
                    ON CONFLICT (offer_id, app_id, user_id) DO NOTHING
                    RETURNING {_COLUMNS}"""
            ),
            {
                "code": code,
                "offer_id": offer_id,
                "app_id": app_id,
                "user_id": user_id,
                "parent": parent,
            },
        )
    ).one_or_none()
    return ShareRow(*row) if row else None


async def shares_of_offer(conn: AsyncConnection, *, offer_id: UUID) -> list[ShareRow]:
    """Every share of an offer, roots first (by depth, then age)."""
    rows = await conn.execute(
        text(
            f"""SELECT {_COLUMNS} FROM share WHERE offer_id = :offer_id
                ORDER BY depth, created_at, code"""
        ),
        {"offer_id": offer_id},
    )
    return [ShareRow(*row) for row in rows]


@dataclass(slots=True)
class ChainCreditRow:
    code: str
    app_id: UUID
    user_id: str
    credit: Credit


async def chain_credit(conn: AsyncConnection, *, offer_id: UUID) -> list[ChainCreditRow]:
    """Every share of an offer (one per sharer) with its own and chain claims and redemptions:
    a claim counts for its share and every share on that share's path (app/attribution.py)."""
    rows = await conn.execute(
        text(
            """WITH credited AS (
                   SELECT c.share, c.redeemed_at IS NOT NULL AS redeemed, up.code AS up
                   FROM claim c JOIN share s ON s.code = c.share
                   CROSS JOIN LATERAL unnest(s.path) AS up (code)
                   WHERE c.offer_id = :offer_id AND c.share IS NOT NULL
               )
               SELECT sh.code, sh.app_id, sh.user_id, sh.depth,
                      count(*) FILTER (WHERE cr.share = sh.code),
                      count(*) FILTER (WHERE cr.share = sh.code AND cr.redeemed),
                      count(cr.up),
                      count(*) FILTER (WHERE cr.redeemed)
               FROM share sh LEFT JOIN credited cr ON cr.up = sh.code
               WHERE sh.offer_id = :offer_id
               GROUP BY sh.code
               ORDER BY sh.code"""
        ),
        {"offer_id": offer_id},
    )
    return [ChainCreditRow(row[0], row[1], row[2], Credit(*row[3:])) for row in rows]
