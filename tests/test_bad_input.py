"""Every parameter of every route, given bad values: a clear RFC 9457 problem, never a 500."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection

from app.schemas.search import BBoxQuery, ClusterQuery, NearbyQuery

NEARBY = {"lat": "31.23", "lng": "121.47"}
BOX = {"min_lat": "31.2", "min_lng": "121.4", "max_lat": "31.3", "max_lng": "121.5"}
FOREIGN_CURSOR = base64.urlsafe_b64encode(
    json.dumps(["0" * 16, 1.0, str(uuid.uuid4())]).encode()
).decode()

BAD_QUERIES = [
    # (path, base params, parameter, bad value)
    *[
        ("/v1/search/nearby", NEARBY, "lat", v)
        for v in ["", "north", "91", "-90.5", "nan", "inf", "1e400"]
    ],
    *[("/v1/search/nearby", NEARBY, "lng", v) for v in ["", "x", "180.01", "-181", "NaN"]],
    *[
        ("/v1/search/nearby", NEARBY, "radius", v)
        for v in ["0", "0.5", "50001", "-5", "far", "inf"]
    ],
    *[("/v1/search/nearby", NEARBY, "category", v) for v in ["", "x" * 201, "a\x00b", ["c"] * 21]],
    *[("/v1/search/nearby", NEARBY, "q", v) for v in ["", "x" * 201, "a\x00b"]],
    *[("/v1/search/nearby", NEARBY, "open_now", v) for v in ["maybe", "2"]],
    *[
        ("/v1/search/nearby", NEARBY | {"open_now": "true"}, "at", v)
        for v in ["yesterday", "2026-11-22T10:00:00", "2026-13-01T00:00:00Z"]
    ],
    *[("/v1/search/nearby", NEARBY, "limit", v) for v in ["0", "101", "-1", "ten", "2.5"]],
    *[
        ("/v1/search/nearby", NEARBY, "cursor", v)
        for v in ["***", "abc", "x" * 513, "W10", FOREIGN_CURSOR]
    ],
    *[("/v1/search/nearby", NEARBY, "coord", v) for v in ["", "mars", "WGS84x"]],
    *[
        (path, BOX, p, v)
        for path in ("/v1/search/bbox", "/v1/search/clusters")
        for p in BOX
        for v in ["", "x", "999"]
    ],
    *[(path, BOX, "min_lat", "31.4") for path in ("/v1/search/bbox", "/v1/search/clusters")],
    *[(path, BOX, "coord", "mars") for path in ("/v1/search/bbox", "/v1/search/clusters")],
    *[(path, BOX, "category", "x" * 201) for path in ("/v1/search/bbox", "/v1/search/clusters")],
    *[("/v1/search/bbox", BOX, "limit", v) for v in ["0", "101", "x"]],
    *[("/v1/search/clusters", BOX, "resolution", v) for v in ["-1", "16", "x", "9.5"]],
    *[("/v1/search/clusters", BOX, "limit", v) for v in ["0", "10001", "x"]],
    *[
        ("/v1/merchants/" + v, {}, "coord", "wgs84")
        for v in ["abc", "123", "00000000-0000-0000-0000-00000000000g"]
    ],
    ("/v1/merchants/" + str(uuid.uuid4()), {}, "coord", "mars"),
]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert "Traceback" not in response.text
    if status == 422:
        assert body["errors"] and all(set(e) == {"loc", "msg"} for e in body["errors"])
    return body


@pytest.mark.parametrize(("path", "base", "name", "value"), BAD_QUERIES)
async def test_bad_query_parameters_are_422(
    client: httpx.AsyncClient, path: str, base: dict[str, str], name: str, value: str
) -> None:
    params = dict(base)
    params[name] = value
    if name in base and value == "":
        params.pop(name)  # a missing required parameter
    body = assert_problem(await client.get(path, params=params), 422)
    assert body["errors"][0]["loc"][0] in ("query", "path")


async def test_a_cursor_from_another_query_is_422(
    client: httpx.AsyncClient, conn: AsyncConnection
) -> None:
    from tests.factories import create_owner, insert_merchant

    owner, _ = await create_owner(conn)
    for i in range(3):
        await insert_merchant(conn, owner.id, lat=31.23 + i * 0.0001, lng=121.47)
    first = (await client.get("/v1/search/nearby", params=NEARBY | {"limit": 1})).json()
    assert first["next_cursor"]
    moved = NEARBY | {"lat": "31.24", "cursor": first["next_cursor"]}
    body = assert_problem(await client.get("/v1/search/nearby", params=moved), 422)
    assert "different query" in body["detail"]


async def test_unknown_paths_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nowhere"), 404)
    assert_problem(await client.put(f"/v1/merchants/{uuid.uuid4()}", json={}), 405)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2]",
        b"null",
        b'"text"',
        b'{"name": "x", "location": {"lat": NaN, "lng": 0}}',
    ],
)
async def test_malformed_bodies_are_422(
    client: httpx.AsyncClient, admin: dict[str, str], content: bytes
) -> None:
    headers = admin | {"content-type": "application/json"}
    assert_problem(await client.post("/v1/merchants", content=content, headers=headers), 422)
    assert_problem(await client.post("/v1/owners", content=content, headers=headers), 422)


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "x" * 201}, {"name": "a\x00"}, {"name": "ok", "extra": 1}]
)
async def test_bad_owner_bodies_are_422(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
) -> None:
    assert_problem(await client.post("/v1/owners", json=body, headers=admin), 422)


async def test_a_body_over_10_mib_is_413(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    huge = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    assert_problem(
        await client.post(
            "/v1/owners", content=huge, headers=admin | {"content-type": "application/json"}
        ),
        413,
    )


scalars = st.one_of(
    st.text(max_size=30), st.sampled_from(["", "nan", "-0", "1e308", "\x00", "%00", "9" * 400])
)


# Every query parameter of the three searches, from their query models.
_SEARCH_PARAMETERS = sorted(
    {name for model in (NearbyQuery, BBoxQuery, ClusterQuery) for name in model.model_fields}
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["/v1/search/nearby", "/v1/search/bbox", "/v1/search/clusters"]),
    st.dictionaries(
        st.sampled_from(_SEARCH_PARAMETERS),
        scalars,
        max_size=8,
    ),
)
async def test_no_query_string_causes_a_server_error(
    client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> None:
    base = NEARBY if path.endswith("nearby") else BOX
    response = await client.get(path, params=base | params)
    assert response.status_code in (200, 422), response.text


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "category",
                "location",
                "tags",
                "coord",
                "timezone",
                "opening_hours",
                "attributes",
                "external_id",
                "address",
                "phone",
            ]
        ),
        json_values,
    )
)
async def test_no_merchant_body_causes_a_server_error(
    client: httpx.AsyncClient, admin: dict[str, str], conn: AsyncConnection, body: dict[str, Any]
) -> None:
    from tests.factories import create_owner

    owner, key = await create_owner(conn)
    async with conn.begin_nested() as savepoint:
        response = await client.post(
            "/v1/merchants", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        await savepoint.rollback()
    assert response.status_code in (201, 409, 422), response.text
