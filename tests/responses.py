"""What the route tests share about responses."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel


async def checked_get(
    client: httpx.AsyncClient, path: str, model: type[BaseModel], params: dict[str, Any]
) -> dict[str, Any]:
    """GET `path`: a 200 whose body has `model`'s shape (the hot paths write their JSON
    themselves, so the shape is checked here), as plain JSON."""
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    model.model_validate(response.json())
    body: dict[str, Any] = response.json()
    return body
