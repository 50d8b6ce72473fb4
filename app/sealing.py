"""Apps' signing secrets at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256, from the
`cryptography` package) under a key derived from NEARBY_SECRET_KEY, or kept plain without one.

Stored text says which: `fernet:<token>` or `plain:<secret>`. A plain secret still opens when a
key is set later (new apps are then sealed); a sealed one needs the key it was sealed with.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SEALED, _PLAIN = "fernet:", "plain:"


class SealError(ValueError):
    """A stored secret that cannot be opened with the configured key (or without one)."""


class SecretBox:
    def __init__(self, secret_key: str | None) -> None:
        self._fernet = None if secret_key is None else Fernet(_derived_key(secret_key))

    @property
    def seals(self) -> bool:
        return self._fernet is not None

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return _PLAIN + secret
        return _SEALED + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        if stored.startswith(_PLAIN):
            return stored.removeprefix(_PLAIN)
        if not stored.startswith(_SEALED):
            raise SealError("not a stored secret")
        if self._fernet is None:
            raise SealError("sealed, and NEARBY_SECRET_KEY is not set")
        try:
            return self._fernet.decrypt(stored.removeprefix(_SEALED)).decode()
        except InvalidToken:
            raise SealError("sealed with another NEARBY_SECRET_KEY") from None


def _derived_key(secret_key: str) -> bytes:
    """A Fernet key from the operator's secret: HKDF-SHA256, so any long string will do."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"nearby app secrets")
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))
