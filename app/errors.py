"""Errors as RFC 9457 problem details: the DomainError family and the handlers that render them.

Every error the service returns is `application/problem+json` with `type`, `title`, `status`
(equal to the HTTP status) and `detail`; invalid input adds `errors: [{"loc", "msg"}]`. A bug
is a 500 problem with no stack trace in it. An unreachable database is a 503 (`Unavailable`),
logged in one line: `database_unreachable` is the one place that tells such errors apart.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, EmulatedDBAPIException
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("nearby")

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """An error a client caused or should hear about; subclasses fix status, title and type."""

    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers


class InvalidInput(DomainError):
    status, title, slug = 422, "Invalid input", "invalid-input"

    @classmethod
    def at(cls, loc: list[str | int], msg: str) -> InvalidInput:
        """One invalid field, reported like FastAPI's own validation errors."""
        return cls(f"{'.'.join(map(str, loc))}: {msg}", errors=[{"loc": loc, "msg": msg}])


class Unauthorized(DomainError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class OutsideFence(Forbidden):
    title, slug = "Outside the geofence", "outside-fence"


class NotActive(Conflict):
    title, slug = "Offer not active", "not-active"


class SoldOut(Conflict):
    title, slug = "Sold out", "sold-out"


class LimitReached(Conflict):
    title, slug = "Per-user limit reached", "limit-reached"


class AlreadyRedeemed(Conflict):
    title, slug = "Already redeemed", "already-redeemed"


class RateLimited(DomainError):
    status, title, slug = 429, "Too many requests", "rate-limited"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class ContentTooLarge(DomainError):
    status, title, slug = 413, "Content too large", "content-too-large"


class UnsupportedMediaType(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class NotReady(DomainError):
    status, title, slug = 503, "Not ready", "not-ready"


RETRY_AFTER_S = 2  # a fast restart of PostgreSQL takes about a second


class Unavailable(DomainError):
    status, title, slug = 503, "Service unavailable", "unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The database cannot be reached just now; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )


# What asyncpg raises when the server is gone, refuses or drops a session (SQLSTATE class 08,
# which includes "connection was closed in the middle of operation", and 57P01-57P03: shut down by
# an administrator, crashed, not yet accepting connections). And asyncpg's InternalClientError:
# a connection used one request at a time only raises it when the server spoke out of turn,
# which it does to say it is terminating the session (the socket closes a moment later).
_DRIVER_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.InternalClientError,
)
# What the socket layer raises on connecting or talking to it (refused, reset, timed out, no
# such host, TLS failed: a certificate the CA no longer verifies, say). Other OSErrors (a full
# disk, say) are not the database's.
_SOCKET_LOST = (ConnectionError, TimeoutError, socket.gaierror, ssl.SSLError)
_LOST = _DRIVER_LOST + _SOCKET_LOST


# What a database call can raise, the driver's own errors as SQLAlchemy wraps or adapts them.
_DRIVER_ERRORS = (
    DBAPIError,
    EmulatedDBAPIException,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached or dropped the connection.

    Follows SQLAlchemy's wrapping (`orig`) and explicit chaining (`raise .. from`); SQLAlchemy's
    own verdict counts too (`connection_invalidated`, set when it saw the connection closed).
    """
    seen: BaseException | None = exc
    for _ in range(8):  # the chains are short; a cycle must not hang a request
        if seen is None:
            return False
        if isinstance(seen, _LOST):
            return True
        if isinstance(seen, asyncpg.InterfaceError) and "connection is closed" in str(seen):
            return True  # a statement on a connection already closed (SQLAlchemy's test too)
        if isinstance(seen, DBAPIError):
            if seen.connection_invalidated:
                return True
            seen = seen.orig
        else:
            seen = seen.__cause__
    return False


def problem(
    status: int,
    *,
    title: str | None = None,
    detail: str,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one builder of problem bodies (claims store `problem_of` a DomainError too)."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_of(exc: DomainError) -> JSONResponse:
    return problem(
        exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=f"/problems/{exc.slug}",
        errors=exc.errors,
        headers=exc.headers,
    )


def install(app: FastAPI) -> None:
    """Register the handlers; Starlette finds them along the MRO, so subclasses are covered."""
    app.add_exception_handler(DomainError, _domain_error)
    for driver_error in _DRIVER_ERRORS:
        app.add_exception_handler(driver_error, _driver_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


class PlainTextErrorsAsProblems:
    """Rewrite the plain-text error responses that framework layers send themselves as problem
    details: FastAPI's body limit, outside every user middleware, answers a too-large
    Content-Length with a plain "Content Too Large". main.NearbyAPI wraps its whole stack in this.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        text = b""

        async def rewrite(message: Message) -> None:
            nonlocal held, text
            if message["type"] == "http.response.start" and message["status"] >= 400:
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.startswith(b"text/plain"):
                    held = message
                    return
            if held is None:
                await send(message)
                return
            text += message.get("body", b"")
            if message.get("more_body"):
                return
            response = problem(held["status"], detail=text.decode("utf-8", "replace").strip())
            await response(scope, receive, send)

        await self.app(scope, receive, rewrite)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_of(exc)


async def _driver_error(request: Request, exc: Exception) -> JSONResponse:
    """503 when the database cannot be reached, with one log line and no traceback (an outage
    would otherwise log one for every request); any other error goes on to the 500 handler."""
    if not database_unreachable(exc):
        raise exc
    log.warning(
        "503 %s %s: the database is unreachable (%s)",
        request.method,
        request.url.path,
        one_line(exc),
    )
    return await _domain_error(request, Unavailable())


def one_line(exc: BaseException) -> str:
    """The first error behind `exc`, as `Type: message` on one short line: through SQLAlchemy's
    wrapping, `raise .. from`, and errors raised while handling another (a failed rollback)."""
    for _ in range(8):
        behind = exc.orig if isinstance(exc, DBAPIError) else exc.__cause__ or exc.__context__
        if behind is None:
            break
        exc = behind
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return problem_of(InvalidInput(detail, errors=errors))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and (why := _unreadable_body(exc.__cause__)) is not None:
        return await _domain_error(request, InvalidInput.at(["body"], why))
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"There is no resource at {request.url.path}"
    return problem(exc.status_code, detail=detail, headers=exc.headers)


def _unreadable_body(cause: BaseException | None) -> str | None:
    """Why FastAPI could not read a JSON body, when that is what its bare 400 stands for.

    It answers 400 "There was an error parsing the body" for bytes that are not UTF-8 and for
    JSON nested past Python's recursion limit (invalid JSON it already reports as a 422); the
    contract makes every invalid body a 422.
    """
    if isinstance(cause, UnicodeDecodeError):
        return f"is not UTF-8 text (byte {cause.start}: {cause.reason})"
    if isinstance(cause, RecursionError):
        return "is JSON nested too deeply to be read"
    if isinstance(cause, ValueError):
        return f"cannot be read as JSON ({cause})"
    return None


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, detail="An unexpected error occurred; it has been logged.")
