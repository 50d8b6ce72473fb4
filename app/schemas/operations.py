"""Shapes of the operations routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"] = Field(description="Always ok: the process answers.")


class Readiness(BaseModel):
    status: Literal["ok"] = Field(
        description="ok: the database answers and is at the service's migration."
    )
    revision: str = Field(description="The database's migration revision.")
