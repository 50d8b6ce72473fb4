"""The real service in a subprocess (`nearby serve`), for tests over real HTTP and TCP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest


def created(response: httpx.Response) -> Any:
    """The JSON of a 200 or 201 answer, for tests that fill a served database through the API;
    the answer's text as the failure otherwise."""
    assert response.status_code in (200, 201), response.text
    return response.json()


def free_port(ports: range) -> int:
    """The first port of `ports` nothing listens on now (other test runs share the machine)."""
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {ports.start}-{ports.stop - 1}")


@contextmanager
def nearby_serve(
    *,
    database_url: str,
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    demo: bool = False,
    args: Sequence[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """`nearby serve` on 127.0.0.1:port, ready (/healthz answers) when this yields; stopped after.

    Its output (stdout and stderr) goes to `log`; `args` are more options of `serve`.
    """
    nearby = Path(sys.executable).with_name("nearby")
    command = [str(nearby), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command + (["--demo"] if demo else []) + list(args),
            env={**os.environ, "DATABASE_URL": database_url, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(f"http://127.0.0.1:{port}", process, log)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    # migrations, and the demo stores when asked for
    wait_answering(url, process, path="/healthz", seconds=90, log=log)


def wait_answering(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    path: str = "/readyz",
    seconds: float = 60,
    log: Path | None = None,
) -> httpx.Response:
    """`path`'s first 200 answer from the server `process` runs at `url`; the test fails when the
    process exits or `seconds` pass first, showing the server's `log` when there is one."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            shown = f":\n{log.read_text()}" if log else ""
            pytest.fail(f"the server at {url} exited with {process.returncode}{shown}")
        try:
            response = httpx.get(f"{url}{path}", timeout=1)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    shown = f":\n{log.read_text()}" if log else ""
    pytest.fail(f"the server at {url} did not answer {path} in {seconds:.0f} s{shown}")
