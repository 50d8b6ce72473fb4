"""Import jobs through the real app (committed data, background tasks) and `nearby import`.

These tests commit what they write, so each removes its owners (and with them their stores,
jobs and rejected rows) at the end.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.imports import jobs
from app.main import create_app
from app.queries import imports as imports_sql
from app.schemas.imports import ImportFormat, ImportJobOut
from app.settings import Settings
from tests.conftest import ADMIN_KEY
from tests.imports_helpers import render, store

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
async def owners(engine: AsyncEngine) -> AsyncIterator[list[uuid.UUID]]:
    """Owners a test creates; removed (with everything of theirs) afterwards."""
    made: list[uuid.UUID] = []
    yield made
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM owner WHERE id = ANY(:ids)"), {"ids": made})


async def new_owner(
    client: httpx.AsyncClient, owners: list[uuid.UUID], name: str
) -> dict[str, str]:
    body = (await client.post("/v1/owners", json={"name": name}, headers=ADMIN)).json()
    owners.append(uuid.UUID(body["id"]))
    return {"Authorization": f"Bearer {body['api_key']}", "owner_id": body["id"]}


def auth(owner: dict[str, str]) -> dict[str, str]:
    return {"Authorization": owner["Authorization"]}


async def finished(
    client: httpx.AsyncClient, job_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = (await client.get(f"/v1/imports/{job_id}", headers=headers)).json()
        if body["status"] in ("done", "failed"):
            ImportJobOut.model_validate(body)
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {job_id} did not finish: {body}")


async def post(
    client: httpx.AsyncClient, owner: dict[str, str], content: bytes, **params: Any
) -> httpx.Response:
    return await client.post("/v1/imports", content=content, params=params, headers=auth(owner))


async def test_an_import_runs_in_the_background_and_reports_every_rejected_row(
    live: httpx.AsyncClient, owners: list[uuid.UUID]
) -> None:
    owner = await new_owner(live, owners, "API importer")
    rows = [store(1), store(2, lat=None), store(3, timezone="Asia/Beijing"), store(1, name="last")]
    accepted = await post(live, owner, render(rows, ImportFormat.CSV), format="csv")
    assert accepted.status_code == 202
    assert set(accepted.json()) == {"id", "status"} and accepted.json()["status"] == "queued"
    job = await finished(live, accepted.json()["id"], auth(owner))
    assert job["status"] == "done" and job["reason"] is None
    assert (job["rows_total"], job["rows_ok"], job["rows_failed"]) == (4, 1, 3)
    assert (job["rows_inserted"], job["rows_updated"], job["rows_unchanged"]) == (1, 0, 0)
    assert job["errors"] == [
        {
            "row": 1,
            "field": "external_id",
            "msg": "duplicate external_id: row 4 of the file replaces this row",
        },
        {"row": 2, "field": "lat", "msg": "is required"},
        {
            "row": 3,
            "field": "timezone",
            "msg": "'Asia/Beijing' is not an IANA timezone name (e.g. Asia/Shanghai)",
        },
    ]
    assert job["errors_truncated"] is False and job["started_at"] and job["finished_at"]
    listed = (await live.get("/v1/merchants", headers=auth(owner))).json()["results"]
    assert [(m["external_id"], m["name"]) for m in listed] == [("S-0001", "last")]
    errors = await live.get(job["errors_csv"], headers=auth(owner))
    assert errors.status_code == 200 and errors.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(errors.text)))[:2] == [
        ["row", "field", "msg"],
        ["1", "external_id", "duplicate external_id: row 4 of the file replaces this row"],
    ]


async def test_the_same_file_twice_changes_nothing(
    live: httpx.AsyncClient, owners: list[uuid.UUID]
) -> None:
    owner = await new_owner(live, owners, "Twice")
    content = render([store(n) for n in range(1, 21)], ImportFormat.NDJSON)
    first = await finished(
        live, (await post(live, owner, content, format="ndjson")).json()["id"], auth(owner)
    )
    before = (await live.get("/v1/merchants", headers=auth(owner), params={"limit": 100})).json()
    second = await finished(
        live, (await post(live, owner, content, format="ndjson")).json()["id"], auth(owner)
    )
    after = (await live.get("/v1/merchants", headers=auth(owner), params={"limit": 100})).json()
    assert (first["rows_inserted"], second["rows_inserted"], second["rows_updated"]) == (20, 0, 0)
    assert second["rows_unchanged"] == 20 and after == before  # updated_at included


async def test_the_format_comes_from_the_content_type_and_the_json_errors_are_capped(
    live: httpx.AsyncClient, owners: list[uuid.UUID]
) -> None:
    owner = await new_owner(live, owners, "Capped")
    rows = [store(n, lat=None) for n in range(1, 121)]
    response = await live.post(
        "/v1/imports",
        content=render(rows, ImportFormat.GEOJSON),
        headers=auth(owner) | {"content-type": "application/geo+json"},
    )
    job = await finished(live, response.json()["id"], auth(owner))
    assert job["format"] == "geojson" and job["rows_failed"] == 120
    assert len(job["errors"]) == 100 and job["errors_truncated"] is True
    full = (await live.get(job["errors_csv"], headers=auth(owner))).text
    assert len(full.strip().splitlines()) == 121


async def test_a_file_that_is_no_store_list_fails_the_job_with_its_reason(
    live: httpx.AsyncClient, owners: list[uuid.UUID]
) -> None:
    owner = await new_owner(live, owners, "Empty")
    job = await finished(live, (await post(live, owner, b"")).json()["id"], auth(owner))
    assert (job["status"], job["reason"], job["rows_ok"]) == ("failed", "the file is empty", 0)
    tsv = b"external_id\tname\tcategory\tlat\tlng\nA\tB\tc\t1\t2\n"
    job = await finished(
        live, (await post(live, owner, tsv, format="csv")).json()["id"], auth(owner)
    )
    assert job["status"] == "failed" and "tab-separated?" in job["reason"]


async def test_who_may_import_and_see_an_import(
    live: httpx.AsyncClient, owners: list[uuid.UUID]
) -> None:
    owner = await new_owner(live, owners, "Mine")
    other = await new_owner(live, owners, "Theirs")
    content = render([store(1)], ImportFormat.CSV)
    assert (await live.post("/v1/imports", content=content)).status_code == 401
    job_id = (await post(live, owner, content)).json()["id"]
    await finished(live, job_id, auth(owner))
    seen = await live.get(f"/v1/imports/{job_id}", headers=auth(other))
    assert seen.status_code == 403 and seen.headers["content-type"] == "application/problem+json"
    errors = await live.get(f"/v1/imports/{job_id}/errors.csv", headers=auth(other))
    assert errors.status_code == 403
    assert (await live.get(f"/v1/imports/{job_id}", headers=ADMIN)).status_code == 200
    assert (await live.get(f"/v1/imports/{uuid.uuid4()}", headers=ADMIN)).status_code == 404
    assert (await live.get("/v1/imports/not-an-id", headers=ADMIN)).status_code == 422
    no_owner = await live.post("/v1/imports", content=content, headers=ADMIN)
    assert no_owner.status_code == 422
    assert no_owner.json()["errors"] == [
        {"loc": ["query", "owner_id"], "msg": "is required with the admin key"}
    ]
    for_other = await live.post(
        "/v1/imports", content=content, headers=auth(owner), params={"owner_id": other["owner_id"]}
    )
    assert for_other.status_code == 403
    by_admin = await live.post(
        "/v1/imports", content=content, headers=ADMIN, params={"owner_id": other["owner_id"]}
    )
    assert by_admin.status_code == 202
    assert (await finished(live, by_admin.json()["id"], auth(other)))["owner_id"] == other[
        "owner_id"
    ]


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({"format": "xlsx"}, {}, 422),
        ({"coord": "mars"}, {}, 422),
        ({"map": "colour=red"}, {}, 422),
        ({"map": "lat="}, {}, 422),
        ({"map": "no-equals-sign"}, {}, 422),
        ({}, {"content-type": "multipart/form-data; boundary=x"}, 415),
    ],
)
async def test_bad_import_requests_are_problems(
    live: httpx.AsyncClient,
    owners: list[uuid.UUID],
    params: dict[str, str],
    headers: dict[str, str],
    status: int,
) -> None:
    owner = await new_owner(live, owners, "Bad requests")
    response = await live.post(
        "/v1/imports", content=b"x", params=params, headers=auth(owner) | headers
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture
async def small_limit_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"max_import_bytes": 1000}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_uploads_have_their_own_size_limit(
    live: httpx.AsyncClient, small_limit_app: httpx.AsyncClient, owners: list[uuid.UUID]
) -> None:
    owner = await new_owner(live, owners, "Sizes")
    declared = await post(small_limit_app, owner, b"x" * 1001)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert declared.json()["detail"] == "An import may be at most 1,000 bytes"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(3):
            yield b"y" * 400

    streamed = await small_limit_app.post("/v1/imports", content=chunks(), headers=auth(owner))
    assert streamed.status_code == 413
    # The app's 10 MiB limit of JSON bodies does not apply to uploads.
    header = b"external_id,name,category,lat,lng,notes\n"
    big = header + b"".join(b"B%d,Big,c,1,2,%s\n" % (n, b"n" * 100_000) for n in range(110))
    assert len(big) > 10 * 1024 * 1024
    job = await finished(live, (await post(live, owner, big)).json()["id"], auth(owner))
    assert (job["status"], job["rows_ok"]) == ("done", 110)


async def new_job(
    conn: AsyncConnection, owner_id: uuid.UUID, *, runner: uuid.UUID
) -> imports_sql.ImportJobRow:
    """A queued job of an empty CSV file, as `runner` would have made it."""
    return await imports_sql.insert_job(
        conn,
        owner_id=owner_id,
        format="csv",
        coord="wgs84",
        filename=None,
        size_bytes=0,
        runner=runner,
    )


async def test_a_job_whose_process_is_gone_is_failed_at_start_up_and_when_looked_at(
    live: httpx.AsyncClient, owners: list[uuid.UUID], engine: AsyncEngine, settings: Settings
) -> None:
    owner = await new_owner(live, owners, "Orphans")
    owner_id = uuid.UUID(owner["owner_id"])
    async with engine.begin() as conn:
        gone = [await new_job(conn, owner_id, runner=uuid.uuid4()) for _ in range(2)]
        await conn.execute(
            text("UPDATE import_job SET status = 'running' WHERE id = :id"), {"id": gone[0].id}
        )
    alive = jobs.ImportRunner(engine)
    await alive._hold()  # a runner of another process, still at work
    try:
        async with engine.begin() as conn:
            busy = await new_job(conn, owner_id, runner=alive.id)
        restarted = create_app(settings)
        async with restarted.router.lifespan_context(restarted):
            pass
        async with engine.connect() as conn:
            after = {
                j.id: job
                for j in (*gone, busy)
                if (job := await imports_sql.job_by_id(conn, job_id=j.id)) is not None
            }
        assert after[gone[0].id].status == after[gone[1].id].status == "failed"
        assert after[gone[0].id].reason == jobs.ORPHANED and after[gone[0].id].finished_at
        assert after[busy.id].status == "queued"
    finally:
        await alive._release()
    looked_at = (await live.get(f"/v1/imports/{busy.id}", headers=auth(owner))).json()
    assert (looked_at["status"], looked_at["reason"]) == ("failed", jobs.ORPHANED)


async def test_a_runner_failing_a_job_a_look_up_already_failed_says_import_finished_once(
    live: httpx.AsyncClient, owners: list[uuid.UUID], engine: AsyncEngine
) -> None:
    owner = await new_owner(live, owners, "Said once")
    async with engine.begin() as conn:
        job = await new_job(conn, uuid.UUID(owner["owner_id"]), runner=uuid.uuid4())
    # The runner lost the database (and its lock with it): a look-up meanwhile guesses the job
    # orphaned, and that ended it. The runner, back, gives the true reason: no second event.
    seen = (await live.get(f"/v1/imports/{job.id}", headers=auth(owner))).json()
    assert (seen["status"], seen["reason"]) == ("failed", jobs.ORPHANED)
    await jobs.ImportRunner(engine)._fail(job.id, "the database connection was lost: gone")
    async with engine.connect() as conn:
        after = await imports_sql.job_by_id(conn, job_id=job.id)
        said = await conn.scalar(
            text(
                """SELECT count(*) FROM event
                   WHERE type = 'import.finished' AND data->>'import_id' = :id"""
            ),
            {"id": str(job.id)},
        )
    assert after is not None and after.reason == "the database connection was lost: gone"
    assert said == 1


def big_csv(path: Path, rows: int) -> None:
    with path.open("w") as f:
        f.write("external_id,name,category,lat,lng,timezone\n")
        for n in range(rows):
            f.write(
                f"K{n},Store {n},shop,{30 + n % 1000 / 1000},{120 + n % 997 / 1000},Asia/Shanghai\n"
            )


async def test_a_service_shutting_down_mid_import_stores_nothing_and_fails_the_job(
    live: httpx.AsyncClient, owners: list[uuid.UUID], settings: Settings, tmp_path: Path
) -> None:
    owner = await new_owner(live, owners, "Shutdown")
    path = tmp_path / "big.csv"
    big_csv(path, 150_000)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            job_id = (await post(client, owner, path.read_bytes())).json()["id"]
            for _ in range(200):
                body = (await client.get(f"/v1/imports/{job_id}", headers=auth(owner))).json()
                if body["rows_total"] > 0:
                    break
                await asyncio.sleep(0.02)
            assert body["status"] == "running"
    job = await finished(live, job_id, auth(owner))
    assert (job["status"], job["reason"]) == ("failed", jobs.STOPPED)
    listed = (await live.get("/v1/merchants", headers=auth(owner))).json()["results"]
    assert listed == []


def nearby(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=dict(os.environ, DATABASE_URL=database_url, COLUMNS="120"),
        capture_output=True,
        text=True,
        timeout=300,
    )


async def test_the_command_line_import_summarises_and_exits_by_outcome(
    live: httpx.AsyncClient, owners: list[uuid.UUID], database_url: str, tmp_path: Path
) -> None:
    owner = await new_owner(live, owners, "CLI import owner")
    clean = tmp_path / "clean.csv"
    clean.write_bytes(render([store(1), store(2)], ImportFormat.CSV))
    done = await asyncio.to_thread(
        nearby, database_url, "import", str(clean), "--owner", "CLI import owner"
    )
    assert done.returncode == 0, done.stderr
    assert "rows ok" in done.stdout and "2" in done.stdout
    dirty = tmp_path / "dirty.ndjson"
    dirty.write_bytes(render([store(3), store(4, lat=95)], ImportFormat.NDJSON))
    errors = tmp_path / "errors.csv"
    partly = await asyncio.to_thread(
        nearby,
        database_url,
        "import",
        str(dirty),
        "--owner",
        owner["owner_id"],
        "--errors",
        str(errors),
    )
    assert partly.returncode == 1, partly.stderr
    assert "Input should be less than or equal to 90" in partly.stdout
    assert errors.read_text().splitlines()[1].startswith("2,lat,")
    empty = tmp_path / "empty.geojson"
    empty.write_bytes(b"")
    failed = await asyncio.to_thread(
        nearby, database_url, "import", str(empty), "--owner", owner["owner_id"]
    )
    assert failed.returncode == 2 and "the file is empty" in failed.stdout
    badly_mapped = await asyncio.to_thread(
        nearby, database_url, "import", str(clean), "--owner", "nobody", "--map", "name"
    )
    assert badly_mapped.returncode == 2
    assert "--map: 'name' is not FIELD=COLUMN" in badly_mapped.stderr
    unknown = await asyncio.to_thread(
        nearby, database_url, "import", str(clean), "--owner", "nobody"
    )
    assert unknown.returncode == 2 and "there is no owner" in unknown.stderr
    listed = (await live.get("/v1/merchants", headers=auth(owner))).json()["results"]
    assert sorted(m["external_id"] for m in listed) == ["S-0001", "S-0002", "S-0003"]


async def test_a_killed_import_leaves_nothing_and_is_failed_afterwards(
    live: httpx.AsyncClient,
    owners: list[uuid.UUID],
    database_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    owner = await new_owner(live, owners, "Killed")
    path = tmp_path / "big.csv"
    big_csv(path, 300_000)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "app.cli", "import", str(path), "--owner", owner["owner_id"]),
        env=dict(os.environ, DATABASE_URL=database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        job: Row[Any] | None = None
        for _ in range(600):
            async with engine.connect() as conn:
                result = await conn.execute(
                    text("SELECT id, status, rows_total FROM import_job WHERE owner_id = :o"),
                    {"o": owner["owner_id"]},
                )
                job = result.one_or_none()
            if job is not None and job.rows_total > 0:
                break
            await asyncio.sleep(0.05)
        assert job is not None and job.status == "running"
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    await asyncio.sleep(0.5)  # the server notices the closed connection and drops its locks
    seen = (await live.get(f"/v1/imports/{job.id}", headers=auth(owner))).json()
    assert (seen["status"], seen["reason"]) == ("failed", jobs.ORPHANED)
    assert (await live.get("/v1/merchants", headers=auth(owner))).json()["results"] == []
