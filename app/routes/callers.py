"""The auth dependencies of the routes: read the bearer credential and name the caller.

Owners and the admin write (`Caller`, `Admin`); apps act for their users (`app_user`, read in
the claim handler itself, and `AppCaller`); a cashier's look-up takes either (`AnyCaller`).
"""

from __future__ import annotations

import hmac
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from app.apps import Directory
from app.auth import AppUser, Principal, hash_key
from app.db import Conn, ReadConn
from app.errors import Forbidden, Unauthorized
from app.queries import owners as owners_sql


def bearer(request: Request) -> str:
    """The credential of `Authorization: Bearer <credential>`; 401 without one."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("This needs an API key: send 'Authorization: Bearer <key>'")
    return key


async def principal(request: Request, conn: Conn) -> Principal:
    """The dependency behind `Caller`: 401 unless the bearer key is the admin's or an owner's."""
    key = bearer(request)
    if _is_admin_key(request, key):
        return Principal(owner_id=None)
    owner = await owners_sql.owner_by_key_hash(conn, api_key_hash=hash_key(key))
    if owner is not None:
        return Principal(owner_id=owner.id)
    directory: Directory = request.app.state.apps
    if await directory.authenticate((await conn.get_raw_connection()).driver_connection, key):
        raise Forbidden("This needs an owner's or the admin key, not an app credential")
    raise Unauthorized("The API key is not valid")


async def admin(caller: Annotated[Principal, Depends(principal, scope="function")]) -> Principal:
    if not caller.is_admin:
        raise Forbidden("This needs the admin key")
    return caller


async def app_user(request: Request, conn: asyncpg.Connection) -> AppUser:
    """The app (and user) of an app key or user token; 403 for an owner or the admin key."""
    credential = bearer(request)
    directory: Directory = request.app.state.apps
    found = await directory.authenticate(conn, credential)
    if found is not None:
        return found
    if _is_admin_key(request, credential) or await owners_sql.owner_id_by_key_hash(
        conn, api_key_hash=hash_key(credential)
    ):
        raise Forbidden(
            "This needs an app credential (an app key or a user token), not an owner's or the"
            " admin key"
        )
    raise Unauthorized("The API key is not valid")


async def app_caller(request: Request, conn: ReadConn) -> AppUser:
    return await app_user(request, (await conn.get_raw_connection()).driver_connection)


async def any_caller(request: Request, conn: ReadConn) -> Principal | AppUser:
    """An owner, the admin, or an app (and user)."""
    key = bearer(request)
    if _is_admin_key(request, key):
        return Principal(owner_id=None)
    directory: Directory = request.app.state.apps
    found = await directory.authenticate((await conn.get_raw_connection()).driver_connection, key)
    if found is not None:
        return found
    owner = await owners_sql.owner_by_key_hash(conn, api_key_hash=hash_key(key))
    if owner is None:
        raise Unauthorized("The API key is not valid")
    return Principal(owner_id=owner.id)


def _is_admin_key(request: Request, key: str) -> bool:
    admin_key = request.app.state.settings.admin_key
    return admin_key is not None and hmac.compare_digest(
        key.encode(), admin_key.get_secret_value().encode()
    )


Caller = Annotated[Principal, Depends(principal, scope="function")]
Admin = Annotated[Principal, Depends(admin, scope="function")]
AppCaller = Annotated[AppUser, Depends(app_caller, scope="function")]
AnyCaller = Annotated[Principal | AppUser, Depends(any_caller, scope="function")]

# What each way of naming the caller accepts, as OpenAPI security requirements (any one of the
# list): app/openapi.py attaches them to the operations that depend on these, and declares the
# schemes. A route that authenticates in its handler (the claim) names its own with
# `openapi_extra=secured_by(app_user)`.
OWNER, ADMIN, APP, USER = "ownerKey", "adminKey", "appKey", "userToken"
SECURITY: dict[object, list[dict[str, list[str]]]] = {
    principal: [{OWNER: []}, {ADMIN: []}],
    admin: [{ADMIN: []}],
    app_user: [{APP: []}, {USER: []}],
    app_caller: [{APP: []}, {USER: []}],
    any_caller: [{OWNER: []}, {ADMIN: []}, {APP: []}, {USER: []}],
}


def secured_by(dependency: object) -> dict[str, list[dict[str, list[str]]]]:
    """`openapi_extra` of a route that calls `dependency` itself rather than depending on it."""
    return {"security": SECURITY[dependency]}
