"""Shapes of apps: client programs (mini programs, bots, H5 pages) that have end users."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from app.schemas.common import Name, Strict


class AppIn(Strict):
    name: Name = Field(description="The app's name, for people (e.g. the mini program's).")

    model_config = {"json_schema_extra": {"examples": [{"name": "Esplanadi mini program"}]}}


class AppOut(BaseModel):
    id: UUID = Field(description="The app's id: the `iss` of its user tokens.")
    name: str = Field(description="The app's name.")
    app_key: str = Field(description="Bearer key of the app's backend; shown only now.")
    signing_secret: str = Field(
        description="HS256 secret of the app's user tokens (iss = id); shown only now."
    )
    created_at: datetime = Field(description="When it was created (RFC 3339, UTC).")
