"""Logs: one JSON object per line (or plain text), each carrying the id of its request.

`RequestIds` is a plain ASGI middleware (no BaseHTTPMiddleware: a task per request). It takes the
request id from `X-Request-ID` when that is 1..200 visible ASCII characters and makes one
(uuid4 hex) otherwise, returns it in the response's `X-Request-ID`, and keeps it in a context
variable, so every log call made while the request runs (and in tasks it starts) carries it.
With `access_log` it writes one line per request to the `nearby.access` logger: method, path
(as sent, percent-encoded, never the query string, which may carry keys), status, duration_ms
and client. Headers are never logged.

`config(fmt)` is the logging configuration of `nearby serve`, given to uvicorn as its
`log_config`, so uvicorn's own loggers write the same format in every worker.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from time import perf_counter
from typing import Any, Literal
from urllib.parse import quote

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LogFormat = Literal["json", "text"]

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

access = logging.getLogger("nearby.access")

_HEADER = b"x-request-id"
_VALID_ID = re.compile(rb"[\x21-\x7e]{1,200}")
# What an access line adds to its record (`extra=`), in the order the text format shows it.
_ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client")


class RequestIds:
    def __init__(self, app: ASGIApp, *, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _given_id(scope["headers"]) or uuid.uuid4().hex
        token = request_id.set(rid)
        header = (_HEADER, rid.encode())
        status = 500
        started = perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log:
                client = scope.get("client")
                fields = {
                    "method": scope["method"],
                    "path": _logged_path(scope),
                    "status": status,
                    "duration_ms": round((perf_counter() - started) * 1000, 3),
                    "client": client[0] if client else None,
                }
                access.info("%s %s %d", scope["method"], fields["path"], status, extra=fields)
            request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, request_id, pid, the access fields when present, and exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id.get(),
            "pid": record.process,  # which worker of `serve --workers N`
        }
        for key in _ACCESS_FIELDS:
            if key in record.__dict__:
                line[key] = record.__dict__[key]
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message`, for people reading a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s: %(message)s%(extra_fields)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = request_id.get()
        record.rid = f" [{rid}]" if rid else ""
        fields = record.__dict__
        extra = [f"{key}={fields[key]}" for key in _ACCESS_FIELDS if key in fields]
        record.extra_fields = f" ({' '.join(extra)})" if extra else ""
        return super().format(record)


def config(fmt: LogFormat, *, level: str = "INFO") -> dict[str, Any]:
    """A logging.config.dictConfig for the service and uvicorn: everything to stderr in `fmt`."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "main": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["main"], "level": level},
        # uvicorn's own handlers are dropped: its lines reach the root handler, in our format.
        "loggers": {
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # Alembic lists its plugins at INFO each time a worker reads the migration scripts.
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def _logged_path(scope: Scope) -> str:
    """The path as the client sent it: percent-encoded (a decoded one could carry a line break
    into a text log) and without the query string (which may carry keys)."""
    raw = scope.get("raw_path")
    if raw is None:
        return quote(scope["path"])
    return bytes(raw).split(b"?", 1)[0].decode("latin-1")  # some servers leave the query on


def _given_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == _HEADER:
            return value.decode("ascii") if _VALID_ID.fullmatch(value) else None
    return None
