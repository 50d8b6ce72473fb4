"""The contract's input limits: `attributes` (16 KiB, 8 levels, 64-bit integers) in the API and
in imports, malformed bodies, unknown query parameters, and swapped coordinates.

Each limit is checked at and just past its edge, through the real app or the import pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.schemas.common import MAX_ATTRIBUTES_BYTES, MAX_ATTRIBUTES_DEPTH
from app.schemas.imports import ImportFormat
from tests.factories import create_owner
from tests.imports_helpers import import_file, store
from tests.test_bad_input import assert_problem

PLACE = {"name": "Limits", "category": "coffee", "location": {"lat": 31.23, "lng": 121.47}}


def nested(levels: int) -> dict[str, Any]:
    """An attributes object `levels` deep: {"a": {"a": ... {"a": 1}}}."""
    value: dict[str, Any] = {"a": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def nested_text(levels: int) -> str:
    """The same as JSON text, for depths Python's json module cannot write."""
    return '{"a":' * levels + "1" + "}" * levels


def padded(size: int) -> dict[str, str]:
    """An attributes object of exactly `size` bytes serialised: {"s":"xxx..."}."""
    return {"s": "x" * (size - len('{"s":""}'))}


@pytest.fixture
async def owner(conn: AsyncConnection) -> dict[str, str]:
    _, key = await create_owner(conn, "Limits")
    return {"Authorization": f"Bearer {key}"}


async def post_store(
    client: httpx.AsyncClient, owner: dict[str, str], attributes_json: str
) -> httpx.Response:
    body = json.dumps(PLACE | {"attributes": "@"}).replace('"@"', attributes_json)
    return await client.post(
        "/v1/merchants", content=body, headers=owner | {"Content-Type": "application/json"}
    )


# ------------------------------------------------------------------------------ attributes, API

GOOD_ATTRIBUTES = [
    nested(MAX_ATTRIBUTES_DEPTH),
    {"list": [[[[[[[1]]]]]]]},  # arrays count as levels too: 8 with the object
    {"max": 2**63 - 1, "min": -(2**63), "float": 1.5e300},
    padded(MAX_ATTRIBUTES_BYTES),
]
BAD_ATTRIBUTES = [
    # (attributes as JSON text, what the message names)
    (json.dumps(nested(MAX_ATTRIBUTES_DEPTH + 1)), "8 levels deep"),
    (json.dumps({"list": [[[[[[[[1]]]]]]]]}), "8 levels deep"),
    (nested_text(300), "8 levels deep"),
    (nested_text(600), "8 levels deep"),
    (json.dumps({"n": 2**63}), "64 bits"),
    (json.dumps({"n": [-(2**63) - 1]}), "64 bits"),
    (json.dumps({"n": 2**64}), "64 bits"),
    (json.dumps({"n": 10**40}), "64 bits"),
    ('{"n": 1e400}', "finite"),
    ('{"n": NaN}', "finite"),
    (json.dumps(padded(MAX_ATTRIBUTES_BYTES + 1)), "16 KiB"),
    (json.dumps(padded(9 * 1024 * 1024)), "16 KiB"),
    (json.dumps({"k\x00": 1}), "NUL"),
    ("[1, 2]", "valid dictionary"),
]


@pytest.mark.parametrize("attributes", GOOD_ATTRIBUTES, ids=["depth", "arrays", "ints", "size"])
async def test_attributes_at_the_limits_are_stored_and_read_back(
    client: httpx.AsyncClient, owner: dict[str, str], attributes: Any
) -> None:
    response = await post_store(client, owner, json.dumps(attributes))
    assert response.status_code == 201, response.text
    got = await client.get(f"/v1/merchants/{response.json()['id']}")
    assert got.json()["attributes"] == attributes


@pytest.mark.parametrize(("attributes", "says"), BAD_ATTRIBUTES)
async def test_attributes_past_the_limits_are_422_on_create_and_patch(
    client: httpx.AsyncClient, owner: dict[str, str], attributes: Any, says: str
) -> None:
    body = assert_problem(await post_store(client, owner, attributes), 422)
    assert body["errors"][0]["loc"] == ["body", "attributes"], body
    assert says in body["errors"][0]["msg"], body
    created = await client.post("/v1/merchants", json=PLACE, headers=owner)
    patch = json.dumps({"attributes": "@"}).replace('"@"', attributes)
    response = await client.patch(
        f"/v1/merchants/{created.json()['id']}",
        content=patch,
        headers=owner | {"Content-Type": "application/json"},
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["body", "attributes"] and says in body["detail"], body


async def test_the_message_says_where_the_limit_is_passed(
    client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    deep = {"menu": {"drinks": [nested(MAX_ATTRIBUTES_DEPTH - 2)]}}
    body = assert_problem(await post_store(client, owner, json.dumps(deep)), 422)
    assert "menu.drinks[0].a.a.a.a.a is level 9" in body["detail"], body
    too_big = '{"ids": [1, 18446744073709551616]}'
    body = assert_problem(await post_store(client, owner, too_big), 422)
    assert "ids[1] does not" in body["detail"], body


# ---------------------------------------------------------------------------- attributes, imports


async def test_an_import_reports_rows_past_the_attribute_limits_and_lands_the_good_ones(
    conn: AsyncConnection, tmp_path: Path
) -> None:
    owner, _ = await create_owner(conn, "Importer")
    lines = [
        json.dumps(store(1, attributes={"ok": True})),
        json.dumps(store(2) | {"attributes": "@"}).replace('"@"', nested_text(300)),
        json.dumps(store(3) | {"attributes": "@"}).replace('"@"', nested_text(2000)),
        json.dumps(store(4, attributes={"n": 2**64})),
        json.dumps(store(5, attributes=padded(MAX_ATTRIBUTES_BYTES + 1))),
        json.dumps(store(6, attributes={"n": 2**63 - 1})),
    ]
    path = tmp_path / "limits.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = await import_file(conn, owner.id, path, ImportFormat.NDJSON)
    assert [(row, field) for row, field, _ in result.rejections] == [
        (2, "attributes"),
        (3, "record"),
        (4, "attributes"),
        (5, "attributes"),
    ]
    messages = [msg for _, _, msg in result.rejections]
    assert "8 levels deep" in messages[0] and "nested too deeply" in messages[1]
    assert "64 bits" in messages[2] and "16 KiB" in messages[3]
    stored = await conn.execute(
        text("SELECT external_id FROM merchant WHERE owner_id = :o ORDER BY 1"), {"o": owner.id}
    )
    assert [r.external_id for r in stored] == ["S-0001", "S-0006"]


async def test_a_first_ndjson_line_too_deep_to_parse_is_a_reported_row(
    conn: AsyncConnection, tmp_path: Path
) -> None:
    owner, _ = await create_owner(conn, "Importer")
    deep = json.dumps(store(1) | {"attributes": "@"}).replace('"@"', nested_text(1100))
    path = tmp_path / "deep-first.ndjson"
    path.write_text(deep + "\n" + json.dumps(store(2)) + "\n")
    result = await import_file(conn, owner.id, path, ImportFormat.NDJSON)
    assert [(row, field) for row, field, _ in result.rejections] == [(1, "record")]
    assert (result.loaded.rows_total, result.loaded.rows_failed) == (2, 1)


async def test_a_geojson_feature_too_deep_to_parse_is_a_reported_row(
    conn: AsyncConnection, tmp_path: Path
) -> None:
    owner, _ = await create_owner(conn, "Importer")

    def feature(n: int, attributes: str) -> str:
        properties = {k: v for k, v in store(n).items() if k not in ("lat", "lng")}
        point = {"type": "Point", "coordinates": [121.47, 31.23]}
        text_ = json.dumps({"type": "Feature", "geometry": point, "properties": properties})
        return text_.replace('"properties": {', f'"properties": {{"attributes": {attributes}, ', 1)

    tricky = '{"s": "]}\\"[{", "d": ' + "[" * 3000 + '"]]"' + "]" * 3000 + "}"
    features = [feature(1, "{}"), feature(2, tricky), feature(3, '{"ok": 1}')]
    path = tmp_path / "deep.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [' + ",".join(features) + "]}")
    result = await import_file(conn, owner.id, path, ImportFormat.GEOJSON)
    assert [(row, field) for row, field, _ in result.rejections] == [(2, "record")]
    assert (result.loaded.rows_total, result.loaded.rows_failed) == (3, 1)


# ----------------------------------------------------------------------------- malformed bodies

MALFORMED = {
    "invalid JSON": b'{"name": ',
    "not UTF-8": b'{"name": "\xff\xfe", "category": "c"}',
    "UTF-8 cut short": b'{"name": "\xe4\xb8"}',
    "1,000 levels": b"[" * 1000 + b"]" * 1000,
    "100,000 levels": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "empty": b"",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_bodies_are_422_problems(
    client: httpx.AsyncClient, owner: dict[str, str], admin: dict[str, str], body: bytes
) -> None:
    json_type = {"Content-Type": "application/json"}
    response = await client.post("/v1/merchants", content=body, headers=owner | json_type)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"][0] == "body", problem
    response = await client.post("/v1/owners", content=body, headers=admin | json_type)
    assert_problem(response, 422)


# ---------------------------------------------------------------------- BD-09 at the antimeridian


def lngs_in(value: Any) -> list[float]:
    """Every longitude in a response body: each {"lat", "lng"}'s and each GeoJSON [lng, lat]'s."""
    if isinstance(value, dict):
        own = [value["lng"]] if "lat" in value and "lng" in value else []
        return own + [lng for item in value.values() for lng in lngs_in(item)]
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(x, float | int) for x in value):
            return [value[0]]
        return [lng for item in value for lng in lngs_in(item)]
    return []


async def test_a_store_by_the_antimeridian_reads_in_bd09_without_a_500(
    client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    store_ = {**PLACE, "location": {"lat": 10.0, "lng": 179.998}, "timezone": "Pacific/Fiji"}
    created = (await client.post("/v1/merchants", json=store_, headers=owner)).json()
    offer = {"title": "Dateline", "geofence": None}
    made = await client.post(f"/v1/merchants/{created['id']}/offers", json=offer, headers=owner)
    assert made.status_code == 201, made.text
    bd09 = {"coord": "bd09"}
    one = await client.get(f"/v1/merchants/{created['id']}", params=bd09)
    assert one.status_code == 200, one.text
    lat, lng = one.json()["location"]["lat"], one.json()["location"]["lng"]
    assert lng == pytest.approx(-179.9955, abs=1e-3)
    here = {"lat": lat, "lng": lng, "coord": "bd09"}
    responses = [
        one,
        await client.get("/v1/merchants", params=bd09, headers=owner),
        await client.get(f"/v1/merchants/{created['id']}/offers", params=bd09, headers=owner),
        await client.get(f"/v1/offers/{made.json()['id']}", params=bd09),
        await client.get("/v1/offers/here", params=here),
        await client.get("/v1/search/nearby", params=here),
    ]
    for response in responses:
        assert response.status_code == 200, (response.url, response.text)
        lngs = lngs_in(response.json())
        assert lngs and all(-180 <= x < 180 for x in lngs), (response.url, lngs)
    assert responses[-1].json()["results"][0]["id"] == created["id"]
    assert responses[4].json()["results"][0]["merchant"]["id"] == created["id"]


async def test_a_bd09_store_at_lng_minus_180_without_a_timezone_is_created(
    client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    store_ = {**PLACE, "location": {"lat": 10.0, "lng": -180.0}, "coord": "bd09"}
    response = await client.post("/v1/merchants", json=store_, headers=owner)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["timezone"].startswith(("Etc/", "Pacific/")), body
    assert abs(body["location"]["lng"]) == pytest.approx(180.0, abs=1e-6)
    wgs = (await client.get(f"/v1/merchants/{body['id']}")).json()["location"]
    assert wgs["lng"] == pytest.approx(179.9935, abs=1e-3)


# ------------------------------------------------------------------ unknown query parameters


def api_routes() -> list[tuple[str, str]]:
    """(method, path) of every route of the OpenAPI document, path parameters filled in."""
    from fastapi.routing import APIRoute

    from app.routes import ROUTERS

    found = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                path = route.path_format.replace("{code}", "A" * 26)
                while "{" in path:
                    start, end = path.index("{"), path.index("}")
                    path = path[:start] + "00000000-0000-0000-0000-000000000000" + path[end + 1 :]
                found += [(method, path) for method in sorted(route.methods or ())]
    return found


@pytest.mark.parametrize(("method", "path"), api_routes())
async def test_every_route_refuses_an_unknown_query_parameter(
    client: httpx.AsyncClient, admin: dict[str, str], method: str, path: str
) -> None:
    response = await client.request(method, path, params={"limt": "5"}, headers=admin)
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["query", "limt"], body
    assert "is not a parameter of this route" in body["errors"][0]["msg"]


async def test_known_parameters_still_pass_and_the_message_lists_them(
    client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    listed = await client.get("/v1/merchants", params={"limit": "5"}, headers=owner)
    assert listed.status_code == 200, listed.text
    body = assert_problem(await client.get("/v1/merchants", params={"owner": "x"}), 422)
    assert "(it takes: coord, cursor, external_id, limit, owner_id, q)" in body["detail"], body
    body = assert_problem(await client.get("/v1/search/nearby", params={"lat": 1, "lgn": 2}), 422)
    assert [e["loc"] for e in body["errors"]] == [["query", "lgn"]]


# ----------------------------------------------------------------------- swapped coordinates


async def test_swapped_coordinates_get_the_hint_everywhere(
    client: httpx.AsyncClient, owner: dict[str, str]
) -> None:
    shanghai_swapped = {"lat": 121.4737, "lng": 31.2304}
    body = assert_problem(
        await client.post(
            "/v1/merchants", json=PLACE | {"location": shanghai_swapped}, headers=owner
        ),
        422,
    )
    assert body["errors"] == [
        {
            "loc": ["body", "location", "lat"],
            "msg": "Input should be less than or equal to 90 (are lat and lng swapped?)",
        }
    ]
    for path in ("/v1/search/nearby", "/v1/offers/here"):
        body = assert_problem(await client.get(path, params=shanghai_swapped), 422)
        assert body["errors"][0]["loc"] == ["query", "lat"], body
        assert body["errors"][0]["msg"].endswith("(are lat and lng swapped?)"), body
    claim = {"user_id": "u1"} | shanghai_swapped
    response = await client.post(f"/v1/offers/{uuid4()}/claims", json=claim)
    assert assert_problem(response, 422)["errors"][0]["msg"].endswith("swapped?)")


@pytest.mark.parametrize(
    "location",
    [
        {"lat": 95.0, "lng": 120.0},  # lng could not be a latitude
        {"lat": 200.0, "lng": 10.0},  # lat could not be a longitude either
        {"lat": "north", "lng": 10.0},
    ],
)
async def test_no_hint_when_swapping_would_not_help(
    client: httpx.AsyncClient, owner: dict[str, str], location: dict[str, Any]
) -> None:
    body = PLACE | {"location": location}
    response = await client.post("/v1/merchants", json=body, headers=owner)
    assert "swapped" not in assert_problem(response, 422)["detail"]
