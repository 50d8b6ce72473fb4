"""Shares over HTTP: making them (auth, 422s, the depth bound, one per user), the public view
that hides the sharer, claims through a share, and chain credit of redemptions on real PostGIS
against app/attribution.py as the oracle."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import attribution
from app.queries import shares as shares_sql
from app.settings import Settings
from app.shares import MAX_DEPTH
from spatial import circle_fence
from tests.factories import create_app, insert_merchant, insert_offer, owner_with_headers
from tests.test_apps import token

SHOP = (22.5431, 114.0579)
INSIDE = {"lat": 22.5440, "lng": 114.0579}
SHARE_CODE = re.compile(r"^[0-9A-Za-z]{22}$")


@pytest.fixture
async def mini(conn: AsyncConnection) -> Any:
    return await create_app(conn, "Share app")


@pytest.fixture
async def client(client: httpx.AsyncClient, mini: Any) -> httpx.AsyncClient:
    client.headers["Authorization"] = f"Bearer {mini.app_key}"
    return client


@pytest.fixture
async def owner(conn: AsyncConnection) -> tuple[uuid.UUID, dict[str, str]]:
    return await owner_with_headers(conn, "Shares owner")


async def new_offer(conn: AsyncConnection, owner_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    shop = await insert_merchant(conn, owner_id, lat=SHOP[0], lng=SHOP[1])
    return (await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 300), **fields)).id


@pytest.fixture
async def offer(conn: AsyncConnection, owner: tuple[uuid.UUID, dict[str, str]]) -> uuid.UUID:
    return await new_offer(conn, owner[0], per_user_limit=None)


async def share(
    client: httpx.AsyncClient, offer_id: Any, user: str | None, parent: str | None = None, **kw: Any
) -> httpx.Response:
    body: dict[str, Any] = {} if user is None else {"user_id": user}
    if parent is not None:
        body["parent"] = parent
    return await client.post(f"/v1/offers/{offer_id}/shares", json=body, **kw)


async def made(
    client: httpx.AsyncClient, offer_id: Any, user: str, parent: str | None = None
) -> str:
    response = await share(client, offer_id, user, parent)
    assert response.status_code == 201, response.text
    return str(response.json()["code"])


async def test_a_root_share_and_one_below_it(client: httpx.AsyncClient, offer: uuid.UUID) -> None:
    root = await share(client, offer, "alice")
    assert root.status_code == 201
    body = root.json()
    assert SHARE_CODE.match(body["code"])
    assert body | {"code": None, "created_at": None} == {
        "code": None,
        "offer_id": str(offer),
        "user_id": "alice",
        "parent": None,
        "depth": 0,
        "created_at": None,
    }
    child = await share(client, offer, "bob", body["code"])
    assert child.status_code == 201
    assert (child.json()["parent"], child.json()["depth"]) == (body["code"], 1)
    assert child.json()["code"] != body["code"]


async def test_sharing_again_returns_the_users_first_share(
    client: httpx.AsyncClient, offer: uuid.UUID
) -> None:
    alice = await made(client, offer, "alice")
    bob = await made(client, offer, "bob", alice)
    again = await share(client, offer, "bob", alice)
    assert again.status_code == 200 and again.json()["code"] == bob
    # another parent changes nothing: the chain bob joined first keeps the credit
    carol = await made(client, offer, "carol")
    other = await share(client, offer, "bob", carol)
    assert other.status_code == 200
    assert (other.json()["code"], other.json()["parent"]) == (bob, alice)
    root_again = await share(client, offer, "bob")
    assert root_again.status_code == 200 and root_again.json()["code"] == bob


async def test_a_chain_cannot_loop(client: httpx.AsyncClient, offer: uuid.UUID) -> None:
    """A share can only name an existing share as its parent and never changes afterwards, so
    the root's parent cannot become one of its descendants."""
    a = await made(client, offer, "a")
    b = await made(client, offer, "b", a)
    c = await made(client, offer, "c", b)
    again = await share(client, offer, "a", c)  # a "re-shares" below its own grandchild
    assert again.status_code == 200
    assert (again.json()["code"], again.json()["parent"], again.json()["depth"]) == (a, None, 0)
    for method in ("PATCH", "PUT", "DELETE"):
        response = await client.request(method, f"/v1/shares/{a}", json={"parent": c})
        assert response.status_code == 405
    view = (await client.get(f"/v1/shares/{c}")).json()
    assert view["depth"] == 2


async def test_the_parent_must_be_a_share_of_the_same_offer(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any, offer: uuid.UUID
) -> None:
    elsewhere = await new_offer(conn, owner[0])
    foreign = await made(client, elsewhere, "alice")
    for parent in (foreign, "0" * 22, "Z"):
        response = await share(client, offer, "bob", parent)
        assert response.status_code == 422, parent
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["loc"] == ["body", "parent"]
        assert "not a share of this offer" in response.json()["detail"]
    for bad in ("has space", "x" * 33, "", "ünï"):
        response = await share(client, offer, "bob", bad)
        assert response.status_code == 422, bad
    assert (await share(client, offer, "bob")).status_code == 201  # nothing was made before


async def test_depth_is_bounded(client: httpx.AsyncClient, offer: uuid.UUID) -> None:
    parent = None
    for depth in range(MAX_DEPTH + 1):
        response = await share(client, offer, f"u{depth}", parent)
        assert response.status_code == 201 and response.json()["depth"] == depth
        parent = response.json()["code"]
    too_deep = await share(client, offer, "one-more", parent)
    assert too_deep.status_code == 422
    assert f"at depth {MAX_DEPTH}" in too_deep.json()["detail"]
    assert (await share(client, offer, "one-more")).json()["depth"] == 0  # a new chain is fine


async def test_who_may_share(
    client: httpx.AsyncClient, mini: Any, owner: Any, offer: uuid.UUID
) -> None:
    bare = {"Authorization": ""}
    assert (await share(client, offer, "u", headers=bare)).status_code == 401
    assert (await share(client, offer, "u", headers=owner[1])).status_code == 403
    no_user = await share(client, offer, None)
    assert no_user.status_code == 422 and no_user.json()["errors"][0]["loc"] == ["body", "user_id"]
    as_user = bearer_of(token(mini, "openid-9"))
    by_token = await share(client, offer, None, headers=as_user)
    assert by_token.status_code == 201 and by_token.json()["user_id"] == "openid-9"
    assert (await share(client, offer, "someone-else", headers=as_user)).status_code == 403
    assert (await share(client, uuid.uuid4(), "u")).status_code == 404
    extra = await client.post(f"/v1/offers/{offer}/shares", json={"user_id": "u", "x": 1})
    assert extra.status_code == 422


def bearer_of(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def test_the_public_view_hides_the_sharer(
    client: httpx.AsyncClient, mini: Any, offer: uuid.UUID
) -> None:
    code = await made(client, offer, "secret-openid-123")
    child = await made(client, offer, "other", code)
    response = await client.get(f"/v1/shares/{child}", headers={"Authorization": ""})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"code", "depth", "offer"}
    assert (body["code"], body["depth"], body["offer"]["id"]) == (child, 1, str(offer))
    for secret in ("secret-openid-123", "other", str(mini.row.id), code):
        assert secret not in response.text
    assert (await client.get(f"/v1/shares/{'A' * 22}")).status_code == 404
    assert (await client.get("/v1/shares/not-a-code")).status_code == 422


async def claim(
    client: httpx.AsyncClient, offer_id: Any, user: str, share_code: str | None
) -> httpx.Response:
    body: dict[str, Any] = {"user_id": user, **INSIDE}
    if share_code is not None:
        body["share"] = share_code
    return await client.post(f"/v1/offers/{offer_id}/claims", json=body)


async def claim_share(conn: AsyncConnection, code: str) -> str | None:
    row = (
        await conn.execute(text("SELECT share FROM claim WHERE code = :code"), {"code": code})
    ).one()
    return row[0] if row else None


async def test_a_claim_is_attributed_to_its_share(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any, offer: uuid.UUID
) -> None:
    alice = await made(client, offer, "alice")
    bob = await made(client, offer, "bob", alice)
    by_carol = await claim(client, offer, "carol", bob)
    assert by_carol.status_code == 201, by_carol.text
    assert await claim_share(conn, by_carol.json()["code"]) == bob
    # through one's own share: credited to the share one arrived through
    by_bob = await claim(client, offer, "bob", bob)
    assert await claim_share(conn, by_bob.json()["code"]) == alice
    by_alice = await claim(client, offer, "alice", alice)
    assert await claim_share(conn, by_alice.json()["code"]) is None
    plain = await claim(client, offer, "dave", None)
    assert await claim_share(conn, plain.json()["code"]) is None


async def test_a_claim_says_which_share_it_is_attributed_to(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any, offer: uuid.UUID
) -> None:
    """`share` in the claim's response (with and without an Idempotency-Key, and its replay),
    in GET /v1/claims/{code} for the owner and the app, and in the user's list: the stored
    attribution, the parent for one's own share, null without one."""
    alice = await made(client, offer, "alice")
    bob = await made(client, offer, "bob", alice)
    cases = [("carol", bob, bob), ("bob", bob, alice), ("alice", alice, None), ("dave", None, None)]
    for keyed in (False, True):
        for user, via, credited in cases:
            user = f"{user}-{keyed}"
            if via == bob and user.startswith("bob"):
                via = await made(client, offer, user, alice)  # the user's own share
            elif via == alice and user.startswith("alice"):
                via = await made(client, offer, user)  # a root of one's own
            headers = {"Idempotency-Key": f"key-{user}"} if keyed else {}
            body: dict[str, Any] = {"user_id": user, **INSIDE}
            if via is not None:
                body["share"] = via
            response = await client.post(f"/v1/offers/{offer}/claims", json=body, headers=headers)
            assert response.status_code == 201, response.text
            code = response.json()["code"]
            stored = await claim_share(conn, code)
            assert response.json()["share"] == stored == credited, (user, via)
            if keyed:
                again = await client.post(f"/v1/offers/{offer}/claims", json=body, headers=headers)
                assert again.headers["Idempotent-Replayed"] == "true"
                assert again.content == response.content
            for headers in ({}, owner[1]):
                view = await client.get(f"/v1/claims/{code}", headers=headers)
                assert view.status_code == 200, view.text
                assert view.json()["share"] == credited
            mine = (await client.get(f"/v1/users/{user}/claims")).json()["results"]
            assert [(c["code"], c["share"]) for c in mine] == [(code, credited)]


async def test_a_claim_through_a_share_of_another_offer_is_refused_and_writes_nothing(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any, offer: uuid.UUID
) -> None:
    elsewhere = await new_offer(conn, owner[0])
    foreign = await made(client, elsewhere, "alice")
    for code in (foreign, "B" * 22):
        response = await claim(client, offer, "carol", code)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == ["body", "share"]
        keyed = await client.post(
            f"/v1/offers/{offer}/claims",
            json={"user_id": "carol", "share": code, **INSIDE},
            headers={"Idempotency-Key": f"k-{code}"},
        )
        assert keyed.status_code == 422
    assert (await claim(client, offer, "carol", "no spaces")).status_code == 422
    assert (await client.get(f"/v1/offers/{offer}")).json()["claimed"] == 0
    ok = await client.post(
        f"/v1/offers/{offer}/claims",
        json={"user_id": "carol", **INSIDE},
        headers={"Idempotency-Key": f"k-{foreign}"},
    )
    assert ok.status_code == 201  # the refused key was not kept


@pytest.mark.parametrize("seed", range(4))
async def test_redemptions_are_credited_up_the_chain(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any, offer: uuid.UUID, seed: int
) -> None:
    """Random share trees, claims (some by sharers through their own share) and redemptions via
    the API; the counts read off the stored rows equal app/attribution.py's."""
    rng = random.Random(seed)
    codes: list[str] = []
    tree: dict[str, attribution.Share] = {}
    for n in range(rng.randint(1, 14)):
        parent = rng.choice([None, *codes]) if codes else None
        body = (await share(client, offer, f"s{n}", parent)).json()
        codes.append(body["code"])
        tree[body["code"]] = attribution.Share(body["code"], parent, f"s{n}")
    expected: list[attribution.Claim] = []
    unclaimed = [f"s{n}" for n in range(len(codes))]  # a sharer claims once (rate limits)
    for n in range(rng.randint(0, 30)):
        user = f"c{n}"
        if unclaimed and rng.random() < 0.3:
            user = unclaimed.pop(rng.randrange(len(unclaimed)))
        via = rng.choice([None, *codes])
        response = await claim(client, offer, user, via)
        assert response.status_code == 201, response.text
        redeemed = rng.random() < 0.6
        if redeemed:
            done = await client.post(
                f"/v1/claims/{response.json()['code']}/redeem", headers=owner[1]
            )
            assert done.status_code == 200
        credited = attribution.attributed_share(tree, via, user)
        if credited is not None:
            expected.append(attribution.Claim(credited, redeemed))
    want = attribution.credit(tree.values(), expected)
    got = await shares_sql.chain_credit(conn, offer_id=offer)
    assert {row.user_id: row.credit for row in got} == want


def test_the_public_url_defaults_to_the_services_own_address(database_url: str) -> None:
    assert Settings(database_url=database_url, host="10.0.0.5", port=9000).public_base == (
        "http://10.0.0.5:9000"
    )
    behind = Settings(database_url=database_url, public_url="https://nearby.example.com/app/")
    assert behind.public_base == "https://nearby.example.com/app"
    for bad in ("ftp://x", "https://x/?q=1", "nearby.example.com", "https://"):
        with pytest.raises(ValidationError):
            Settings(database_url=database_url, public_url=bad)


async def test_qr_codes_are_svg_of_the_services_links(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: Any, offer: uuid.UUID
) -> None:
    """The links themselves are read back from the images in tests/test_deeplinks.py."""
    code = await made(client, offer, "alice")
    response = await client.get(f"/v1/offers/{offer}/qr.svg", params={"share": code})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert f"<title>http://127.0.0.1:8000/o/{offer}?s={code}</title>" in response.text
    assert (await client.get(f"/v1/offers/{offer}/qr.svg", params={"x": "1"})).status_code == 422


async def test_one_user_sharing_at_once_many_times_gets_one_share(
    live: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Committed, on the app's own pool: concurrent shares of one user race on the unique key,
    and every one of them answers with the same share."""
    owner = (await live.post("/v1/owners", json={"name": "Race"}, headers=admin)).json()
    store = {"name": "Race", "category": "tea", "location": {"lat": SHOP[0], "lng": SHOP[1]}}
    merchant = (
        await live.post("/v1/merchants", json=store | {"owner_id": owner["id"]}, headers=admin)
    ).json()
    app = (await live.post("/v1/apps", json={"name": "Race app"}, headers=admin)).json()
    try:
        offer = (
            await live.post(
                f"/v1/merchants/{merchant['id']}/offers", json={"title": "Race"}, headers=admin
            )
        ).json()
        key = bearer_of(app["app_key"])
        root = await live.post(
            f"/v1/offers/{offer['id']}/shares", json={"user_id": "root"}, headers=key
        )
        answers = await asyncio.gather(
            *(
                live.post(
                    f"/v1/offers/{offer['id']}/shares",
                    json={"user_id": "racer", "parent": root.json()["code"]},
                    headers=key,
                )
                for _ in range(12)
            )
        )
        assert sorted(a.status_code for a in answers) == [200] * 11 + [201]
        assert len({a.json()["code"] for a in answers}) == 1
    finally:
        await live.delete(f"/v1/merchants/{merchant['id']}", headers=admin)
        await live.delete(f"/v1/apps/{app['id']}", headers=admin)
