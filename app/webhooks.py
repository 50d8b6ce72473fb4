"""Webhooks: an owner's subscriptions to its events, the checks on their URLs, and signatures.

A webhook's URL must be http(s), at most MAX_URL_CHARS, without credentials or a fragment, and
its host must not be (or resolve to) a private, loopback, link-local or otherwise non-global
address unless NEARBY_WEBHOOK_ALLOW_PRIVATE is set. The same rule is applied again at every
delivery, after resolving the name, and the connection goes to the address that was checked
(app/delivery.py), so a name that later resolves elsewhere cannot reach the inside either.

The secret is shown once, in the answer to POST. The service needs it to sign every delivery,
so it cannot be a hash: it is stored sealed like apps' signing secrets (app/sealing.py: Fernet
under NEARBY_SECRET_KEY, or marked plain without one). Secrets stored before sealing (bare
`whsec_...`) still open. A signature is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from app import cursor, merchants
from app.auth import Principal
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.queries import webhooks as webhooks_sql
from app.queries.webhooks import DeliveryRow, WebhookRow
from app.sealing import SecretBox

MAX_PER_OWNER = 20
MAX_URL_CHARS = 2048
SECRET_PREFIX = "whsec_"
RESOLVE_TIMEOUT_S = 5.0
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class Refused(Exception):
    """A webhook URL or address the service will not send to; the message says why."""


@dataclass(frozen=True)
class Created:
    webhook: WebhookRow
    secret: str  # shown only now


async def create(
    conn: AsyncConnection,
    *,
    principal: Principal,
    owner_id: UUID | None,
    url: str,
    events: Sequence[str],
    allow_private: bool,
    box: SecretBox,
) -> Created:
    """A new webhook for the caller's owner (or the one the admin names)."""
    target = await merchants.owner_for_writes(conn, principal, owner_id, loc=["query", "owner_id"])
    try:
        parts = check_url(url)
        await resolve(parts, allow_private=allow_private)
    except Refused as exc:
        raise InvalidInput.at(["body", "url"], str(exc)) from None
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    row = await webhooks_sql.insert_webhook(
        conn,
        owner_id=target,
        url=url,
        events=sorted(set(events)),
        secret=box.seal(secret),
        most=MAX_PER_OWNER,
    )
    if row is None:
        raise Conflict(f"An owner may have at most {MAX_PER_OWNER} webhooks; delete one first")
    return Created(row, secret)


async def list_of(
    conn: AsyncConnection, *, principal: Principal, owner_id: UUID | None
) -> list[WebhookRow]:
    target = await merchants.owner_for_writes(conn, principal, owner_id, loc=["query", "owner_id"])
    return await webhooks_sql.webhooks_of(conn, owner_id=target)


async def delete(conn: AsyncConnection, *, principal: Principal, webhook_id: UUID) -> None:
    """Delete a webhook and its deliveries: nothing more is sent to it."""
    await _own(conn, principal, webhook_id)
    await webhooks_sql.delete_webhook(conn, webhook_id=webhook_id)


async def deliveries(
    conn: AsyncConnection,
    *,
    principal: Principal,
    webhook_id: UUID,
    status: str | None,
    after_cursor: str | None,
    limit: int,
) -> tuple[list[DeliveryRow], str | None]:
    """A webhook's deliveries (one per event), newest event first, and the next page's cursor."""
    await _own(conn, principal, webhook_id)
    query = cursor.fingerprint("deliveries", webhook_id, status)
    (before,) = cursor.read(after_cursor, query, int) if after_cursor is not None else (None,)
    rows = await webhooks_sql.deliveries(
        conn, webhook_id=webhook_id, status=status, before_event_id=before, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, cursor.encode([rows[-1].event_id], query) if more else None


def check_url(url: str) -> SplitResult:
    """The URL's parts if its form is acceptable; Refused says what is wrong with it."""
    if len(url) > MAX_URL_CHARS:
        raise Refused(f"must be at most {MAX_URL_CHARS} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise Refused("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("must be an http or https URL")
    if not parts.hostname:
        raise Refused("must name a host")
    if "@" in parts.netloc:
        raise Refused("must not carry credentials; check the signature instead")
    if parts.fragment or url.endswith("#"):
        raise Refused("must not have a fragment")
    if port == 0:
        raise Refused("must not use port 0")
    return parts


async def resolve(parts: SplitResult, *, allow_private: bool) -> list[str]:
    """The addresses to send to for the URL's host: every one it resolves to, each of them
    public unless `allow_private`. Refused if it does not resolve or names a private address."""
    assert parts.hostname is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return await addresses(parts.hostname, port, allow_private=allow_private)


async def addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses of `host` (a name or an IP address), each of them public unless
    `allow_private`; Refused if it does not resolve or names a private address."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        found = [str(literal)]
    else:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
        except (OSError, TimeoutError):
            raise Refused(f"the host {host!r} does not resolve") from None
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not found:
            raise Refused(f"the host {host!r} does not resolve")
    if not allow_private:
        for address in found:
            if not is_public(address):
                named = f"{address} is" if literal else f"the host {host!r} resolves to {address},"
                raise Refused(
                    f"{named} a private, loopback or link-local address, which webhooks may"
                    " not reach"
                )
    return found


def is_public(address: str) -> bool:
    """Whether an IP address is globally reachable (not private, loopback, link-local, ...)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def signing_secret(box: SecretBox, stored: str) -> str:
    """A webhook's secret as stored (sealed, plain, or bare from before sealing), opened."""
    if stored.startswith(SECRET_PREFIX):
        return stored
    return box.open(stored)


def sign(secret: str, body: bytes, t: int) -> str:
    """The Nearby-Signature header of `body` sent at unix time `t`."""
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


async def _own(conn: AsyncConnection, principal: Principal, webhook_id: UUID) -> WebhookRow:
    row = await webhooks_sql.webhook_by_id(conn, webhook_id=webhook_id)
    if row is None:
        raise NotFound(f"There is no webhook {webhook_id}")
    if not principal.may_write(row.owner_id):
        raise Forbidden("This webhook belongs to another owner")
    return row
