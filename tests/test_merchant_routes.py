"""Owners, API keys and merchants over HTTP: the contract's shapes, statuses and rules."""

from __future__ import annotations

import uuid
from typing import Any

import h3
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.schemas.merchants import MerchantList, MerchantOut, OwnerOut
from spatial import CoordSystem, from_wgs84
from tests.factories import bearer, owner_with_headers

STORE = {
    "external_id": "SH-0001",
    "name": "Nearby Coffee 南京路店",
    "category": "coffee",
    "tags": ["wifi", "outdoor"],
    "address": "上海市黄浦区南京东路 100 号",
    "phone": "+86 21 5555 0100",
    "location": {"lat": 31.2304, "lng": 121.4737},
    "timezone": "Asia/Shanghai",
    "opening_hours": "Mo-Fr 08:00-22:00; Sa,Su 10:00-20:00",
    "attributes": {"floor": 1, "seats": [2, 4]},
}


@pytest.fixture
async def owner(conn: AsyncConnection) -> tuple[uuid.UUID, dict[str, str]]:
    return await owner_with_headers(conn, "Owner A")


@pytest.fixture
async def other(conn: AsyncConnection) -> tuple[uuid.UUID, dict[str, str]]:
    return await owner_with_headers(conn, "Owner B")


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **changes: Any
) -> dict[str, Any]:
    response = await client.post("/v1/merchants", json=STORE | changes, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# ---------------------------------------------------------------------------------------- owners


async def test_the_admin_creates_an_owner_whose_key_then_works(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post("/v1/owners", json={"name": "Heytea"}, headers=admin)
    assert response.status_code == 201
    body = OwnerOut.model_validate(response.json())
    assert body.name == "Heytea" and body.api_key.startswith("nb_")
    created = await create(client, bearer(body.api_key))
    assert created["owner_id"] == str(body.id)


async def test_an_owner_key_cannot_create_owners(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    response = await client.post("/v1/owners", json={"name": "x"}, headers=owner[1])
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nb_not-a-key"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
    ],
)
async def test_writes_without_a_valid_key_are_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, path, body in [
        ("POST", "/v1/owners", {"name": "x"}),
        ("POST", "/v1/merchants", STORE),
        ("PATCH", f"/v1/merchants/{uuid.uuid4()}", {"name": "x"}),
        ("DELETE", f"/v1/merchants/{uuid.uuid4()}", None),
        ("GET", "/v1/merchants", None),
    ]:
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["status"] == 401


# ------------------------------------------------------------------------------------- merchants


async def test_a_merchant_is_created_and_read_back_with_every_field(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    created = await create(client, owner[1])
    MerchantOut.model_validate(created)
    fetched = (await client.get(f"/v1/merchants/{created['id']}")).json()
    assert fetched == created
    assert {k: created[k] for k in STORE} == STORE
    assert created["owner_id"] == str(owner[0]) and created["coord"] == "wgs84"
    assert (
        created["h3"] == h3.latlng_to_cell(31.2304, 121.4737, 15) == "8f309959d7218ea"
        and created["created_at"] == created["updated_at"]
    )


async def test_the_timezone_is_inferred_from_the_location_when_absent(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    shanghai = await create(client, owner[1], timezone=None)
    helsinki = await create(
        client, owner[1], external_id="HEL-1", location={"lat": 60.17, "lng": 24.94}, timezone=None
    )
    assert (shanghai["timezone"], helsinki["timezone"]) == ("Asia/Shanghai", "Europe/Helsinki")


@pytest.mark.parametrize("system", [CoordSystem.GCJ02, CoordSystem.BD09])
async def test_a_location_given_in_a_chinese_datum_is_stored_in_wgs84(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]], system: CoordSystem
) -> None:
    wgs = (31.2304, 121.4737)
    lat, lng = from_wgs84(*wgs, system)
    created = await create(client, owner[1], location={"lat": lat, "lng": lng}, coord=system.value)
    assert created["coord"] == system.value
    assert created["location"] == pytest.approx({"lat": lat, "lng": lng}, abs=1e-9)
    stored = (await client.get(f"/v1/merchants/{created['id']}")).json()["location"]
    assert stored == pytest.approx({"lat": wgs[0], "lng": wgs[1]}, abs=1e-9)
    again = (
        await client.get(f"/v1/merchants/{created['id']}", params={"coord": system.value})
    ).json()
    assert again["location"] == pytest.approx({"lat": lat, "lng": lng}, abs=1e-9)


async def test_the_admin_must_name_the_owner_and_may_write_for_anyone(
    client: httpx.AsyncClient, admin: dict[str, str], owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    response = await client.post("/v1/merchants", json=STORE, headers=admin)
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == [
        "body",
        "owner_id",
    ]
    response = await client.post(
        "/v1/merchants", json=STORE | {"owner_id": str(uuid.uuid4())}, headers=admin
    )
    assert response.status_code == 422
    created = await create(client, admin, owner_id=str(owner[0]))
    assert created["owner_id"] == str(owner[0])
    response = await client.patch(
        f"/v1/merchants/{created['id']}", json={"name": "By admin"}, headers=admin
    )
    assert response.status_code == 200 and response.json()["name"] == "By admin"


async def test_an_owner_cannot_register_for_another_owner(
    client: httpx.AsyncClient,
    owner: tuple[uuid.UUID, dict[str, str]],
    other: tuple[uuid.UUID, dict[str, str]],
) -> None:
    response = await client.post(
        "/v1/merchants", json=STORE | {"owner_id": str(other[0])}, headers=owner[1]
    )
    assert response.status_code == 403


async def test_external_id_is_unique_per_owner(
    client: httpx.AsyncClient,
    owner: tuple[uuid.UUID, dict[str, str]],
    other: tuple[uuid.UUID, dict[str, str]],
) -> None:
    await create(client, owner[1])
    response = await client.post("/v1/merchants", json=STORE, headers=owner[1])
    assert response.status_code == 409 and response.json()["type"] == "/problems/conflict"
    await create(client, other[1])  # another owner may use the same external_id
    await create(client, owner[1], external_id=None)
    await create(client, owner[1], external_id=None)  # any number without one


async def test_patch_changes_only_what_it_names(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    created = await create(client, owner[1])
    response = await client.patch(
        f"/v1/merchants/{created['id']}",
        json={"name": "Renamed", "phone": None, "tags": []},
        headers=owner[1],
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["phone"], body["tags"]) == ("Renamed", None, [])
    unchanged = {k: v for k, v in body.items() if k not in ("name", "phone", "tags", "updated_at")}
    assert unchanged == {
        k: v for k, v in created.items() if k not in ("name", "phone", "tags", "updated_at")
    }
    assert body["updated_at"] >= created["updated_at"]


async def test_patch_moves_a_merchant_in_any_datum_and_recomputes_its_cell(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    created = await create(client, owner[1])
    lat, lng = from_wgs84(31.24, 121.49, CoordSystem.GCJ02)
    body = (
        await client.patch(
            f"/v1/merchants/{created['id']}",
            json={"location": {"lat": lat, "lng": lng}, "coord": "gcj02"},
            headers=owner[1],
        )
    ).json()
    assert (
        body["location"] == pytest.approx({"lat": lat, "lng": lng}, abs=1e-9)
        and body["coord"] == "gcj02"
    )
    assert body["h3"] != created["h3"]
    stored = (await client.get(f"/v1/merchants/{created['id']}")).json()["location"]
    assert stored == pytest.approx({"lat": 31.24, "lng": 121.49}, abs=1e-9)


async def test_patch_rejects_nulls_for_required_fields_and_bad_hours(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    created = await create(client, owner[1])
    for body, loc in [
        ({"name": None}, ["body", "name"]),
        ({"location": None}, ["body", "location"]),
        ({"opening_hours": "Jun-Aug 10:00-12:00"}, ["body", "opening_hours"]),
        ({"timezone": "Mars/Olympus"}, ["body", "timezone"]),
    ]:
        response = await client.patch(f"/v1/merchants/{created['id']}", json=body, headers=owner[1])
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["loc"] == loc


async def test_patch_to_a_taken_external_id_is_409(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    await create(client, owner[1], external_id="A")
    b = await create(client, owner[1], external_id="B")
    response = await client.patch(
        f"/v1/merchants/{b['id']}", json={"external_id": "A"}, headers=owner[1]
    )
    assert response.status_code == 409


async def test_another_owners_merchant_is_403_and_an_unknown_one_404(
    client: httpx.AsyncClient,
    owner: tuple[uuid.UUID, dict[str, str]],
    other: tuple[uuid.UUID, dict[str, str]],
) -> None:
    created = await create(client, owner[1])
    for method, body in [("PATCH", {"name": "x"}), ("DELETE", None)]:
        response = await client.request(
            method, f"/v1/merchants/{created['id']}", json=body, headers=other[1]
        )
        assert response.status_code == 403
        response = await client.request(
            method, f"/v1/merchants/{uuid.uuid4()}", json=body, headers=other[1]
        )
        assert response.status_code == 404 and response.json()["type"] == "/problems/not-found"


async def test_delete_removes_the_merchant(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    created = await create(client, owner[1])
    response = await client.delete(f"/v1/merchants/{created['id']}", headers=owner[1])
    assert response.status_code == 204 and response.content == b""
    assert (await client.get(f"/v1/merchants/{created['id']}")).status_code == 404
    assert (
        await client.delete(f"/v1/merchants/{created['id']}", headers=owner[1])
    ).status_code == 404


async def test_an_owner_lists_its_own_merchants_page_by_page(
    client: httpx.AsyncClient,
    owner: tuple[uuid.UUID, dict[str, str]],
    other: tuple[uuid.UUID, dict[str, str]],
    admin: dict[str, str],
) -> None:
    mine = {(await create(client, owner[1], external_id=f"M{i}"))["id"] for i in range(7)}
    await create(client, other[1])
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        response = await client.get("/v1/merchants", params=params, headers=owner[1])
        page = MerchantList.model_validate(response.json())
        seen += [str(m.id) for m in page.results]
        if page.next_cursor is None:
            break
        params["cursor"] = page.next_cursor
    assert len(seen) == len(set(seen)) and set(seen) == mine
    response = await client.get(
        "/v1/merchants", params={"owner_id": str(other[0])}, headers=owner[1]
    )
    assert response.status_code == 403
    response = await client.get("/v1/merchants", params={"owner_id": str(owner[0])}, headers=admin)
    assert {m["id"] for m in response.json()["results"]} <= mine
    assert (await client.get("/v1/merchants", headers=admin)).status_code == 422
    response = await client.get("/v1/merchants", params={"cursor": "bm9wZQ"}, headers=owner[1])
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"name": ""}, ["body", "name"]),
        ({"name": "   "}, ["body", "name"]),
        ({"name": "x" * 201}, ["body", "name"]),
        ({"name": "a\x00b"}, ["body", "name"]),
        ({"category": None}, ["body", "category"]),
        ({"address": "x" * 501}, ["body", "address"]),
        ({"phone": "1" * 201}, ["body", "phone"]),
        ({"tags": ["ok", ""]}, ["body", "tags", 1]),
        ({"tags": [f"t{i}" for i in range(51)]}, ["body", "tags"]),
        ({"location": {"lat": 91, "lng": 0}}, ["body", "location", "lat"]),
        ({"location": {"lat": 0, "lng": -180.5}}, ["body", "location", "lng"]),
        ({"location": {"lat": "north", "lng": 0}}, ["body", "location", "lat"]),
        ({"location": {"lat": 1}}, ["body", "location", "lng"]),
        ({"coord": "mars"}, ["body", "coord"]),
        ({"timezone": "Asia/Beijing"}, ["body", "timezone"]),
        ({"timezone": "America/Argentina/Bu"}, ["body", "timezone"]),
        ({"opening_hours": "Mon - Fri 11am - 11pm"}, ["body", "opening_hours"]),
        ({"attributes": {"k": "v\x00"}}, ["body", "attributes"]),
        ({"attributes": ["not", "an", "object"]}, ["body", "attributes"]),
        ({"owner_id": "not-a-uuid"}, ["body", "owner_id"]),
        ({"external_id": "x" * 201}, ["body", "external_id"]),
        ({"colour": "red"}, ["body", "colour"]),
    ],
)
async def test_invalid_merchant_bodies_are_422_with_the_field(
    client: httpx.AsyncClient,
    owner: tuple[uuid.UUID, dict[str, str]],
    change: dict[str, Any],
    loc: list[str],
) -> None:
    response = await client.post("/v1/merchants", json=STORE | change, headers=owner[1])
    assert response.status_code == 422, response.text
    body = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert set(body) == {"type", "title", "status", "detail", "errors"} and body["status"] == 422
    assert body["errors"][0]["loc"] == loc
