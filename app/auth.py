"""API keys and principals: who is calling. Owner and app keys are random and stored only as a
SHA-256 hash. No FastAPI here: app/routes/callers.py reads the header and asks this module.

The keys carry 256 random bits, so a fast hash is enough: nobody can brute-force the input, and
the lookup is one indexed equality on the hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

KEY_PREFIX = "nb_"
APP_KEY_PREFIX = "nba_"


@dataclass(frozen=True)
class Principal:
    """The caller of a write: an owner, or the admin (owner_id None)."""

    owner_id: UUID | None

    @property
    def is_admin(self) -> bool:
        return self.owner_id is None

    def may_write(self, owner_id: UUID) -> bool:
        return self.is_admin or self.owner_id == owner_id


@dataclass(frozen=True)
class AppUser:
    """The caller of what an end user does: an app, and with a user token also its user."""

    app_id: UUID
    token_user_id: str | None  # the token's `sub`; None: the app's backend, with its key

    def may_see(self, app_id: UUID, user_id: str) -> bool:
        """Whether this caller may see what `user_id` of app `app_id` holds."""
        return self.app_id == app_id and self.token_user_id in (None, user_id)


def new_app_key() -> str:
    return APP_KEY_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()
