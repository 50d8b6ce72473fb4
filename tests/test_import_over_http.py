"""`nearby import --url URL --key KEY`: the import through a running service (a real `nearby
serve`), with no database connection of its own: the file streams up, the job is followed to
its end, and the summary, the column that failed and the rejected rows are printed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.schemas.imports import ImportFormat
from tests.conftest import ADMIN_KEY
from tests.imports_helpers import render, store
from tests.service import free_port, nearby_serve

PORTS = range(27200, 27220)


@pytest.fixture(scope="module")
def service(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port(PORTS)
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {"NEARBY_ADMIN_KEY": ADMIN_KEY}
    with nearby_serve(database_url=database_url, port=port, log=log, env=env):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def owner(service: str, engine: AsyncEngine) -> AsyncIterator[dict[str, str]]:
    async with httpx.AsyncClient(base_url=service) as client:
        response = await client.post(
            "/v1/owners",
            json={"name": f"HTTP importer {uuid.uuid4().hex[:6]}"},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
    body = response.json()
    yield body
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM owner WHERE id = :id"), {"id": body["id"]})


def nearby_import(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command with no DATABASE_URL at all: only the service is reachable to it."""
    clean = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NEARBY_DATABASE_URL")
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "import", *args],
        env=clean | {"COLUMNS": "200"} | (env or {}),
        capture_output=True,
        text=True,
        timeout=300,
    )


async def test_a_store_list_goes_through_the_service_with_the_owner_key(
    service: str, owner: dict[str, str], shared_data: Path, tmp_path: Path
) -> None:
    path = shared_data / "starbucks" / "directory.csv"
    mapping = [
        "external_id=Store Number", "name=Store Name", "category=Brand",
        "address=Street Address", "phone=Phone Number",
    ]  # fmt: skip
    maps = [a for m in mapping for a in ("--map", m)]
    errors = tmp_path / "errors.csv"
    as_given = await asyncio.to_thread(
        nearby_import, str(path), "--url", service, *maps, "--errors", str(errors),
        env={"NEARBY_OWNER_KEY": owner["api_key"]},
    )  # fmt: skip
    assert as_given.returncode == 1, as_given.stderr
    said = " ".join(as_given.stdout.split())
    assert "every row failed timezone" in said and "--set timezone=Asia/Shanghai" in said
    assert said.count("'GMT+1:00 Europe/Andorra'") == 1  # once, not 25,599 times
    assert "19773-160973" in said  # the row without coordinates, by its store number
    assert len(errors.read_text().splitlines()) == 1 + 25_601  # the header, every rejection

    fixed = await asyncio.to_thread(
        nearby_import, str(path), "--url", service, "--key", owner["api_key"], *maps,
        "--set", "timezone=UTC", "--set", "tags=coffee",
    )  # fmt: skip
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr  # still the one without a place
    assert "25,599" in fixed.stdout and "whole column" not in fixed.stdout
    async with httpx.AsyncClient(base_url=service) as client:
        found = await client.get(
            "/v1/merchants",
            params={"external_id": "47370-257954"},
            headers={"Authorization": f"Bearer {owner['api_key']}"},
        )
    [andorra] = found.json()["results"]
    assert (andorra["timezone"], andorra["tags"]) == ("UTC", ["coffee"])


async def test_what_the_service_refuses_is_said_and_exits_2(
    service: str, owner: dict[str, str], tmp_path: Path
) -> None:
    clean = tmp_path / "clean.ndjson"
    clean.write_bytes(render([store(1), store(2)], ImportFormat.NDJSON))
    done = await asyncio.to_thread(
        nearby_import, str(clean), "--url", service, "--key", owner["api_key"]
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rows ok" in done.stdout
    bad_key = await asyncio.to_thread(nearby_import, str(clean), "--url", service, "--key", "x")
    assert bad_key.returncode == 2 and "HTTP 401" in bad_key.stderr
    no_key = await asyncio.to_thread(nearby_import, str(clean), "--url", service)
    assert no_key.returncode == 2 and "NEARBY_OWNER_KEY" in no_key.stderr
    bad_set = await asyncio.to_thread(
        nearby_import, str(clean), "--url", service, "--key", owner["api_key"], "--set", "lat=1"
    )
    assert bad_set.returncode == 2 and "--set: lat differs" in bad_set.stderr
    nobody = f"http://127.0.0.1:{free_port(range(27280, 27290))}"
    gone = await asyncio.to_thread(
        nearby_import, str(clean), "--url", nobody, "--key", owner["api_key"]
    )
    assert gone.returncode == 2 and "cannot be reached" in gone.stderr
