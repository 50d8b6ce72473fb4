"""Least privilege, as the README deploys it: the SQL of its "Deploying on your own PostgreSQL"
section, run as written on a cluster of the test's own (port 27510); `nearby migrate` by the
schema's owner, not a superuser; `nearby serve --no-migrate` by a role with row privileges only,
through the whole loop over HTTP (owner, webhook, store, offer, app, claim, redemption,
searches, an import, events, deliveries), so that any statement needing more than rows
fails here. And on the way, the one-line errors of a role that may not do what it tries.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from app.schemas.imports import ImportFormat
from tests.cluster import Cluster, own_cluster
from tests.imports_helpers import render, store
from tests.service import nearby_serve
from tests.webhook_receiver import Receiver

PG_PORT = 27510
SERVICE_PORT = 27511
RECEIVER_PORT = 27512
README = Path(__file__).resolve().parent.parent / "README.md"
NEARBY = Path(sys.executable).with_name("nearby")
ADMIN_KEY = "least-privilege-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SHOP = {"lat": 31.2304, "lng": 121.4737}


def readme_sql() -> list[str]:
    """The ```sql blocks of the README's deployment section, in order: the roles and the
    database (a superuser), the extensions (a superuser, in it), the grants (the owner)."""
    text = README.read_text()
    section = text.split("## Deploying on your own PostgreSQL", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 3, "the README's deployment section should hold three SQL blocks"
    return blocks


def run_sql(cluster: Cluster, block: str, **where: str) -> None:
    """A README block, one statement at a time, as psql would (CREATE DATABASE may not share
    a transaction with the others)."""
    lines = [line for line in block.splitlines() if not line.lstrip().startswith("--")]
    for statement in "\n".join(lines).split(";"):
        if statement.strip():
            asyncio.run(cluster.execute(statement, **where))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with own_cluster(PG_PORT, prefix="roles", database=None) as cluster:
        yield cluster


def _url(cluster: Cluster, role: str) -> str:
    return cluster.url_of("nearby", user=role)


def _nearby(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [str(NEARBY), *args], env=env, capture_output=True, text=True, timeout=180
    )


def _fails_saying(done: subprocess.CompletedProcess[str], command: str, says: str) -> None:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"nearby {command}: ") and says in last, done.stderr


def test_the_readme_roles_migrate_and_serve_the_whole_loop(
    cluster: Cluster, tmp_path: Path
) -> None:
    roles_and_database, extensions, grants = readme_sql()
    run_sql(cluster, roles_and_database)
    owner_url, app_url = _url(cluster, "nearby_owner"), _url(cluster, "nearby_app")

    # The owner is no superuser: PostGIS must come from one, and the error says so.
    _fails_saying(
        _nearby("migrate", url=owner_url),
        "migrate",
        "role nearby_owner may not create the postgis extension (not a superuser): ask a "
        'superuser to run CREATE EXTENSION postgis; in database "nearby"',
    )
    run_sql(cluster, extensions, database="nearby")
    _fails_saying(
        _nearby("serve", "--no-migrate", "--port", str(SERVICE_PORT), url=app_url),
        "serve",
        f"database nearby on 127.0.0.1:{PG_PORT} is not migrated: run nearby migrate",
    )
    migrated = _nearby("migrate", url=owner_url)
    assert migrated.returncode == 0, migrated.stderr

    # Before the grants, the service's role may not even read the schema's revision.
    _fails_saying(
        _nearby("serve", "--no-migrate", "--port", str(SERVICE_PORT), url=app_url),
        "serve",
        'role nearby_app lacks a privilege in database "nearby" '
        "(permission denied for table alembic_version)",
    )
    run_sql(cluster, grants, database="nearby", user="nearby_owner")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(
            cluster.execute("CREATE TABLE intruder (x int)", database="nearby", user="nearby_app")
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(cluster.execute("DROP TABLE merchant", database="nearby", user="nearby_app"))

    log = tmp_path / "serve.log"
    env = {"NEARBY_ADMIN_KEY": ADMIN_KEY, "NEARBY_WEBHOOK_ALLOW_PRIVATE": "true"}
    with nearby_serve(
        database_url=app_url, port=SERVICE_PORT, log=log, env=env, args=["--no-migrate"]
    ):
        asyncio.run(_the_whole_loop(f"http://127.0.0.1:{SERVICE_PORT}", tmp_path))
    served = log.read_text()
    assert "permission denied" not in served, served
    assert "Traceback" not in served, served


async def _the_whole_loop(base: str, tmp_path: Path) -> None:
    receiver = Receiver(RECEIVER_PORT)
    await receiver.start()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as api:
            assert (await api.get("/readyz")).status_code == 200
            made = await _created(api, "/v1/owners", {"name": "Least privilege"}, ADMIN)
            owner = {"Authorization": f"Bearer {made['api_key']}"}
            hook = await _created(
                api,
                "/v1/webhooks",
                {
                    "url": f"http://127.0.0.1:{RECEIVER_PORT}/hook",
                    "events": ["offer.claimed", "claim.redeemed", "import.finished"],
                },
                owner,
            )
            shop = await _created(
                api,
                "/v1/merchants",
                {"name": "Row-only café", "category": "coffee", "location": SHOP},
                owner,
            )
            offer = await _created(
                api,
                f"/v1/merchants/{shop['id']}/offers",
                {"title": "one coffee", "quantity": 5, "per_user_limit": 1},
                owner,
            )
            made_app = await _created(api, "/v1/apps", {"name": "Row-only app"}, ADMIN)
            as_app = {"Authorization": f"Bearer {made_app['app_key']}"}
            claim = await _created(
                api, f"/v1/offers/{offer['id']}/claims", {"user_id": "u1"} | SHOP, as_app
            )
            redeemed = await api.post(f"/v1/claims/{claim['code']}/redeem", headers=owner)
            assert redeemed.status_code == 200, redeemed.text
            found = await api.get("/v1/search/nearby", params=SHOP)
            assert shop["id"] in [m["id"] for m in found.json()["results"]], found.text
            here = await api.get("/v1/offers/here", params=SHOP)
            assert here.status_code == 200, here.text

            stores = render([store(1), store(2)], ImportFormat.CSV)
            job = await api.post(
                "/v1/imports", content=stores, params={"format": "csv"}, headers=owner
            )
            assert job.status_code == 202, job.text
            finished = await _until(
                lambda: _import_done(api, job.json()["id"], owner), "the import to finish"
            )
            assert finished["rows_ok"] == 2, finished

            expected = {"offer.claimed", "claim.redeemed", "import.finished"}
            await _until(lambda: _event_types(api, owner, expected), "the events")
            delivered = await _until(
                lambda: _delivered(
                    receiver, {"offer.claimed", "claim.redeemed", "import.finished"}
                ),
                "the webhook deliveries",
            )
            assert delivered
            listed = await api.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=owner)
            assert listed.status_code == 200, listed.text
    finally:
        await receiver.stop()


async def _created(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = await api.post(path, json=body, headers=headers)
    assert response.status_code == 201, f"{path}: {response.status_code} {response.text}"
    made: dict[str, Any] = response.json()
    return made


async def _import_done(
    api: httpx.AsyncClient, job_id: str, owner: dict[str, str]
) -> dict[str, Any] | None:
    body: dict[str, Any] = (await api.get(f"/v1/imports/{job_id}", headers=owner)).json()
    if body["status"] == "failed":
        raise AssertionError(f"the import failed: {body}")
    return body if body["status"] == "done" else None


async def _event_types(
    api: httpx.AsyncClient, owner: dict[str, str], expected: set[str]
) -> bool | None:
    page = await api.get("/v1/events", params={"limit": 100}, headers=owner)
    assert page.status_code == 200, page.text
    return expected <= {e["type"] for e in page.json()["results"]} or None


async def _delivered(receiver: Receiver, expected: set[str]) -> bool | None:
    types = {orjson.loads(r.body)["type"] for r in receiver.received if r.body}
    return expected <= types or None


async def _until(check: Any, what: str, within_s: float = 60) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        result = await check()
        if result is not None:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"waited {within_s:.0f} s for {what}")
