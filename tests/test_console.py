"""The web console end to end: Debian's chromium, driven by Playwright, against `nearby serve
--demo` on a database of its own (the Helsinki demo stores and offers).

Every step leaves a screenshot in test-artifacts/console/. The page is checked against the API's
own answers, asked for with the same parameters the page shows it used.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.conftest import ADMIN_KEY, create_database, database_url_for, drop_database, server_url

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "console"
HELSINKI = "#map=15/60.16830/24.94208"  # inside the Stockmann department store's fence
SHANGHAI = (31.2304, 121.4737)


class ConsoleServer:
    def __init__(self, url: str, owner_key: str, owner_id: str) -> None:
        self.url = url
        self.owner_key = owner_key
        self.owner_id = owner_id
        self.api = httpx.Client(base_url=url, timeout=30)

    def get(self, path: str, **params: Any) -> Any:
        response = self.api.get(path, params=params, headers=self.owner)
        assert response.status_code == 200, response.text
        return response.json()

    @property
    def owner(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_key}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def console() -> Iterator[ConsoleServer]:
    """`nearby serve --demo` on a fresh database, as `make run` starts it."""
    server = server_url()
    name = f"nearby_test_console_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database(server, name))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for(server, name),
        "NEARBY_ADMIN_KEY": ADMIN_KEY,
        "NEARBY_PORT": str(port),
    }
    log = (ARTIFACTS / "server.log").open("w")
    nearby = Path(sys.executable).with_name("nearby")
    process = subprocess.Popen(
        [str(nearby), "serve", "--demo"], env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    try:
        said = _read_until(process, "Nearby on http")
        key = re.search(r"demo owner key: (\S+)", said)
        owner = re.search(r"demo owner (\S+)\n", said)
        assert key and owner, said
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process)
        served = ConsoleServer(url, key.group(1), owner.group(1))
        yield served
        served.api.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()
        log.close()
        asyncio.run(drop_database(server, name))


def _read_until(process: subprocess.Popen[str], marker: str) -> str:
    assert process.stdout is not None
    said = ""
    while marker not in said:
        line = process.stdout.readline()
        if not line:
            pytest.fail(f"`nearby serve --demo` stopped:\n{said}\n(see {ARTIFACTS / 'server.log'})")
        said += line
    return said


def _wait_ready(url: str, process: subprocess.Popen[str]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}; see {ARTIFACTS}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        subprocess.run(["sleep", "0.1"], check=True)
    pytest.fail("the server did not become ready in 30 s")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = os.environ.get("NEARBY_CHROMIUM") or shutil.which("chromium")
    if not executable:
        pytest.fail("No chromium: `make test` installs Debian's (scripts/chromium).", pytrace=False)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(15_000)
    yield page
    await context.close()
    assert errors == [], f"the page threw: {errors}"


async def open_console(page: Page, console: ConsoleServer, view: str = HELSINKI) -> None:
    await page.goto(f"{console.url}/{view}")
    await page.wait_for_function("document.body.dataset.ready === 'true'")


async def shot(page: Page, name: str) -> None:
    await page.wait_for_timeout(400)  # let Leaflet finish its zoom and pan animations
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


async def click_map(page: Page, dx: float = 0, dy: float = 0) -> dict[str, float]:
    """Click the map `dx`, `dy` pixels from its centre; the position the map read off the click."""
    box = await page.locator("#map").bounding_box()
    assert box is not None
    await page.evaluate(
        "void window.nearby.map.once('click', e => {"
        " window.lastClick = {lat: e.latlng.lat, lng: e.latlng.lng}; })"
    )
    await page.mouse.click(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy)
    return dict(await page.evaluate("window.lastClick"))


async def set_view(page: Page, lat: float, lng: float, zoom: int) -> None:
    await page.wait_for_timeout(400)  # a pan or zoom animation still running would undo this
    await page.evaluate(
        "([lat, lng, zoom]) => void window.nearby.map.setView([lat, lng], zoom, {animate: false})",
        [lat, lng, zoom],
    )


async def listed(page: Page, selector: str) -> list[str]:
    return list(
        await page.locator(f"{selector} > li").evaluate_all("els => els.map(e => e.dataset.id)")
    )


async def message(page: Page, starting: str) -> str:
    """The page's message line, once it says something starting so."""
    shown = page.locator("#message").filter(has_text=re.compile("^" + re.escape(starting)))
    await shown.wait_for()
    return str(await shown.inner_text())


# ------------------------------------------------------------------------------------------ explore


async def test_a_click_lists_the_stores_and_offers_the_api_finds_there(
    page: Page, console: ConsoleServer
) -> None:
    await open_console(page, console)
    await page.locator("#viewport-note").filter(has_text="H3 cells").wait_for()
    await shot(page, "01-explore-loaded")

    await click_map(page)
    summary = page.locator("#search-summary")
    await summary.filter(has_text="within 800 m").wait_for()
    asked = await summary.evaluate("e => ({...e.dataset})")
    params = {"lat": asked["lat"], "lng": asked["lng"], "radius": 800, "limit": 50}
    first = console.get("/v1/search/nearby", **params)
    assert len(first["results"]) == 50 and first["next_cursor"]
    assert await listed(page, "#results") == [r["id"] for r in first["results"]]
    distances = await page.locator("#results > li").evaluate_all(
        "els => els.map(e => Number(e.dataset.distance))"
    )
    assert distances == [r["distance_m"] for r in first["results"]]
    # The search circle is drawn with the radius searched.
    radii = await page.evaluate(
        "window.nearby.modes.explore.searchLayer.getLayers()"
        ".filter(l => l instanceof L.Circle).map(l => l.getRadius())"
    )
    assert radii == [800]

    here = console.get("/v1/offers/here", lat=asked["lat"], lng=asked["lng"], limit=100)
    assert here["results"], "the demo has an offer round Stockmann"
    assert await listed(page, "#offers-here") == [o["id"] for o in here["results"]]

    await page.locator("#more-results").click()
    await page.wait_for_function("document.querySelectorAll('#results > li').length > 50")
    second = console.get("/v1/search/nearby", **params, cursor=first["next_cursor"])
    expected = [r["id"] for r in first["results"] + second["results"]]
    assert await listed(page, "#results") == expected
    await page.mouse.move(0, 0)
    await page.evaluate("document.getElementById('panel').scrollTop = 0")
    await shot(page, "02-explore-search")


async def test_filters_go_to_the_api_as_the_page_shows_them(
    page: Page, console: ConsoleServer
) -> None:
    await open_console(page, console)
    await page.locator("#radius").fill("1500")
    await page.locator("#category").fill("cafe, restaurant")
    await page.locator("#keyword").fill("a")
    where = await click_map(page, 40, -30)
    summary = page.locator("#search-summary")
    await summary.filter(has_text="within 1500 m").wait_for()
    asked = await summary.evaluate("e => ({...e.dataset})")
    assert float(asked["lat"]) == pytest.approx(where["lat"], abs=1e-9)
    found = console.get(
        "/v1/search/nearby",
        lat=asked["lat"],
        lng=asked["lng"],
        radius=1500,
        category=["cafe", "restaurant"],
        q="a",
        limit=50,
    )
    assert found["results"]
    assert {r["category"] for r in found["results"]} <= {"cafe", "restaurant"}
    assert await listed(page, "#results") == [r["id"] for r in found["results"]]


async def test_zoomed_out_the_map_shows_h3_cluster_hexagons(
    page: Page, console: ConsoleServer
) -> None:
    await open_console(page, console, "#map=13/60.17000/24.94000")
    note = page.locator("#viewport-note")
    await note.filter(has_text="H3 cells").wait_for()
    box = await page.evaluate(
        "(() => { const b = window.nearby.map.getBounds();"
        " return {min_lat: b.getSouth(), min_lng: b.getWest(),"
        " max_lat: b.getNorth(), max_lng: b.getEast()}; })()"
    )
    expected = console.get("/v1/search/clusters", **box)
    assert sum(c["count"] for c in expected["clusters"]) > 500  # central Helsinki, not markers
    hexagons = await page.evaluate(
        "window.nearby.modes.explore.viewport.getLayers().filter(l => l instanceof L.Polygon)"
        ".map(l => l.getLatLngs()[0].length)"
    )
    assert len(hexagons) == len(expected["clusters"]) and set(hexagons) <= {5, 6, 7, 8}
    labels = await page.locator(".cluster-label").all_inner_texts()
    assert sorted(map(int, labels)) == sorted(c["count"] for c in expected["clusters"])
    assert f"resolution {expected['resolution']}" in await note.inner_text()
    await shot(page, "03-clusters")


async def test_the_coordinate_switch_shows_the_same_stores_in_both_systems(
    page: Page, console: ConsoleServer
) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    store = {
        "name": "外滩咖啡",
        "category": "cafe",
        "location": {"lat": SHANGHAI[0], "lng": SHANGHAI[1]},
        "owner_id": console.owner_id,
    }
    created = console.api.post("/v1/merchants", json=store, headers=admin)
    assert created.status_code == 201, created.text
    store_id = created.json()["id"]
    gcj = console.get(f"/v1/merchants/{store_id}", coord="gcj02")["location"]
    try:
        await open_console(page, console, f"#map=15/{SHANGHAI[0]}/{SHANGHAI[1]}")
        await page.locator("#radius").fill("3000")
        await click_map(page)
        await page.locator("#search-summary").filter(has_text="(WGS84)").wait_for()
        assert store_id in await listed(page, "#results")
        marker = f"window.nearby.modes.explore.markers.get('{store_id}').getLatLng()"
        at = await page.evaluate(f"(() => {{ const p = {marker}; return [p.lat, p.lng]; }})()")
        assert at == pytest.approx(SHANGHAI, abs=1e-12)
        await shot(page, "04-shanghai-wgs84")

        await page.locator('input[name="coord"][value="gcj02"]').check()
        await page.locator("#search-summary").filter(has_text="(GCJ02)").wait_for()
        assert store_id in await listed(page, "#results")
        at = await page.evaluate(f"(() => {{ const p = {marker}; return [p.lat, p.lng]; }})()")
        assert at == pytest.approx((gcj["lat"], gcj["lng"]), abs=1e-12)
        assert abs(at[0] - SHANGHAI[0]) + abs(at[1] - SHANGHAI[1]) > 0.003  # moved ~500 m
        await shot(page, "05-shanghai-gcj02")

        # Outside mainland China both systems agree: Helsinki's stores stay where they are.
        await page.evaluate(
            "void window.nearby.map.setView([60.1685, 24.941], 16, {animate: false})"
        )
        await click_map(page)
        # Not just "60.16": "Searching at 60.16..." shows that before the answer is listed.
        done = re.compile(r"within \d+ m of 60\.16.*\(GCJ02\)")
        await page.locator("#search-summary").filter(has_text=done).wait_for()
        gcj_ids = await listed(page, "#results")
        asked = await page.locator("#search-summary").evaluate("e => ({...e.dataset})")
        wgs = console.get("/v1/search/nearby", lat=asked["lat"], lng=asked["lng"], radius=3000)
        assert gcj_ids[:20] == [r["id"] for r in wgs["results"]]
    finally:
        console.api.delete(f"/v1/merchants/{store_id}", headers=admin)


# ----------------------------------------------------------------------------------------- merchant


async def sign_in(page: Page, key: str) -> None:
    await page.locator("#tab-merchant").click()
    await page.locator("#owner-key").fill(key)
    await page.locator("#key-form button[type=submit]").click()


async def pick_store(page: Page, name: str) -> None:
    await page.locator("#store-filter").fill(name)
    exactly = page.locator(".name", has_text=re.compile(f"^{re.escape(name)}$"))
    await page.locator("#stores > li").filter(has=exactly).click()
    await page.locator("#store-name").filter(has_text=name).wait_for()


async def test_a_merchant_draws_a_polygon_fence_saves_it_and_sees_its_counts(
    page: Page, console: ConsoleServer
) -> None:
    await open_console(page, console)
    await sign_in(page, console.owner_key)
    await page.locator("#stores-summary").filter(has_text="stores").wait_for()
    everything = console.get("/v1/merchants", limit=100)
    assert everything["next_cursor"], "the demo owner has hundreds of stores"
    await page.wait_for_function("document.querySelectorAll('#stores > li').length === 200")
    summary = await page.locator("#stores-summary").inner_text()
    assert summary.startswith("967 stores")

    await pick_store(page, "Stockmann")
    store_id = await page.locator("#stores > li.selected").get_attribute("data-id")
    await page.locator("#offers > li").first.wait_for()
    demo = console.get(f"/v1/merchants/{store_id}/offers")["results"]
    assert await listed(page, "#offers") == [o["id"] for o in demo]

    await set_view(page, 60.1685, 24.941, 17)
    await page.locator('input[name="fence"][value="polygon"]').check()
    corners = [await click_map(page, dx, dy) for dx, dy in ((-120, -80), (140, -90), (150, 70))]
    corners.append(await click_map(page, -110, 90))
    await page.locator("#draw-hint").filter(has_text="4 corners").wait_for()
    await page.locator("#finish-polygon").click()
    await page.locator("#offer-title").fill("Polygon fence: 20% off")
    await page.locator("#offer-quantity").fill("20")
    await page.locator("#save-offer").click()
    await message(page, 'Saved "Polygon fence: 20% off" (polygon of 4 corners)')
    await page.locator("#offers > li", has_text="Polygon fence").wait_for()

    offers = console.get(f"/v1/merchants/{store_id}/offers")["results"]
    assert await listed(page, "#offers") == [o["id"] for o in offers]
    saved = next(o for o in offers if o["title"] == "Polygon fence: 20% off")
    ring = saved["geofence"]["coordinates"][0]
    assert saved["geofence"]["type"] == "Polygon" and ring[0] == ring[-1]
    drawn = [value for c in corners for value in (c["lng"], c["lat"])]
    assert [value for p in ring[:-1] for value in p] == pytest.approx(drawn, abs=1e-9)
    item = page.locator("#offers > li", has_text="Polygon fence")
    assert "claimed 0 · redeemed 0 · remaining 20" in await item.inner_text()
    await shot(page, "06-fence-polygon")

    # A customer inside the fence claims and redeems; the merchant's counts follow.
    inside = {
        "user_id": "e2e-user",
        "lat": sum(c["lat"] for c in corners) / 4,
        "lng": sum(c["lng"] for c in corners) / 4,
    }
    claim = console.api.post(f"/v1/offers/{saved['id']}/claims", json=inside)
    assert claim.status_code == 201, claim.text
    redeemed = console.api.post(f"/v1/claims/{claim.json()['code']}/redeem", headers=console.owner)
    assert redeemed.status_code == 200, redeemed.text
    await page.locator("#stores > li.selected").click()
    await item.filter(has_text="claimed 1 · redeemed 1 · remaining 19").wait_for()


async def test_a_merchant_draws_a_circle_fence(page: Page, console: ConsoleServer) -> None:
    await open_console(page, console)
    await sign_in(page, console.owner_key)
    await pick_store(page, "Forum")
    store_id = await page.locator("#stores > li.selected").get_attribute("data-id")
    await set_view(page, 60.1695, 24.938, 16)
    await page.locator('input[name="fence"][value="circle"]').check()
    centre = await click_map(page)
    edge = await click_map(page, 150, 0)
    radius = await page.evaluate(
        "([a, b]) => Math.round(window.nearby.map.distance([a.lat, a.lng], [b.lat, b.lng]))",
        [centre, edge],
    )
    assert await page.locator("#circle-radius").input_value() == str(radius)
    await page.locator("#offer-title").fill("Circle fence")
    await page.locator("#save-offer").click()
    await message(page, f'Saved "Circle fence" (circle of {radius} m')
    await page.locator("#offers > li", has_text="Circle fence").wait_for()
    offers = console.get(f"/v1/merchants/{store_id}/offers")["results"]
    saved = next(o for o in offers if o["title"] == "Circle fence")
    fence = saved["geofence"]
    assert fence["type"] == "circle" and fence["radius_m"] == radius
    assert (fence["center"]["lat"], fence["center"]["lng"]) == pytest.approx(
        (centre["lat"], centre["lng"]), abs=1e-9
    )
    assert (
        "remaining unlimited"
        in await page.locator("#offers > li", has_text="Circle fence").inner_text()
    )
    await shot(page, "07-fence-circle")


# ------------------------------------------------------------------------------------------- errors


async def test_api_errors_show_as_readable_messages(page: Page, console: ConsoleServer) -> None:
    await open_console(page, console)
    await page.locator("#radius").fill("99999")
    await click_map(page)
    text = await message(page, "Search failed: Invalid input (422)")
    assert "radius" in text
    # The map is still there: the land outlines and the view, not a blank page.
    assert await page.locator(".leaflet-land-pane canvas").count() == 1
    await shot(page, "08-error-radius")

    await sign_in(page, "not-a-key")
    await message(page, "That key was not accepted: Unauthorized (401)")

    await sign_in(page, console.owner_key)
    await page.locator("#stores-summary").filter(has_text="stores").wait_for()
    await pick_store(page, "Forum")
    await page.locator('input[name="fence"][value="polygon"]').check()
    for dx, dy in ((-100, -100), (100, 100), (100, -100), (-100, 100)):  # a bow tie
        await click_map(page, dx, dy)
    await page.locator("#finish-polygon").click()
    await page.locator("#offer-title").fill("Bow tie")
    await page.locator("#save-offer").click()
    text = await message(page, "The offer was not saved: Invalid input (422)")
    assert "intersect" in text.lower()
    await shot(page, "09-error-fence")


async def test_the_console_and_its_libraries_are_served_by_the_service(
    console: ConsoleServer,
) -> None:
    async with httpx.AsyncClient(base_url=console.url) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        for script in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
            assert (await client.get(script)).status_code == 200, script
        missing = await client.get("/console/nothing.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
