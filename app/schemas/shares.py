"""Shapes of shares (API.md "Shares, QR codes and merchant statistics")."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from app.schemas.common import SHARE_CODE_PATTERN, QueryText, Strict
from app.schemas.offers import OfferOut

CODE_EXAMPLE = "4kQ9ZtWb1xR7mN2pL8sV0c"


class ShareIn(Strict):
    user_id: QueryText | None = Field(
        None,
        description="The app's user who shares: required with an app key; with a user token "
        "absent or equal to its sub.",
    )
    parent: str | None = Field(
        None,
        pattern=SHARE_CODE_PATTERN,
        description="The share of this offer the user arrived through, if any: the new share "
        "sits below it in its chain.",
        examples=[CODE_EXAMPLE],
    )

    model_config = {
        "json_schema_extra": {"examples": [{"user_id": "wx-user-42", "parent": CODE_EXAMPLE}]}
    }


class ShareOut(BaseModel):
    code: str = Field(
        description="22 characters of [0-9A-Za-z], 131 random bits: a QR code's `scene` or a "
        "deep link's `s`.",
        examples=[CODE_EXAMPLE],
    )
    offer_id: UUID = Field(description="The offer shared.")
    user_id: str = Field(description="The app's user who shared.")
    parent: str | None = Field(description="The share this one sits below; null for a root.")
    depth: int = Field(description="0 for a root, the parent's depth + 1 below it (at most 31).")
    created_at: datetime = Field(description="When the share was made.")


class ShareView(BaseModel):
    """What anyone holding a share's code sees: never who shared it."""

    code: str = Field(description="The share's code.", examples=[CODE_EXAMPLE])
    depth: int = Field(description="How far down its chain the share sits (0: a root).")
    offer: OfferOut = Field(description="The offer shared, as GET /v1/offers/{id} shows it.")
