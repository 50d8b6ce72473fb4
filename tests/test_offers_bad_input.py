"""Random query strings and bodies against the offer and claim routes: a clear problem, never a
server error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection

from spatial import circle_fence
from tests.factories import create_owner, insert_merchant, insert_offer
from tests.test_bad_input import assert_problem, json_values, scalars

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-200, max_value=200),
    st.integers(-200, 200),
)
positions = st.lists(numbers, min_size=0, max_size=4)
rings = st.lists(positions, max_size=8)
geofences = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["circle", "Polygon", "MultiPolygon", "Point", "polygon"]),
            "coordinates": st.one_of(
                st.lists(rings, max_size=3), st.lists(st.lists(rings, max_size=2), max_size=2)
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("circle"),
            "center": st.fixed_dictionaries({"lat": numbers, "lng": numbers}),
            "radius_m": numbers | st.integers(-10, 100_000),
        }
    ),
)


@pytest.fixture
async def setup(conn: AsyncConnection) -> dict[str, Any]:
    owner, key = await create_owner(conn, "Fuzz owner")
    shop = await insert_merchant(conn, owner.id, lat=0.0, lng=0.0)
    offer = await insert_offer(conn, shop.id, fence=circle_fence(0.0, 0.0, 1000), quantity=3)
    return {"headers": {"Authorization": f"Bearer {key}"}, "shop": shop.id, "offer": offer.id}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(["lat", "lng", "at", "category", "limit", "cursor", "coord"]),
        scalars,
        max_size=6,
    )
)
async def test_no_offers_here_query_causes_a_server_error(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/v1/offers/here", params={"lat": "0", "lng": "0"} | params)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_problem(response, 422)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    geofences,
    st.dictionaries(
        st.sampled_from(
            ["description", "coord", "starts_at", "ends_at", "quantity", "per_user_limit"]
        ),
        json_values,
        max_size=4,
    ),
)
async def test_no_offer_body_causes_a_server_error(
    client: httpx.AsyncClient, setup: dict[str, Any], geofence: Any, fields: dict[str, Any]
) -> None:
    body = {"title": "fuzz", "geofence": geofence} | fields
    response = await client.post(
        f"/v1/merchants/{setup['shop']}/offers", json=body, headers=setup["headers"]
    )
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert_problem(response, 422)
    patched = await client.patch(
        f"/v1/offers/{setup['offer']}", json=body, headers=setup["headers"]
    )
    assert patched.status_code in (200, 422), patched.text


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(st.sampled_from(["user_id", "lat", "lng", "coord"]), json_values, max_size=4),
    st.one_of(st.none(), st.text(max_size=210).filter(lambda k: k.isprintable() and k.isascii())),
)
async def test_no_claim_causes_a_server_error(
    client: httpx.AsyncClient, setup: dict[str, Any], body: dict[str, Any], key: str | None
) -> None:
    headers = {} if key is None else {"Idempotency-Key": key}
    response = await client.post(f"/v1/offers/{setup['offer']}/claims", json=body, headers=headers)
    assert response.status_code in (201, 403, 409, 422), response.text
    if response.status_code != 201:
        assert_problem(response, response.status_code)
