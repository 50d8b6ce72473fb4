"""QR codes and the pages they open, end to end: `nearby serve` on a database of its own, its
QR codes rendered by Debian's chromium (Playwright) and read back by OpenCV's QR decoder, the
decoded link followed in the browser to the console's page of the store or the offer.

Store names and offer titles here are XSS payloads: the pages must show them as text.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import cv2
import httpx
import numpy as np
import pytest
from playwright.async_api import Page

from tests.browser import PageMaker
from tests.conftest import (
    ADMIN_KEY,
    own_database,
)
from tests.service import created, free_port, nearby_serve

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "deeplinks"
PORTS = range(27300, 27400)
XSS_STORE = '<img src=x onerror="window.pwned=1">Café & "Tea"'
XSS_OFFER = "<script>window.pwned=2</script>Half price <b>today</b>"
SHOP = {"lat": 60.16830, "lng": 24.94208}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def served() -> Iterator[SimpleNamespace]:
    """`nearby serve` with NEARBY_PUBLIC_URL (trailing slash and all), a store and an offer
    named with XSS payloads, another offer, and shares of both."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port(PORTS)
    url = f"http://127.0.0.1:{port}"
    env = {"NEARBY_ADMIN_KEY": ADMIN_KEY, "NEARBY_PUBLIC_URL": f"{url}/"}
    with (
        own_database("nearby_test_deeplinks") as database_url,
        nearby_serve(database_url=database_url, port=port, log=ARTIFACTS / "server.log", env=env),
        httpx.Client(base_url=url, timeout=30) as api,
    ):
        yield _fill(api, url)


def _fill(api: httpx.Client, url: str) -> SimpleNamespace:
    admin = bearer(ADMIN_KEY)
    owner = bearer(
        created(api.post("/v1/owners", json={"name": "Links"}, headers=admin))["api_key"]
    )
    store = created(
        api.post(
            "/v1/merchants",
            headers=owner,
            json={
                "name": XSS_STORE,
                "category": "cafe",
                "address": "<i>Aleksanterinkatu 52</i>",
                "location": SHOP,
                "timezone": "Europe/Helsinki",
            },
        )
    )
    fence = {"type": "circle", "center": SHOP, "radius_m": 300}
    offer = created(
        api.post(
            f"/v1/merchants/{store['id']}/offers",
            headers=owner,
            json={"title": XSS_OFFER, "description": "<u>10:00-12:00</u>", "geofence": fence},
        )
    )
    other = created(
        api.post(
            f"/v1/merchants/{store['id']}/offers", headers=owner, json={"title": "Other offer"}
        )
    )
    app = bearer(
        created(api.post("/v1/apps", json={"name": "Links app"}, headers=admin))["app_key"]
    )
    share = created(
        api.post(f"/v1/offers/{offer['id']}/shares", json={"user_id": "u1"}, headers=app)
    )
    foreign = created(
        api.post(f"/v1/offers/{other['id']}/shares", json={"user_id": "u1"}, headers=app)
    )
    return SimpleNamespace(
        url=url,
        api=api,
        store=store["id"],
        offer=offer["id"],
        share=share["code"],
        foreign_share=foreign["code"],
    )


@pytest.fixture
async def page(new_page: PageMaker) -> Page:
    """A fresh page (tests/browser.py), smaller than the console's default."""
    return await new_page(viewport={"width": 1200, "height": 800})


async def decode_svg(page: Page, svg: bytes) -> str:
    """The text of the QR code in `svg`, as chromium draws it (10 px a module, like a phone's
    camera close to a print) and OpenCV reads it (its ArUco-based detector: the classic one
    missed 12 of 200 perfect images of share links)."""
    found = re.search(rb'viewBox="0 0 (\d+) (\d+)"', svg)
    assert found is not None, "the SVG scales (a viewBox)"
    width = int(found.group(1)) * 10
    data = base64.b64encode(svg).decode()
    await page.set_content(
        f'<body style="margin:0;background:#fff"><img id="qr" style="width:{width}px"'
        f' src="data:image/svg+xml;base64,{data}"></body>'
    )
    await page.wait_for_function("() => document.getElementById('qr').complete")
    png = await page.locator("#qr").screenshot()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None, "chromium's screenshot is a PNG"
    text, _points, _ = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    return str(text)


async def open_link(page: Page, link: str) -> None:
    await page.goto(link)
    await page.wait_for_function("() => document.body.dataset.ready === 'true'")


async def shot(page: Page, name: str) -> None:
    await page.wait_for_timeout(400)  # Leaflet's animations
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def test_a_stores_qr_code_opens_its_page(page: Page, served: SimpleNamespace) -> None:
    response = served.api.get(f"/v1/merchants/{served.store}/qr.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert b'width="' in response.content and b'mm"' in response.content  # prints at its size
    link = await decode_svg(page, response.content)
    assert link == f"{served.url}/m/{served.store}"
    await open_link(page, link)
    name = page.locator("#deeplink-name")
    assert await name.text_content() == XSS_STORE
    assert "<i>Aleksanterinkatu 52</i>" in str(await page.locator("#deeplink-card").text_content())
    assert await page.locator("#deeplink-card img, #deeplink-card i").count() == 0
    assert await page.evaluate("window.pwned") is None
    centre = await page.evaluate("window.nearby.map.getCenter()")
    assert abs(centre["lat"] - SHOP["lat"]) < 1e-3 and abs(centre["lng"] - SHOP["lng"]) < 1e-3
    await shot(page, "store")


async def test_an_offers_qr_code_carries_its_share(page: Page, served: SimpleNamespace) -> None:
    response = served.api.get(f"/v1/offers/{served.offer}/qr.svg", params={"share": served.share})
    assert response.status_code == 200
    link = await decode_svg(page, response.content)
    assert link == f"{served.url}/o/{served.offer}?s={served.share}"
    await open_link(page, link)
    assert await page.locator("#deeplink-name").text_content() == XSS_OFFER
    assert await page.locator("#deeplink-description").text_content() == "<u>10:00-12:00</u>"
    assert XSS_STORE in str(await page.locator("#deeplink-card").text_content())
    assert (
        await page.locator("#deeplink-card script, #deeplink-card b, #deeplink-card u").count() == 0
    )
    assert await page.evaluate("window.pwned") is None
    assert await page.evaluate("window.nearby.share") == served.share
    assert await page.locator("#deeplink-share").get_attribute("data-share") == served.share
    await shot(page, "offer")

    plain = served.api.get(f"/v1/offers/{served.offer}/qr.svg")
    assert await decode_svg(page, plain.content) == f"{served.url}/o/{served.offer}"


async def test_qr_codes_of_nothing_are_refused(served: SimpleNamespace) -> None:
    missing = uuid.uuid4()
    assert served.api.get(f"/v1/merchants/{missing}/qr.svg").status_code == 404
    assert served.api.get(f"/v1/offers/{missing}/qr.svg").status_code == 404
    foreign = served.api.get(
        f"/v1/offers/{served.offer}/qr.svg", params={"share": served.foreign_share}
    )
    assert foreign.status_code == 422
    assert foreign.headers["content-type"] == "application/problem+json"
    bad = served.api.get(f"/v1/offers/{served.offer}/qr.svg", params={"share": "a b"})
    assert bad.status_code == 422


async def test_a_link_to_nothing_says_so(page: Page, served: SimpleNamespace) -> None:
    missing = uuid.uuid4()
    await open_link(page, f"{served.url}/m/{missing}")
    status = page.locator("#deeplink-status")
    assert await status.text_content() == f"There is no store {missing}: it may have been removed."
    await open_link(page, f"{served.url}/o/{missing}?s={served.share}")
    assert await status.text_content() == f"There is no offer {missing}: it may have been removed."
    await open_link(page, f"{served.url}/o/not-an-id")
    assert "does not name an offer" in str(await status.text_content())
    await shot(page, "nothing")


async def test_a_share_of_another_offer_is_not_carried(page: Page, served: SimpleNamespace) -> None:
    for code in (served.foreign_share, "A" * 22, "<b>x</b>"):
        await open_link(page, f"{served.url}/o/{served.offer}?s={code}")
        line = page.locator("#deeplink-share")
        assert "would not be attributed" in str(await line.text_content())
        assert await page.evaluate("window.nearby.share") is None
