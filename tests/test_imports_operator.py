# ruff: noqa: F811 (the fixture `owners` imported from tests/test_imports_api.py is a parameter here)
"""Imports that help the operator, through the real app: a column that fails as a whole is said
once with its fix, set= gives missing columns a value, rejected rows carry their store number,
GET /v1/imports lists an owner's jobs, and a multipart form is taken as well as a raw body.

The real lists of ../shared/data are used in place (never copied: see its README).
"""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path
from typing import Any

import httpx

from app.schemas.imports import ImportFormat, ImportJobList
from tests.imports_helpers import render, store
from tests.test_imports_api import ADMIN, auth, finished, new_owner, owners  # noqa: F401

STARBUCKS = [
    "external_id=Store Number",
    "name=Store Name",
    "category=Brand",
    "address=Street Address",
    "phone=Phone Number",
]


async def run(
    client: httpx.AsyncClient, owner: dict[str, str], content: bytes, **params: Any
) -> dict[str, Any]:
    accepted = await client.post("/v1/imports", content=content, params=params, headers=auth(owner))
    assert accepted.status_code == 202, accepted.text
    return await finished(client, accepted.json()["id"], auth(owner))


async def errors_csv(
    client: httpx.AsyncClient, owner: dict[str, str], job: dict[str, Any]
) -> list[dict[str, str]]:
    text = (await client.get(job["errors_csv"], headers=auth(owner))).text
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_starbucks_timezones_fail_as_one_column_with_the_fix(
    live: httpx.AsyncClient, owners: list[uuid.UUID], shared_data: Path
) -> None:
    """25,600 rows whose Timezone is no IANA name: said once, not 25,599 times; errors.csv
    still has every row, each with its store number."""
    owner = await new_owner(live, owners, "Starbucks as given")
    content = (shared_data / "starbucks" / "directory.csv").read_bytes()
    job = await run(live, owner, content, map=STARBUCKS)
    assert (job["status"], job["rows_total"], job["rows_failed"]) == ("done", 25_600, 25_600)
    [column] = job["columns_failed"]
    assert (column["field"], column["column"], column["rows"]) == ("timezone", "Timezone", 25_599)
    assert "map=timezone=COLUMN" in column["fix"] and "set=timezone=Asia/Shanghai" in column["fix"]
    assert "map=timezone=" in column["fix"]
    # The JSON errors keep what the column report does not say: the row without coordinates.
    assert [(e["row"], e["field"], e["external_id"]) for e in job["errors"]] == [
        (8029, "Latitude", "19773-160973"),
        (8029, "Longitude", "19773-160973"),
    ]
    assert job["errors_truncated"] is False
    rows = await errors_csv(live, owner, job)
    assert len(rows) == 25_601 and list(rows[0]) == ["row", "field", "msg", "external_id"]
    assert sum(r["field"] == "Timezone" for r in rows) == 25_599
    assert all(r["external_id"] for r in rows)
    assert rows[0]["external_id"] == "47370-257954"  # row 1: Andorra

    # The fix, followed: zones set for every row land them (but for the one without a place).
    fixed = await run(live, owner, content, map=STARBUCKS, set="timezone=Asia/Shanghai")
    assert (fixed["rows_ok"], fixed["columns_failed"]) == (25_599, [])
    assert fixed["constants"] == {"timezone": "Asia/Shanghai"}
    listed = await live.get(
        "/v1/merchants", params={"external_id": "47370-257954"}, headers=auth(owner)
    )
    assert listed.json()["results"][0]["timezone"] == "Asia/Shanghai"


async def test_a_missing_column_is_set_for_every_row(
    live: httpx.AsyncClient, owners: list[uuid.UUID], shared_data: Path
) -> None:
    """Heytea's list has no category and no store number column of that name: set= gives the
    category, map= the rest (its dataX is the latitude, despite the name)."""
    owner = await new_owner(live, owners, "Heytea")
    content = (shared_data / "heytea" / "heytea_stores.csv").read_bytes()
    mapping = ["external_id=name", "lat=dataX", "lng=dataY"]
    unset = await run(live, owner, content, map=mapping, coord="gcj02")
    assert unset["status"] == "failed" and "category" in unset["reason"]  # the header lacks it
    job = await run(
        live, owner, content, map=mapping, coord="gcj02", set=["category=tea", "tags=奶茶;茶"]
    )
    assert job["status"] == "done" and job["rows_ok"] > 400, job
    assert job["constants"] == {"category": "tea", "tags": ["奶茶", "茶"]}
    found = await live.get("/v1/merchants", params={"q": "喜茶", "limit": 1}, headers=auth(owner))
    one = found.json()["results"]
    page = await live.get("/v1/merchants", params={"limit": 100}, headers=auth(owner))
    stores = page.json()["results"]
    assert {s["category"] for s in stores} == {"tea"} and stores[0]["tags"] == ["奶茶", "茶"]
    assert all("喜茶" in s["name"] for s in one)


async def test_a_key_missing_from_every_json_row_is_said_once(
    live: httpx.AsyncClient, owners: list[uuid.UUID]
) -> None:
    owner = await new_owner(live, owners, "No category")
    rows = [{k: v for k, v in store(n).items() if k != "category"} for n in range(1, 31)]
    job = await run(live, owner, render(rows, ImportFormat.NDJSON), format="ndjson")
    [column] = job["columns_failed"]
    assert (column["field"], column["rows"], column["msg"]) == ("category", 30, "is required")
    assert "set=category=tea" in column["fix"] and "map=category=COLUMN" in column["fix"]
    assert job["errors"] == [] and job["rows_failed"] == 30
    assert len(await errors_csv(live, owner, job)) == 30
    # Fewer than 10 rows, or one good row among them: no whole column, every row listed.
    few = await run(live, owner, render(rows[:9], ImportFormat.NDJSON), format="ndjson")
    assert few["columns_failed"] == [] and len(few["errors"]) == 9
    mixed = rows + [store(99)]
    one_good = await run(live, owner, render(mixed, ImportFormat.NDJSON), format="ndjson")
    assert one_good["columns_failed"] == [] and len(one_good["errors"]) == 30


async def test_rejected_rows_name_their_store_number_where_they_have_one(
    live: httpx.AsyncClient, owners: list[uuid.UUID]
) -> None:
    owner = await new_owner(live, owners, "Numbers")
    content = (
        b'{"external_id": "A-1", "name": "ok", "category": "c", "lat": 1, "lng": 2}\n'
        b'{"external_id": 42, "name": "", "category": "c", "lat": 1, "lng": 2}\n'
        b"not json\n"
        b'{"name": "no number", "category": "c", "lat": 1, "lng": 2}\n'
        b'{"external_id": "B-\\u0000", "name": "n", "category": "c", "lat": 1, "lng": 2}\n'
        b'{"external_id": "C-1", "name": "n", "category": "c", "lat": 1, "lng": 2,'
        b' "opening_hours": "whenever"}\n'
    )
    job = await run(live, owner, content, format="ndjson")
    assert [(e["row"], e["field"], e["external_id"]) for e in job["errors"]] == [
        (2, "external_id", "42"),  # a number, not text: still the row's number to a person
        (2, "name", "42"),
        (3, "record", None),
        (4, "external_id", None),
        (5, "external_id", "B-\ufffd"),
        (6, "opening_hours", "C-1"),
    ]
    assert [r["external_id"] for r in await errors_csv(live, owner, job)] == [
        "42",
        "42",
        "",
        "",
        "B-\ufffd",
        "C-1",
    ]


async def test_the_owner_lists_its_jobs_newest_first_page_by_page(
    live: httpx.AsyncClient, owners: list[uuid.UUID]
) -> None:
    owner = await new_owner(live, owners, "Lister")
    other = await new_owner(live, owners, "Someone else")
    made = []
    for n in range(5):
        job = await run(live, owner, render([store(n)], ImportFormat.CSV), filename=f"f{n}.csv")
        made.append(job["id"])
    await run(live, other, render([store(1)], ImportFormat.CSV))
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        paging: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await live.get("/v1/imports", params=paging, headers=auth(owner))
        assert page.status_code == 200, page.text
        body = ImportJobList.model_validate(page.json())
        seen += page.json()["results"]
        cursor = body.next_cursor
        if cursor is None:
            break
    assert [j["id"] for j in seen] == made[::-1]
    assert [j["filename"] for j in seen] == [f"f{n}.csv" for n in range(4, -1, -1)]
    assert all("errors" not in j and j["rows_ok"] == 1 for j in seen)
    by_admin = await live.get("/v1/imports", params={"owner_id": owner["owner_id"]}, headers=ADMIN)
    assert len(by_admin.json()["results"]) == 5
    cases: list[tuple[dict[str, str | int], dict[str, str], int]] = [
        ({}, ADMIN, 422),  # the admin names the owner
        ({"owner_id": other["owner_id"]}, auth(owner), 403),
        ({"cursor": "garbage"}, auth(owner), 422),
        ({"limit": 0}, auth(owner), 422),
        ({}, {}, 401),
    ]
    for params, headers, status in cases:
        response = await live.get("/v1/imports", params=params, headers=headers)
        assert response.status_code == status, (params, response.text)


async def test_a_multipart_form_is_taken_like_the_file_itself(
    live: httpx.AsyncClient, owners: list[uuid.UUID], shared_data: Path
) -> None:
    owner = await new_owner(live, owners, "Form")
    path = shared_data / "helsinki_osm" / "merchants.csv"
    with path.open("rb") as f:  # noqa: ASYNC230 (a small local file)
        accepted = await live.post(
            "/v1/imports", files={"file": (path.name, f, "text/csv")}, headers=auth(owner)
        )
    assert accepted.status_code == 202, accepted.text
    job = await finished(live, accepted.json()["id"], auth(owner))
    raw = await run(live, owner, path.read_bytes())
    assert job["filename"] == "merchants.csv" and job["format"] == "csv"
    assert job["size_bytes"] == path.stat().st_size == raw["size_bytes"]
    assert (job["rows_total"], job["rows_ok"]) == (raw["rows_total"], raw["rows_ok"])
    assert raw["rows_unchanged"] == raw["rows_ok"]  # the same stores again

    # The format comes from the file's name when its type says nothing.
    ndjson = render([store(1), store(2)], ImportFormat.NDJSON)
    form = await live.post(
        "/v1/imports",
        files={"file": ("stores.ndjson", ndjson, "application/octet-stream")},
        headers=auth(owner),
    )
    assert (await finished(live, form.json()["id"], auth(owner)))["format"] == "ndjson"

    for files, data in (
        ({"other": ("x.csv", b"a", "text/csv")}, None),  # no field `file`
        ({"file": ("x.csv", b"a", "text/csv")}, {"note": "hi"}),  # another field
    ):
        bad = await live.post("/v1/imports", files=files, data=data, headers=auth(owner))
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
    cut = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.csv"\r\n\r\n'
        b"external_id,name,category,lat,lng\r\n1,a,b,1,2\r\n"
    )
    short = await live.post(
        "/v1/imports",
        content=cut,
        headers=auth(owner) | {"content-type": "multipart/form-data; boundary=b"},
    )
    assert short.status_code == 422 and "cut short" in short.text
