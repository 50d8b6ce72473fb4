"""App use cases: create and revoke apps, and tell which app (and user) a credential speaks for.

An app authenticates with its key (its backend, naming the user in the body) or with a user
token its backend minted (app/tokens.py). Each process keeps what it looked up for CACHE_S
seconds, so a claim usually needs no round trip for its credential: revoking takes effect at
once in the process that revoked, and within CACHE_S in every other.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from app import tokens
from app.auth import AppUser, hash_key, new_app_key
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.queries import apps as apps_sql
from app.queries.apps import AppRow
from app.sealing import SealError, SecretBox
from app.settings import Settings

log = logging.getLogger("nearby")

CACHE_S = 5.0
CACHE_MAX = 10_000  # entries per map; past that the map starts afresh
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class NewApp:
    row: AppRow
    app_key: str
    signing_secret: str


class Directory:
    """The apps as this process knows them: a short-lived cache in front of the table."""

    def __init__(self, box: SecretBox) -> None:
        self.box = box
        self._by_key: dict[bytes, tuple[UUID, float]] = {}
        self._secrets: dict[UUID, tuple[str, float]] = {}

    async def authenticate(self, conn: asyncpg.Connection, credential: str) -> AppUser | None:
        """The app (and user) of an app key or user token; None when it is no app's key.
        A token that fails any rule is a 401."""
        if tokens.looks_like_token(credential):
            return await self._token_user(conn, credential)
        app_id = await self._app_of_key(conn, hash_key(credential))
        return None if app_id is None else AppUser(app_id, None)

    def forget(self, app_id: UUID) -> None:
        self._secrets.pop(app_id, None)
        for key_hash, (cached, _) in list(self._by_key.items()):
            if cached == app_id:
                del self._by_key[key_hash]

    async def _app_of_key(self, conn: asyncpg.Connection, key_hash: bytes) -> UUID | None:
        now = time.monotonic()
        cached = self._by_key.get(key_hash)
        if cached is not None and cached[1] > now:
            return cached[0]
        app_id = await apps_sql.live_app_by_key_hash(conn, app_key_hash=key_hash)
        if app_id is not None:
            _remember(self._by_key, key_hash, (app_id, now + CACHE_S))
        return app_id

    async def _token_user(self, conn: asyncpg.Connection, token: str) -> AppUser:
        try:
            app_id = tokens.issuer(token)
            secret = await self._secret(conn, app_id)
            return AppUser(app_id, tokens.verify(token, secret=secret, app_id=app_id))
        except tokens.TokenError as exc:
            raise Unauthorized(str(exc)) from None

    async def _secret(self, conn: asyncpg.Connection, app_id: UUID) -> str:
        now = time.monotonic()
        cached = self._secrets.get(app_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        stored = await apps_sql.live_app_secret(conn, app_id=app_id)
        if stored is None:
            raise tokens.TokenError("The user token's app is unknown or revoked")
        try:
            secret = self.box.open(stored)
        except SealError as exc:
            log.error("cannot open the signing secret of app %s: %s", app_id, exc)
            raise tokens.TokenError("The user token's app cannot verify tokens here") from None
        _remember(self._secrets, app_id, (secret, now + CACHE_S))
        return secret


def user_of(caller: AppUser, body_user_id: str | None) -> str:
    """The user a request is for: the token's `sub` (a body `user_id` must then be absent or
    equal), or with an app key the body's `user_id` (then required)."""
    if caller.token_user_id is None:
        if body_user_id is None:
            raise InvalidInput.at(["body", "user_id"], "is required with an app key")
        return body_user_id
    if body_user_id is not None and body_user_id != caller.token_user_id:
        raise Forbidden("The body's user_id is not the user of the token (its sub)")
    return caller.token_user_id


async def create(conn: AsyncConnection, *, name: str, box: SecretBox) -> NewApp:
    """A new app with its key (only its hash is stored) and its signing secret (256 bits)."""
    app_key, signing_secret = new_app_key(), secrets.token_urlsafe(32)
    row = await apps_sql.insert_app(
        conn, name=name, app_key_hash=hash_key(app_key), signing_secret=box.seal(signing_secret)
    )
    return NewApp(row, app_key, signing_secret)


async def create_or_renew(conn: AsyncConnection, *, name: str, box: SecretBox) -> NewApp:
    """The live app of that name with a new key and signing secret (the old ones stop
    working), or a new app: for the demo, which prints them at every start."""
    app_id = await apps_sql.live_app_by_name(conn, name=name)
    if app_id is None:
        return await create(conn, name=name, box=box)
    app_key, signing_secret = new_app_key(), secrets.token_urlsafe(32)
    row = await apps_sql.set_app_credentials(
        conn,
        app_id=app_id,
        app_key_hash=hash_key(app_key),
        signing_secret=box.seal(signing_secret),
    )
    return NewApp(row, app_key, signing_secret)


def box_of(settings: Settings) -> SecretBox:
    """The box of NEARBY_SECRET_KEY (or none: secrets kept plain)."""
    key = settings.secret_key
    return SecretBox(key.get_secret_value() if key is not None else None)


async def revoke(conn: AsyncConnection, *, app_id: UUID, directory: Directory) -> None:
    if not await apps_sql.revoke_app(conn, app_id=app_id):
        raise NotFound(f"There is no app {app_id}")
    directory.forget(app_id)


def _remember(cache: dict[K, V], key: K, value: V) -> None:
    if len(cache) >= CACHE_MAX:
        cache.clear()
    cache[key] = value
