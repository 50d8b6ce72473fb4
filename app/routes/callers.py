"""The auth dependencies of the routes: read the bearer credential and name the caller."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from app.auth import Principal, hash_key
from app.db import Conn
from app.errors import Forbidden, Unauthorized
from app.queries import owners as owners_sql


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
    owner = await owners_sql.owner_by_key_hash(conn, api_key_hash=hash_key(key))
    if owner is None:
        raise Unauthorized("The API key is not valid")
    return Principal(owner_id=owner.id)


async def admin(caller: Annotated[Principal, Depends(principal, scope="function")]) -> Principal:
    if not caller.is_admin:
        raise Forbidden("This needs the admin key")
    return caller


Caller = Annotated[Principal, Depends(principal, scope="function")]
Admin = Annotated[Principal, Depends(admin, scope="function")]
