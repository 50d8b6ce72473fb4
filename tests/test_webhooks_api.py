"""Webhooks over HTTP: the secret shown once, listing and deleting, who may see what, and the
URLs refused (private, loopback, link-local, names resolving to them, malformed)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import webhooks
from tests.factories import create_owner

HOOK = {"url": "https://93.184.215.14/nearby-hook", "events": ["offer.claimed"]}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def owner(conn: AsyncConnection) -> tuple[uuid.UUID, dict[str, str]]:
    row, key = await create_owner(conn, "Webhook owner")
    return row.id, bearer(key)


async def test_the_secret_is_shown_once_and_the_hook_listed_and_deleted(
    client: httpx.AsyncClient,
    conn: AsyncConnection,
    owner: tuple[uuid.UUID, dict[str, str]],
    admin: dict[str, str],
) -> None:
    made = await client.post("/v1/webhooks", json=HOOK, headers=owner[1])
    assert made.status_code == 201, made.text
    body = made.json()
    assert set(body) == {"id", "owner_id", "url", "events", "secret", "created_at"}
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    # Stored through the secret box: marked plain here, where no NEARBY_SECRET_KEY is set
    # (sealed with one: tests/test_delivery_queue.py).
    stored = (
        await conn.execute(text("SELECT secret FROM webhook WHERE id = :id"), {"id": body["id"]})
    ).scalar_one()
    assert stored == "plain:" + body["secret"]
    assert (body["url"], body["events"], body["owner_id"]) == (
        HOOK["url"],
        HOOK["events"],
        str(owner[0]),
    )
    listed = (await client.get("/v1/webhooks", headers=owner[1])).json()["results"]
    assert [h["id"] for h in listed] == [body["id"]] and "secret" not in listed[0]
    as_admin = await client.get(f"/v1/webhooks?owner_id={owner[0]}", headers=admin)
    assert [h["id"] for h in as_admin.json()["results"]] == [body["id"]]
    assert (await client.get("/v1/webhooks", headers=admin)).status_code == 422
    assert (await client.delete(f"/v1/webhooks/{body['id']}", headers=owner[1])).status_code == 204
    assert (await client.delete(f"/v1/webhooks/{body['id']}", headers=owner[1])).status_code == 404
    assert (await client.get("/v1/webhooks", headers=owner[1])).json()["results"] == []


async def test_another_owner_can_neither_see_nor_delete_a_hook(
    client: httpx.AsyncClient, conn: AsyncConnection, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    made = (await client.post("/v1/webhooks", json=HOOK, headers=owner[1])).json()
    _, other_key = await create_owner(conn, "Other")
    assert (await client.get("/v1/webhooks", headers=bearer(other_key))).json()["results"] == []
    gone = await client.delete(f"/v1/webhooks/{made['id']}", headers=bearer(other_key))
    assert gone.status_code == 403
    assert gone.json()["type"] == "/problems/forbidden"
    assert (await client.get("/v1/webhooks")).status_code == 401
    assert (await client.post("/v1/webhooks", json=HOOK)).status_code == 401


async def test_an_owner_has_at_most_twenty_hooks(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    for n in range(webhooks.MAX_PER_OWNER):
        hook = HOOK | {"url": f"https://93.184.215.14/{n}"}
        assert (await client.post("/v1/webhooks", json=hook, headers=owner[1])).status_code == 201
    over = await client.post("/v1/webhooks", json=HOOK, headers=owner[1])
    assert over.status_code == 409 and "at most 20" in over.json()["detail"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1"),
        ("http://10.1.2.3/hook", "10.1.2.3"),
        ("http://192.168.0.10/hook", "192.168.0.10"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://[::1]/hook", "::1"),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff:7f00:1 is a private"),
        ("http://[fe80::1]/hook", "fe80::1"),
        ("http://localhost:8080/hook", "resolves to"),
        ("http://2130706433/hook", "resolves to 127.0.0.1,"),
        ("http://0.0.0.0/hook", "0.0.0.0"),
        ("ftp://93.184.215.14/hook", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("https:///nohost", "must name a host"),
        ("https://user:pw@93.184.215.14/hook", "credentials"),
        ("https://93.184.215.14/hook#frag", "fragment"),
        ("https://93.184.215.14:99999/hook", "not a valid URL"),
        ("https://93.184.215.14/a b", "spaces"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
async def test_urls_that_may_not_be_reached_are_refused(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]], url: str, why: str
) -> None:
    refused = await client.post("/v1/webhooks", json=HOOK | {"url": url}, headers=owner[1])
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["type"] == "/problems/invalid-input"
    assert body["errors"][0]["loc"] == ["body", "url"] and why in body["errors"][0]["msg"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://93.184.215.14/h", "events": []},
        {"url": "https://93.184.215.14/h", "events": ["offer.stolen"]},
        {"url": "https://93.184.215.14/h"},
        {"url": "https://93.184.215.14/" + "a" * 2048, "events": ["offer.claimed"]},
        {"url": "https://93.184.215.14/h", "events": ["offer.claimed"], "extra": 1},
    ],
)
async def test_bad_bodies_are_422(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]], body: dict[str, Any]
) -> None:
    assert (await client.post("/v1/webhooks", json=body, headers=owner[1])).status_code == 422


async def test_private_targets_are_allowed_when_the_operator_says_so(
    app: FastAPI, client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"webhook_allow_private": True})
    hook = HOOK | {"url": "http://localhost:26499/hook"}
    assert (await client.post("/v1/webhooks", json=hook, headers=owner[1])).status_code == 201


async def test_deliveries_of_an_unknown_hook_are_404_and_bad_filters_422(
    client: httpx.AsyncClient, owner: tuple[uuid.UUID, dict[str, str]]
) -> None:
    missing = await client.get(f"/v1/webhooks/{uuid.uuid4()}/deliveries", headers=owner[1])
    assert missing.status_code == 404
    made = (await client.post("/v1/webhooks", json=HOOK, headers=owner[1])).json()
    bad = await client.get(f"/v1/webhooks/{made['id']}/deliveries?status=lost", headers=owner[1])
    assert bad.status_code == 422
    cursor = await client.get(
        f"/v1/webhooks/{made['id']}/deliveries?cursor=nonsense", headers=owner[1]
    )
    assert cursor.status_code == 422


def test_the_address_rule() -> None:
    public = ["93.184.215.14", "2606:4700:4700::1111", "8.8.8.8"]
    private = [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::ffff:10.0.0.1",
    ]
    assert all(webhooks.is_public(a) for a in public)
    assert not any(webhooks.is_public(a) for a in private)


def test_a_signature_is_hmac_sha256_of_the_time_and_the_body() -> None:
    assert webhooks.sign("whsec_x", b'{"a":1}', 1700000000) == (
        "t=1700000000,v1=b3438763ab46d9634b9844c8722818eaf523f803db1327484c6067462a5fd6d1"
    )
