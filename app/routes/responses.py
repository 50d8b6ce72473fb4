"""What the route modules share: OpenAPI problem declarations and prebuilt JSON responses."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from app.errors import PROBLEM_JSON
from app.schemas.common import Problem


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the OpenAPI document: these statuses answer with problem details."""
    return {
        status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Problem details"}
        for status in statuses
    }


def json_body(body: bytes) -> Response:
    """A response around JSON the hot path has already written (presenters.*_json)."""
    return Response(body, media_type="application/json")
