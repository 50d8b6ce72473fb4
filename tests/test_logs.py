"""Request ids and log lines (app/logs.py), through the real app."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app import logs
from app.main import create_app
from app.settings import Settings

MADE_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the service's loggers (`nearby.*`) write while a test runs, as `nearby serve` does."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    service = logging.getLogger("nearby")
    level = service.level
    service.addHandler(handler)
    service.setLevel(logging.INFO)
    try:
        yield out
    finally:
        service.removeHandler(handler)
        service.setLevel(level)


def _app(settings: Settings, **changes: Any) -> FastAPI:
    """The real app, plus two routes of this test's own: one that logs, one that fails."""
    app = create_app(settings.model_copy(update=changes))
    said = logging.getLogger("nearby.test")

    @app.get("/test/says")
    async def says() -> dict[str, str]:
        said.info("working on it")
        return {"status": "ok"}

    @app.get("/test/fails")
    async def fails() -> None:
        raise RuntimeError("a bug")

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _parsed(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_a_request_id_is_made_when_none_is_given(settings: Settings) -> None:
    async with _client(_app(settings)) as client:
        first, second = await client.get("/healthz"), await client.get("/healthz")
    assert MADE_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("given", ["abc-123", "x", "!" * 200, "Root=1-67a9;Parent=53995c3f"])
async def test_a_valid_request_id_is_kept(settings: Settings, given: str) -> None:
    async with _client(_app(settings)) as client:
        response = await client.get("/healthz", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


@pytest.mark.parametrize(
    "given", [b"", b"has space", b"a" * 201, "caf\u00e9".encode(), b"tab\there", b"<\x7f>"]
)
async def test_an_invalid_request_id_is_replaced(settings: Settings, given: bytes) -> None:
    async with _client(_app(settings)) as client:
        response = await client.get("/healthz", headers=[(b"X-Request-ID", given)])
    assert MADE_ID.fullmatch(response.headers["x-request-id"])


async def test_log_lines_of_a_request_carry_its_id_and_the_access_line_its_facts(
    settings: Settings, log_lines: io.StringIO
) -> None:
    secret = "nb_sEcReT-key-in-the-query"
    headers = {"X-Request-ID": "req-1", "Authorization": "Bearer nb_sEcReT-bearer"}
    async with _client(_app(settings, access_log=True)) as client:
        response = await client.get(f"/test/says?key={secret}&lat=60.1", headers=headers)
    assert response.status_code == 200 and response.headers["x-request-id"] == "req-1"
    said, access = _parsed(log_lines)
    assert said["request_id"] == "req-1" and said["message"] == "working on it"
    assert set(said) == {"time", "level", "logger", "message", "request_id", "pid"}
    assert said["level"] == "INFO" and said["logger"] == "nearby.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", said["time"])
    duration = access.pop("duration_ms")
    assert isinstance(duration, float) and 0 <= duration < 60_000
    assert access | {"time": None, "pid": None} == {
        "time": None,
        "pid": None,
        "level": "INFO",
        "logger": "nearby.access",
        "message": "GET /test/says 200",
        "request_id": "req-1",
        "method": "GET",
        "path": "/test/says",
        "status": 200,
        "client": "127.0.0.1",
    }
    assert "sEcReT" not in log_lines.getvalue()


async def test_the_access_line_has_the_path_as_sent_so_it_cannot_break_a_line(
    settings: Settings, log_lines: io.StringIO
) -> None:
    async with _client(_app(settings, access_log=True)) as client:
        response = await client.get("/test/says%0A%7B%22forged%22%3A1%7D?token=x")
    assert response.status_code == 404
    (access,) = _parsed(log_lines)
    assert access["path"] == "/test/says%0A%7B%22forged%22%3A1%7D" and access["status"] == 404


async def test_a_failing_request_logs_its_trace_under_its_id_and_answers_500_with_it(
    settings: Settings, log_lines: io.StringIO
) -> None:
    async with _client(_app(settings, access_log=True)) as client:
        response = await client.get("/test/fails")
    assert response.status_code == 500
    rid = response.headers["x-request-id"]
    failure, access = _parsed(log_lines)
    assert failure["request_id"] == rid and failure["level"] == "ERROR"
    assert "RuntimeError: a bug" in failure["exc"]
    assert (access["request_id"], access["status"]) == (rid, 500)


async def test_there_is_no_access_log_unless_asked(
    settings: Settings, log_lines: io.StringIO
) -> None:
    async with _client(_app(settings)) as client:
        assert (await client.get("/healthz")).status_code == 200
    assert log_lines.getvalue() == ""


def test_the_text_format_shows_the_request_id_and_access_facts() -> None:
    record = logging.LogRecord("nearby.access", logging.INFO, __file__, 1, "GET / 200", (), None)
    record.__dict__ |= {"method": "GET", "path": "/", "status": 200, "duration_ms": 1.5}
    token = logs.request_id.set("req-9")
    try:
        line = logs.TextFormatter().format(record)
    finally:
        logs.request_id.reset(token)
    assert line.endswith(
        " INFO nearby.access [req-9]: GET / 200 (method=GET path=/ status=200 duration_ms=1.5)"
    )


def test_a_json_line_is_one_line_whatever_the_message_holds() -> None:
    try:
        raise ValueError("two\nlines")
    except ValueError:
        exc_info = sys.exc_info()
    message = 'quote " newline \n and \u00e9'
    record = logging.LogRecord("nearby", logging.WARNING, __file__, 1, message, (), exc_info)
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == message and parsed["request_id"] is None
    assert parsed["exc"].endswith("ValueError: two\nlines")
