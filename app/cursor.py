"""Opaque paging cursors: base64url JSON that remembers where a page ended and which query it
belongs to, so a cursor replayed against different parameters is refused instead of skipping or
repeating results."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

import orjson

from app.errors import InvalidInput


def fingerprint(*parts: Any) -> str:
    """A short digest of the parameters that define a result sequence."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def encode(position: list[Any], query: str) -> str:
    """Compact JSON with floats in their shortest round-tripping form, by orjson: a fifth of
    json.dumps's time (every full nearby page carries a cursor). Only the spelling of exponents
    differs from what json.dumps wrote, so cursors issued before still decode."""
    raw = orjson.dumps([query, *position])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(token: str, query: str, arity: int) -> list[Any]:
    """The position stored in `token` (a list of `arity` values); 422 if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = orjson.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid("is not a cursor this service issued") from None
    if not isinstance(payload, list) or len(payload) != arity + 1:
        raise invalid("is not a cursor this service issued")
    if payload[0] != query:
        raise invalid("belongs to a different query; start again without a cursor")
    return payload[1:]


def read(token: str, query: str, *kinds: Callable[[Any], Any]) -> tuple[Any, ...]:
    """The position in `token`, one value per kind, each read by it (float, UUID,
    datetime.fromisoformat, ...); 422 if the token or any value is not one this service wrote."""
    values = decode(token, query, arity=len(kinds))
    try:
        return tuple(kind(value) for kind, value in zip(kinds, values, strict=True))
    except (TypeError, ValueError, AttributeError):  # UUID(5) is an AttributeError
        raise invalid("is not a cursor this service issued") from None


def invalid(msg: str) -> InvalidInput:
    return InvalidInput.at(["query", "cursor"], msg)
