"""The built wheel carries what the service reads at run time: installed into a clean virtual
environment outside the checkout, `nearby migrate` and `nearby serve --demo` work, web console,
API reference (/docs, /redoc) and their /vendor/ libraries included.

Slow by nature (a wheel build and an install: about a minute, most of it pip asking the index
about each dependency); the packages come from pip's usual sources at the versions of
constraints.txt.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.migrate import head_revision
from app.package_data import WEB
from tests.conftest import ADMIN_KEY, create_database, database_url_for, drop_database, server_url
from tests.service import free_port, wait_answering

ROOT = Path(__file__).resolve().parents[1]
PORTS = range(26300, 26400)  # this test's own range, clear of other servers of the test run
# What index.html and basemap.js load from /vendor/, and where the checkout has each of them.
VENDOR_FILES = {
    "/vendor/leaflet/leaflet.js": WEB / "node_modules/leaflet/dist/leaflet.js",
    "/vendor/leaflet/leaflet.css": WEB / "node_modules/leaflet/dist/leaflet.css",
    "/vendor/topojson-client/topojson-client.min.js": (
        WEB / "node_modules/topojson-client/dist/topojson-client.min.js"
    ),
    "/vendor/world-atlas/countries-10m.json": WEB / "node_modules/world-atlas/countries-10m.json",
    # /docs and /redoc (app/routes/reference.py)
    "/vendor/swagger-ui-dist/swagger-ui-bundle.js": (
        WEB / "node_modules/swagger-ui-dist/swagger-ui-bundle.js"
    ),
    "/vendor/swagger-ui-dist/swagger-ui.css": WEB / "node_modules/swagger-ui-dist/swagger-ui.css",
    "/vendor/redoc/redoc.standalone.js": WEB / "node_modules/redoc/bundles/redoc.standalone.js",
    "/reference/swagger.js": WEB / "reference/swagger.js",
    "/reference/redoc.js": WEB / "reference/redoc.js",
    "/vendor/uplot/uPlot.iife.min.js": WEB / "node_modules/uplot/dist/uPlot.iife.min.js",
    "/vendor/uplot/uPlot.min.css": WEB / "node_modules/uplot/dist/uPlot.min.css",
    "/vendor/h3-js/h3-js.umd.js": WEB / "node_modules/h3-js/dist/h3-js.umd.js",
}
Installed = tuple[Path, dict[str, str]]  # the venv's bin/, the environment to run it in


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel, built from this checkout and installed into a fresh venv in a temporary
    directory, with a database of its own; yields the venv's bin/ and the environment to run it
    in (nothing of the checkout on its path)."""
    home = tmp_path_factory.mktemp("wheel")
    assert ROOT not in home.parents
    server, name = server_url(), f"nearby_test_wheel_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"DATABASE_URL": database_url_for(server, name), "NEARBY_ADMIN_KEY": ADMIN_KEY}
    # This venv's pip and hatchling (dev extras) build the wheel and install it into a venv that
    # has nothing but the standard library: no build environment, no pip of its own to set up.
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", "dist", str(ROOT)],
        home,
        env,
        300,
    )
    (wheel,) = (home / "dist").glob("nearby-*.whl")
    _run([sys.executable, "-m", "venv", "--without-pip", "venv"], home, env, 120)
    bin_ = home / "venv" / "bin"
    install = ["--python", str(bin_ / "python"), "install", "--no-compile"]
    constraints = ["-c", str(ROOT / "constraints.txt")]
    _run([*pip, *install, *constraints, str(wheel)], home, env, 600)
    asyncio.run(create_database(server, name))
    try:
        yield bin_, env
    finally:
        asyncio.run(drop_database(server, name))


def test_the_installed_package_reads_nothing_from_the_checkout(installed: Installed) -> None:
    bin_, env = installed
    where = _run(
        [str(bin_ / "python"), "-c", "from app import package_data as p; print(p.WEB)"],
        bin_.parent.parent,
        env,
        60,
    )
    assert Path(where.strip()).is_relative_to(bin_.parent), where


def test_the_installed_wheel_migrates_and_serves_the_demo_and_console(
    installed: Installed,
) -> None:
    bin_, env = installed
    home = bin_.parent.parent
    _run([str(bin_ / "nearby"), "migrate"], home, env, 120)
    port = free_port(PORTS)
    url = f"http://127.0.0.1:{port}"
    log = home / f"serve-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(bin_ / "nearby"), "serve", "--demo"],
            cwd=home,
            env=env | {"NEARBY_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # Generous: the wheel was installed without byte-compiling, so a loaded machine can
        # spend a minute importing before the server logs anything (seen at load average 17).
        ready = wait_answering(url, process, seconds=READY_S, log=log)
        assert ready.json() == {"status": "ok", "revision": head_revision()}
        with httpx.Client(base_url=url, timeout=30) as http:
            near = http.get(
                "/v1/search/nearby", params={"lat": 60.1699, "lng": 24.9384, "radius": 500}
            )
            assert near.status_code == 200, near.text
            assert near.json()["results"], "no demo store within 500 m of Helsinki's centre"
            page = http.get("/")
            assert page.status_code == 200, page.text
            assert page.headers["content-type"].startswith("text/html")
            assert '<script src="/vendor/leaflet/leaflet.js">' in page.text
            script = http.get("/console/main.js")
            assert script.status_code == 200 and "import" in script.text
            for reference in ("/docs", "/redoc"):
                page = http.get(reference)
                assert page.status_code == 200, page.text
                assert page.headers["content-type"].startswith("text/html")
            for path, original in VENDOR_FILES.items():
                served = http.get(path)
                assert served.status_code == 200, path
                assert served.content == original.read_bytes(), path
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "demo: 967 Helsinki stores loaded" in log.read_text()


READY_S = 180
