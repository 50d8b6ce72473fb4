"""Apps and user identity over HTTP: creating and revoking apps, who may claim, every rule of
a user token (API.md "Apps and users"), and the codes a cashier or a user may see."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.apps import NewApp
from app.main import create_app as create_service
from app.schemas.apps import AppOut
from app.schemas.offers import ClaimView, UserClaimsPage
from app.sealing import SealError, SecretBox
from app.settings import Settings
from spatial import circle_fence
from tests.conftest import ADMIN_KEY
from tests.factories import create_app, create_owner, insert_merchant, insert_offer

SHOP = (22.5431, 114.0579)
HERE = {"lat": 22.5440, "lng": 114.0579}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def token(
    app: Any,
    sub: str = "openid-1",
    *,
    secret: str | None = None,
    iat: float | None = None,
    lifetime_s: float = 3600,
    algorithm: str = "HS256",
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A user token as an app's backend mints it (PyJWT), with one rule broken at a time."""
    issued = time.time() if iat is None else iat
    payload = {"iss": str(app.row.id), "sub": sub, "iat": int(issued)}
    payload["exp"] = int(issued + lifetime_s)
    payload |= claims
    for name in drop:
        payload.pop(name)
    if algorithm == "none":
        return jwt.encode(payload, None, algorithm="none")  # type: ignore[arg-type]
    key = secret or app.signing_secret
    return jwt.encode(payload, key * 2 if algorithm == "HS512" else key, algorithm=algorithm)


@pytest.fixture
async def offer(conn: AsyncConnection) -> Any:
    owner, key = await create_owner(conn, "Apps owner")
    shop = await insert_merchant(conn, owner.id, lat=SHOP[0], lng=SHOP[1])
    row = await insert_offer(conn, shop.id, fence=circle_fence(*SHOP, 300), per_user_limit=None)
    return SimpleNamespace(id=row.id, owner_key=key)


@pytest.fixture
async def mini(conn: AsyncConnection) -> NewApp:
    return await create_app(conn, "Mini program")


async def claim(
    client: httpx.AsyncClient, offer: Any, credential: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/offers/{offer.id}/claims", json=HERE | body, headers=bearer(credential)
    )


# --------------------------------------------------------------------------- creating, revoking


async def test_the_admin_creates_an_app_whose_key_is_stored_only_as_a_hash(
    client: httpx.AsyncClient, admin: dict[str, str], conn: AsyncConnection
) -> None:
    response = await client.post("/v1/apps", json={"name": "  WeChat mini program "}, headers=admin)
    assert response.status_code == 201, response.text
    made = AppOut.model_validate(response.json())
    assert set(response.json()) == {"id", "name", "app_key", "signing_secret", "created_at"}
    assert made.name == "WeChat mini program" and made.app_key.startswith("nba_")
    assert len(made.signing_secret) >= 43  # 256 random bits
    stored = (
        await conn.execute(
            text("SELECT app_key_hash, signing_secret FROM app WHERE id = :i"), {"i": made.id}
        )
    ).one()
    assert made.app_key.encode() not in stored.app_key_hash
    assert stored.signing_secret == f"plain:{made.signing_secret}"  # no NEARBY_SECRET_KEY here


async def test_only_the_admin_creates_and_revokes_apps(
    client: httpx.AsyncClient, conn: AsyncConnection, mini: NewApp
) -> None:
    _, owner_key = await create_owner(conn)
    assert (await client.post("/v1/apps", json={"name": "x"})).status_code == 401
    for key in (owner_key, mini.app_key):
        assert (
            await client.post("/v1/apps", json={"name": "x"}, headers=bearer(key))
        ).status_code == 403
    assert (
        await client.delete(f"/v1/apps/{mini.row.id}", headers=bearer(owner_key))
    ).status_code == 403


async def test_bad_app_bodies_are_422(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for body in ({}, {"name": ""}, {"name": "x" * 201}, {"name": "a\x00"}, {"name": "a", "b": 1}):
        assert (await client.post("/v1/apps", json=body, headers=admin)).status_code == 422


async def test_a_revoked_apps_key_and_tokens_stop_working(
    client: httpx.AsyncClient, admin: dict[str, str], mini: NewApp, offer: Any
) -> None:
    user_token = token(mini)
    assert (await claim(client, offer, mini.app_key, user_id="u")).status_code == 201
    assert (await claim(client, offer, user_token)).status_code == 201
    revoked = await client.delete(f"/v1/apps/{mini.row.id}", headers=admin)
    assert revoked.status_code == 204
    by_key = await claim(client, offer, mini.app_key, user_id="u")
    assert by_key.status_code == 401 and by_key.json()["type"] == "/problems/unauthorized"
    by_token = await claim(client, offer, user_token)
    assert by_token.status_code == 401
    assert by_token.json()["detail"] == "The user token's app is unknown or revoked"
    again = await client.delete(f"/v1/apps/{mini.row.id}", headers=admin)
    assert again.status_code == 404
    assert (await client.delete(f"/v1/apps/{uuid.uuid4()}", headers=admin)).status_code == 404
    assert (await client.delete("/v1/apps/not-an-id", headers=admin)).status_code == 422


# ------------------------------------------------------------------------------ who may claim


async def test_owner_and_admin_keys_cannot_claim(
    client: httpx.AsyncClient, admin: dict[str, str], offer: Any
) -> None:
    for headers in (admin, bearer(offer.owner_key)):
        response = await client.post(
            f"/v1/offers/{offer.id}/claims", json=HERE | {"user_id": "u"}, headers=headers
        )
        assert response.status_code == 403, response.text
        assert response.json()["type"] == "/problems/forbidden"


async def test_a_claim_without_a_valid_credential_is_401(
    client: httpx.AsyncClient, offer: Any
) -> None:
    response = await client.post(f"/v1/offers/{offer.id}/claims", json=HERE | {"user_id": "u"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert (await claim(client, offer, "nba_not-a-key", user_id="u")).status_code == 401


async def test_an_app_key_must_name_the_user(
    client: httpx.AsyncClient, mini: NewApp, offer: Any
) -> None:
    response = await claim(client, offer, mini.app_key)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["body", "user_id"], "msg": "is required with an app key"}
    ]


async def test_a_user_token_claims_for_its_sub(
    client: httpx.AsyncClient, mini: NewApp, offer: Any
) -> None:
    response = await claim(client, offer, token(mini, "openid-7"))
    assert response.status_code == 201 and response.json()["user_id"] == "openid-7"
    same = await claim(client, offer, token(mini, "openid-7"), user_id="openid-7")
    assert same.status_code == 201


async def test_a_body_user_id_other_than_the_tokens_sub_is_403(
    client: httpx.AsyncClient, mini: NewApp, offer: Any
) -> None:
    response = await claim(client, offer, token(mini, "openid-7"), user_id="someone-else")
    assert response.status_code == 403
    assert response.json()["detail"] == "The body's user_id is not the user of the token (its sub)"


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("expired", "The user token has expired"),
        ("future iat", "The user token is not valid yet (iat or nbf in the future)"),
        ("future nbf", "The user token is not valid yet (iat or nbf in the future)"),
        ("wrong signature", "The user token's signature does not verify"),
        ("alg none", "The user token must be signed with HS256"),
        ("alg HS512", "The user token must be signed with HS256"),
        ("wrong iss", "The user token's signature does not verify"),
        ("iss spelt otherwise", "The user token's iss must be the id of its app"),
        ("iss not an app id", "The user token's iss must be the id of an app"),
        ("unknown iss", "The user token's app is unknown or revoked"),
        ("over 24 hours", "The user token lives longer than 24 hours (exp - iat)"),
        ("no exp", "The user token has no exp claim"),
        ("no iat", "The user token has no iat claim"),
        ("no sub", "The user token has no sub claim"),
        ("sub too long", "The user token's sub must be a user id of 1..200 characters"),
        ("sub not a string", "The user token's sub must be a user id of 1..200 characters"),
        ("malformed", "The user token is malformed"),
        ("garbage", "The user token is malformed"),
    ],
)
async def test_every_broken_token_is_401(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    mini: NewApp,
    offer: Any,
    case: str,
    detail: str,
) -> None:
    other = await create_app(conn, "Other app")
    now = time.time()
    makers: dict[str, Callable[[], str]] = {
        "expired": lambda: token(mini, iat=now - 7200, lifetime_s=3600),
        "future iat": lambda: token(mini, iat=now + 600),
        "future nbf": lambda: token(mini, nbf=int(now + 600)),
        "wrong signature": lambda: token(mini, secret="not-the-secret-" + "x" * 32),
        "alg none": lambda: token(mini, algorithm="none"),
        "alg HS512": lambda: token(mini, algorithm="HS512"),
        # signed by this app, claiming to be another: checked with the other's secret
        "wrong iss": lambda: token(mini, iss=str(other.row.id)),
        "iss spelt otherwise": lambda: token(mini, iss=str(mini.row.id).upper()),
        "iss not an app id": lambda: token(mini, iss="my-app"),
        "unknown iss": lambda: token(mini, iss=str(uuid.uuid4())),
        "over 24 hours": lambda: token(mini, lifetime_s=24 * 3600 + 1),
        "no exp": lambda: token(mini, drop=("exp",)),
        "no iat": lambda: token(mini, drop=("iat",)),
        "no sub": lambda: token(mini, drop=("sub",)),
        "sub too long": lambda: token(mini, "u" * 201),
        "sub not a string": lambda: token(mini, sub=42),  # type: ignore[arg-type]
        "malformed": lambda: "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
        "garbage": lambda: "a.b.c",
    }
    response = await claim(client, offer, makers[case]())
    assert response.status_code == 401, response.text
    assert response.json() == {
        "type": "/problems/unauthorized",
        "title": "Unauthorized",
        "status": 401,
        "detail": detail,
    }


async def test_a_token_of_exactly_24_hours_and_small_clock_skew_are_accepted(
    client: httpx.AsyncClient, mini: NewApp, offer: Any
) -> None:
    assert (await claim(client, offer, token(mini, lifetime_s=24 * 3600))).status_code == 201
    assert (await claim(client, offer, token(mini, iat=time.time() + 10))).status_code == 201


async def test_secrets_are_sealed_when_a_secret_key_is_set() -> None:
    box = SecretBox("an operator's secret key of 32 or more characters")
    sealed = box.seal("the signing secret")
    assert sealed.startswith("fernet:") and "the signing secret" not in sealed
    assert box.open(sealed) == "the signing secret"
    assert box.open("plain:older") == "older"  # stored before the key was set
    with pytest.raises(SealError):
        SecretBox("another operator's key of 32 or more characters").open(sealed)
    with pytest.raises(SealError):
        SecretBox(None).open(sealed)


async def test_a_sealed_apps_tokens_verify_and_revoking_forgets_its_secret(
    settings: Settings,
) -> None:
    sealed = settings.model_copy(update={"secret_key": SecretStr("k" * 40)})
    service = create_service(sealed)
    async with service.router.lifespan_context(service):
        transport = httpx.ASGITransport(app=service)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as live:
            made = (await live.post("/v1/apps", json={"name": "Sealed"}, headers=ADMIN)).json()
            now = int(time.time())
            claims = {"iss": made["id"], "sub": "u", "iat": now, "exp": now + 60}
            user = bearer(jwt.encode(claims, made["signing_secret"], algorithm="HS256"))
            try:
                mine = await live.get("/v1/users/u/claims", headers=user)
                assert mine.status_code == 200, mine.text
                assert mine.json() == {"results": [], "next_cursor": None}
            finally:
                await live.delete(f"/v1/apps/{made['id']}", headers=ADMIN)
            assert (await live.get("/v1/users/u/claims", headers=user)).status_code == 401
    conn = await asyncpg.connect(settings.database_url)
    try:
        stored = await conn.fetchval(
            "SELECT signing_secret FROM app WHERE id = $1", uuid.UUID(made["id"])
        )
        assert stored is None
    finally:
        await conn.close()


# ------------------------------------------------------------------ codes a cashier or user sees


async def test_a_code_is_shown_to_its_cashier_and_to_the_app_and_user_that_claimed_it(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    admin: dict[str, str],
    mini: NewApp,
    offer: Any,
) -> None:
    other = await create_app(conn, "Other app")
    _, rival_key = await create_owner(conn, "Rival")
    code = (await claim(client, offer, mini.app_key, user_id="u1")).json()["code"]
    for allowed in (
        bearer(offer.owner_key),
        admin,
        bearer(mini.app_key),
        bearer(token(mini, "u1")),
    ):
        response = await client.get(f"/v1/claims/{code.lower()}", headers=allowed)
        assert response.status_code == 200, response.text
        seen = ClaimView.model_validate(response.json())
        assert (seen.code, seen.offer_id, seen.user_id, seen.redeemed_at) == (
            code,
            offer.id,
            "u1",
            None,
        )
        assert seen.offer.id == offer.id and seen.offer.status == "active"
    for refused in (bearer(token(mini, "u2")), bearer(other.app_key), bearer(rival_key)):
        assert (await client.get(f"/v1/claims/{code}", headers=refused)).status_code == 403
    assert (await client.get(f"/v1/claims/{code}")).status_code == 401
    unknown = await client.get(f"/v1/claims/{'A' * 26}", headers=admin)
    assert unknown.status_code == 404
    assert (await client.get("/v1/claims/not-a-code", headers=admin)).status_code == 422
    redeemed = await client.post(f"/v1/claims/{code}/redeem", headers=bearer(offer.owner_key))
    assert redeemed.status_code == 200
    after = (await client.get(f"/v1/claims/{code}", headers=bearer(mini.app_key))).json()
    assert after["redeemed_at"] == redeemed.json()["redeemed_at"]
    again = await client.post(f"/v1/claims/{code}/redeem", headers=bearer(offer.owner_key))
    assert again.status_code == 409 and again.json()["type"] == "/problems/already-redeemed"


async def test_a_user_lists_their_codes_newest_first_with_their_offer(
    client: httpx.AsyncClient, conn: AsyncConnection, mini: NewApp, offer: Any
) -> None:
    other = await create_app(conn, "Other app")
    codes = [
        (await claim(client, offer, mini.app_key, user_id="u1")).json()["code"] for _ in range(3)
    ]
    await claim(client, offer, mini.app_key, user_id="u2")
    await claim(client, offer, other.app_key, user_id="u1")  # another app's u1: someone else
    first = await client.get("/v1/users/u1/claims?limit=2", headers=bearer(mini.app_key))
    assert first.status_code == 200, first.text
    page = UserClaimsPage.model_validate(first.json())
    assert [c.code for c in page.results] == codes[::-1][:2]
    assert page.results[0].offer.title == "Test offer"
    assert page.results[0].offer.merchant.location.lat == pytest.approx(SHOP[0])
    assert all(c.redeemed_at is None and c.user_id == "u1" for c in page.results)
    assert page.next_cursor is not None
    rest = await client.get(
        "/v1/users/u1/claims",
        params={"cursor": page.next_cursor},
        headers=bearer(token(mini, "u1")),
    )
    assert [c["code"] for c in rest.json()["results"]] == [codes[0]]
    assert rest.json()["next_cursor"] is None
    elsewhere = await client.get(
        "/v1/users/u2/claims", params={"cursor": page.next_cursor}, headers=bearer(mini.app_key)
    )
    assert elsewhere.status_code == 422
    assert (
        len(
            (await client.get("/v1/users/u1/claims", headers=bearer(other.app_key))).json()[
                "results"
            ]
        )
        == 1
    )


async def test_a_users_codes_are_for_their_app_or_their_own_token(
    client: httpx.AsyncClient, admin: dict[str, str], mini: NewApp, offer: Any
) -> None:
    assert (
        await client.get("/v1/users/u1/claims", headers=bearer(token(mini, "u2")))
    ).status_code == 403
    for wrong_kind in (admin, bearer(offer.owner_key)):
        assert (await client.get("/v1/users/u1/claims", headers=wrong_kind)).status_code == 403
    assert (await client.get("/v1/users/u1/claims")).status_code == 401
    too_long = await client.get(f"/v1/users/{'u' * 201}/claims", headers=bearer(mini.app_key))
    assert too_long.status_code == 422
