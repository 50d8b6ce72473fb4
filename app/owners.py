"""Owner use cases: an owner is a brand or business account that owns stores."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from app import queries
from app.auth import hash_key, new_api_key
from app.queries import OwnerRow


async def create(conn: AsyncConnection, *, name: str) -> tuple[OwnerRow, str]:
    """A new owner and its API key; the key is returned this once and stored only as a hash."""
    api_key = new_api_key()
    row = await queries.insert_owner(conn, name=name, api_key_hash=hash_key(api_key))
    return row, api_key
