"""Share use cases: a user's link to an offer, in a chain of who brought whom, and its public
view (API.md "Shares, QR codes and merchant statistics"; docs/api-extensions.md "Shares").

A share's code is 22 characters drawn uniformly from [0-9A-Za-z] by `secrets` (log2(62) * 22
= 131 bits): it fits a mini program QR code's 32-character `scene` and cannot be guessed. A
share names its `parent`, the share of the same offer its user arrived through; its depth is
the parent's plus one (a root is 0) and its `path` (the codes from the root down to itself) is
copied from the parent's when it is made. A share can only point at a share that already
exists, and a share never changes, so a chain cannot loop: following parents strictly lowers
the depth.

Depth is bounded by MAX_DEPTH (31, so a chain has at most 32 shares): the path is stored on
every share and counted through by the statistics for every attributed claim, so the bound
caps both (32 codes of 22 characters stay within one heap tuple, untoasted); real cascades are
a few levels deep, so a chain 32 people long is a loop of bots more likely than a party. A
share under a parent at the bound is a 422 that says so.

One share per user of an app and offer (first touch): sharing again returns the user's share
as it is (200), whatever parent is named then. The chain a user joined first keeps the credit,
a user cannot game the counts by sharing through many parents, and each sharer is one node of
the offer's tree, which makes the 80% set exact (app/attribution.py).
"""

from __future__ import annotations

import secrets
import string
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app import offers
from app.db import constraint_errors
from app.errors import InvalidInput, NotFound
from app.queries import shares as shares_sql
from app.queries.offers import OfferRow
from app.queries.shares import ShareRow
from app.tables import SHARE_MAX_DEPTH

MAX_DEPTH = SHARE_MAX_DEPTH
CODE_LENGTH = 22
_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


def _no_offer(offer_id: UUID) -> NotFound:
    return NotFound(f"There is no offer {offer_id}")


_OFFER_GONE = {"fk_share_offer_id_offer": _no_offer, "fk_share_offer_id_share": _no_offer}


async def share(
    conn: AsyncConnection, *, offer_id: UUID, app_id: UUID, user_id: str, parent: str | None
) -> tuple[ShareRow, bool]:
    """The user's share of the offer, and whether it was made now (see the module docstring)."""
    await offers.get(conn, offer_id=offer_id)  # 404 first
    parent_row = None
    if parent is not None:
        parent_row = await shares_sql.share_by_code(conn, code=parent)
        if parent_row is None or parent_row.offer_id != offer_id:
            raise InvalidInput.at(["body", "parent"], "is not a share of this offer")
    mine = await shares_sql.share_of_user(conn, offer_id=offer_id, app_id=app_id, user_id=user_id)
    if mine is not None:
        return mine, False
    if parent_row is not None and parent_row.depth >= MAX_DEPTH:
        raise InvalidInput.at(
            ["body", "parent"],
            f"is at depth {parent_row.depth}, the deepest a share chain goes (a chain holds at"
            f" most {MAX_DEPTH + 1} shares); share without a parent to start a new chain",
        )
    with constraint_errors(_OFFER_GONE, offer_id):
        made = await shares_sql.insert_share(
            conn,
            code=new_code(),
            offer_id=offer_id,
            app_id=app_id,
            user_id=user_id,
            parent=parent,
        )
    if made is not None:
        return made, True
    # the same user's share, made by a concurrent request since we looked
    mine = await shares_sql.share_of_user(conn, offer_id=offer_id, app_id=app_id, user_id=user_id)
    assert mine is not None, "the insert met the user's share"
    return mine, False


async def public_view(conn: AsyncConnection, *, code: str) -> tuple[ShareRow, OfferRow]:
    """A share and its offer, for anyone holding the code (the caller hides the sharer)."""
    row = await shares_sql.share_by_code(conn, code=code)
    if row is None:
        raise NotFound(f"There is no share {code}")
    return row, await offers.get(conn, offer_id=row.offer_id)


async def of_offer_exists(conn: AsyncConnection, *, offer_id: UUID, code: str) -> bool:
    row = await shares_sql.share_by_code(conn, code=code)
    return row is not None and row.offer_id == offer_id
