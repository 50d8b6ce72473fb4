"""Ending an offer now (PATCH ends_at to this moment, what the console's "End now" does): no new
claims, and every code already claimed stays redeemable, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.factories import bearer, create_app, owner_with_headers

STORE = {"name": "End now", "category": "tea", "location": {"lat": 31.2304, "lng": 121.4737}}


async def test_an_offer_ended_now_takes_no_claims_but_its_codes_still_redeem(
    client: httpx.AsyncClient, conn: AsyncConnection
) -> None:
    _, owner = await owner_with_headers(conn, "Ender")
    app = bearer((await create_app(conn)).app_key)
    store = (await client.post("/v1/merchants", json=STORE, headers=owner)).json()
    offer = (
        await client.post(
            f"/v1/merchants/{store['id']}/offers",
            json={"title": "Two for one", "quantity": 10},
            headers=owner,
        )
    ).json()
    at_store = {"lat": 31.2304, "lng": 121.4737}
    codes = []
    for user in ("a", "b"):
        claim = await client.post(
            f"/v1/offers/{offer['id']}/claims", json={"user_id": user, **at_store}, headers=app
        )
        assert claim.status_code == 201, claim.text
        codes.append(claim.json()["code"])
    redeemed_before = await client.post(f"/v1/claims/{codes[0]}/redeem", headers=owner)
    assert redeemed_before.status_code == 200

    now = datetime.now(UTC)
    ended = await client.patch(
        f"/v1/offers/{offer['id']}", json={"ends_at": now.isoformat()}, headers=owner
    )
    assert ended.status_code == 200, ended.text
    body = ended.json()
    assert body["status"] == "ended" and body["claimed"] == 2 and body["redeemed"] == 1
    assert abs(datetime.fromisoformat(body["ends_at"]) - now) < timedelta(seconds=1)

    late = await client.post(
        f"/v1/offers/{offer['id']}/claims", json={"user_id": "c", **at_store}, headers=app
    )
    assert late.status_code == 409 and late.json()["type"].endswith("/problems/not-active")
    # The code claimed before the end: looked up and redeemed after it, once.
    looked_up = await client.get(f"/v1/claims/{codes[1]}", headers=owner)
    assert looked_up.status_code == 200 and looked_up.json()["redeemed_at"] is None
    assert (await client.post(f"/v1/claims/{codes[1]}/redeem", headers=owner)).status_code == 200
    again = await client.post(f"/v1/claims/{codes[1]}/redeem", headers=owner)
    assert again.status_code == 409
    assert (await client.post(f"/v1/claims/{codes[0]}/redeem", headers=owner)).status_code == 409
    counts = (await client.get(f"/v1/offers/{offer['id']}", headers=owner)).json()
    assert (counts["claimed"], counts["redeemed"]) == (2, 2)
