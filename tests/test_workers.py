"""`nearby serve` as operators run it: a real process on a real port, against a fresh database.

Several workers start every time, every one of them serves, and /metrics counts the requests of
all of them; SIGTERM lets a request in flight finish and the process exits 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, create_database, database_url_for, drop_database, server_url
from tests.service import free_port

PORTS = range(26600, 26700)  # this file's own range, clear of other servers of the test run
NEARBY = Path(sys.executable).with_name("nearby")  # the installed command, as operators run it
START_S = 180.0  # a fresh interpreter per worker: slow on a loaded machine, never this slow


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty database: `serve` migrates it itself."""
    server, name = server_url(), f"nearby_test_serve_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database(server, name))
    try:
        yield database_url_for(server, name)
    finally:
        asyncio.run(drop_database(server, name))


def test_three_workers_start_every_time_and_metrics_count_all_of_them(
    fresh_database: str, tmp_path: Path
) -> None:
    for start in range(3):
        port = free_port(PORTS)
        log_path = tmp_path / f"serve-{start}.log"
        with _serving(fresh_database, port, log_path, "--workers", "3") as proc:
            url = f"http://127.0.0.1:{port}"
            probes = _wait_until_up(proc, url, log_path)
            workers = _wait_for_workers(proc, log_path, 3)
            # A new connection per request: the kernel hands each to whichever worker accepts.
            with httpx.Client(base_url=url, limits=httpx.Limits(max_keepalive_connections=0)) as c:
                sent = 0
                while sent < 30 or _answering(log_path) < workers:
                    assert c.get("/readyz").status_code == 200
                    sent += 1
                    assert sent < 600, f"not every worker answered: {_log(log_path)}"
                scrape = _samples(c.get("/metrics").text)
                again = _samples(c.get("/metrics").text)
            assert scrape[("GET", "/readyz", "200")] == sent
            assert scrape[("GET", "/healthz", "200")] == probes
            assert ("GET", "/metrics", "200") not in scrape  # a scrape is counted once it is sent
            assert again[("GET", "/metrics", "200")] == 1
        assert proc.returncode == 0, _log(log_path)
        lines = _lines(log_path)
        assert not [x for x in lines if "died" in x["message"] or x["level"] == "ERROR"]
        assert {x["pid"] for x in lines if x["logger"] == "nearby.access"} == workers


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(
    fresh_database: str, tmp_path: Path
) -> None:
    port, log_path = free_port(PORTS), tmp_path / "serve.log"
    with _serving(fresh_database, port, log_path) as proc:
        _wait_until_up(proc, f"http://127.0.0.1:{port}", log_path)
        body = json.dumps({"name": "Arrived during the shutdown"}).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.sendall(
                b"POST /v1/owners HTTP/1.1\r\nHost: nearby\r\n"
                + f"Authorization: Bearer {ADMIN_KEY}\r\n".encode()
                + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body[:10]
            )
            time.sleep(1)  # the app is reading the body
            proc.send_signal(signal.SIGTERM)
            _wait_for_line(proc, log_path, "Shutting down")
            _wait_until_refused(port)  # no new connections while the old one finishes
            s.sendall(body[10:])
            response = _read_response(s)
        assert proc.wait(timeout=60) == 0, _log(log_path)
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 "), response
    assert json.loads(payload)["name"] == "Arrived during the shutdown"


# ----------------------------------------------------------------------------------- helpers


class _serving:
    """`nearby serve` in a subprocess, its log lines in a file; stopped (SIGTERM) on the way out."""

    def __init__(self, database_url: str, port: int, log_path: Path, *args: str) -> None:
        env = dict(os.environ, DATABASE_URL=database_url, NEARBY_ADMIN_KEY=ADMIN_KEY)
        env |= {"NEARBY_ACCESS_LOG": "true", "NEARBY_LOG_FORMAT": "json"}
        env |= {"NEARBY_GRACEFUL_SHUTDOWN_S": "60"}  # a loaded machine is slow to finish
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.args = [str(NEARBY), "serve", "--port", str(port), *args]
        self.env, self.log_path = env, log_path

    def __enter__(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=log
            )
        return self.proc

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> int:
    """Poll /healthz until it answers; how many probes got an answer (the metrics count them)."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited {proc.returncode}: {_log(log_path)}"
        try:  # connected, it waits as long as it takes: an unanswered probe would still count
            httpx.get(
                f"{url}/healthz", timeout=httpx.Timeout(START_S, connect=5)
            ).raise_for_status()
            return 1
        except httpx.ConnectError:
            time.sleep(0.2)
    pytest.fail(f"serve did not answer within {START_S} s: {_log(log_path)}")


def _wait_for_workers(proc: subprocess.Popen[bytes], log_path: Path, n: int) -> set[int]:
    """The pids of the n workers once each has started; fails if any worker was lost."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        lines = _lines(log_path)
        assert not [x for x in lines if "died" in x["message"]], _log(log_path)
        started = {x["pid"] for x in lines if x["message"] == "Application startup complete."}
        if len(started) == n:
            return started
        assert proc.poll() is None, _log(log_path)
        time.sleep(0.2)
    pytest.fail(f"{n} workers did not start within {START_S} s: {_log(log_path)}")


def _wait_for_line(proc: subprocess.Popen[bytes], log_path: Path, message: str) -> None:
    deadline = time.monotonic() + 60
    while not any(x["message"] == message for x in _lines(log_path)):
        assert time.monotonic() < deadline and proc.poll() is None, _log(log_path)
        time.sleep(0.1)


def _wait_until_refused(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.1)
    pytest.fail("still accepting connections 30 s after SIGTERM")


def _answering(log_path: Path) -> set[int]:
    return {x["pid"] for x in _lines(log_path) if x["logger"] == "nearby.access"}


def _lines(log_path: Path) -> list[dict[str, Any]]:
    """Every line of the log (each one JSON object); a last line still being written is left."""
    text = log_path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def _log(log_path: Path) -> str:
    return log_path.read_text(encoding="utf-8")[-4000:]


def _samples(exposition: str) -> dict[tuple[str, str, str], float]:
    """http_requests_total by (method, route, status) from a Prometheus text exposition."""
    found: dict[tuple[str, str, str], float] = {}
    for line in exposition.splitlines():
        if line.startswith("http_requests_total{"):
            labels, _, value = line.removeprefix("http_requests_total{").partition("} ")
            pairs = dict(item.split("=", 1) for item in labels.split(","))
            key = tuple(pairs[k].strip('"') for k in ("method", "route", "status"))
            found[(key[0], key[1], key[2])] = float(value)
    return found


def _read_response(s: socket.socket) -> bytes:
    """A whole HTTP/1.1 response (the server closes the connection after it, shutting down)."""
    chunks = []
    while chunk := s.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
