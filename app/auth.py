"""API keys: who is calling. Owner keys are random and stored only as a SHA-256 hash.

The keys carry 256 random bits, so a fast hash is enough: nobody can brute-force the input, and
the lookup is one indexed equality on the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from app import queries
from app.db import Conn
from app.errors import Forbidden, Unauthorized

KEY_PREFIX = "nb_"


@dataclass(frozen=True)
class Principal:
    """The caller of a write: an owner, or the admin (owner_id None)."""

    owner_id: UUID | None

    @property
    def is_admin(self) -> bool:
        return self.owner_id is None

    def may_write(self, owner_id: UUID) -> bool:
        return self.is_admin or self.owner_id == owner_id


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


async def principal(request: Request, conn: Conn) -> Principal:
    """The dependency behind `Caller`: 401 unless the bearer key is the admin's or an owner's."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("This needs an API key: send 'Authorization: Bearer <key>'")
    admin_key = request.app.state.settings.admin_key
    if admin_key is not None and hmac.compare_digest(
        key.encode(), admin_key.get_secret_value().encode()
    ):
        return Principal(owner_id=None)
    owner = await queries.owner_by_key_hash(conn, api_key_hash=hash_key(key))
    if owner is None:
        raise Unauthorized("The API key is not valid")
    return Principal(owner_id=owner.id)


async def admin(caller: Annotated[Principal, Depends(principal, scope="function")]) -> Principal:
    if not caller.is_admin:
        raise Forbidden("This needs the admin key")
    return caller


Caller = Annotated[Principal, Depends(principal, scope="function")]
Admin = Annotated[Principal, Depends(admin, scope="function")]
