"""Errors as RFC 9457 problem details: the DomainError family and the handlers that render them.

Every error the service returns is `application/problem+json` with `type`, `title`, `status`
(equal to the HTTP status) and `detail`; invalid input adds `errors: [{"loc", "msg"}]`. A bug
is a 500 problem with no stack trace in it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


class ContentTooLarge(DomainError):
    status, title, slug = 413, "Content too large", "content-too-large"


class UnsupportedMediaType(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class NotReady(DomainError):
    status, title, slug = 503, "Not ready", "not-ready"


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
