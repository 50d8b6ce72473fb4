"""The web console end to end: Debian's chromium, driven by Playwright, against `nearby serve
--demo` on a database of its own (the Helsinki demo stores and offers).

Every step leaves a screenshot in test-artifacts/console/. The page is checked against the API's
own answers, asked for with the same parameters the page shows it used.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Dialog, Locator, Page

from tests.conftest import ADMIN_KEY, create_database, database_url_for, drop_database, server_url

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "console"
HELSINKI = "#map=15/60.16830/24.94208"  # inside the Stockmann department store's fence
SHANGHAI = (31.2304, 121.4737)


class ConsoleServer:
    def __init__(self, url: str, owner_key: str, owner_id: str, app_key: str) -> None:
        self.url = url
        self.owner_key = owner_key
        self.owner_id = owner_id
        self.app_key = app_key
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
        app_key = re.search(r"demo app key: (\S+)", said)
        assert key and owner and app_key, said
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process)
        served = ConsoleServer(url, key.group(1), owner.group(1), app_key.group(1))
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


# Under the console's CSP (no 'unsafe-eval') Playwright's wait_for_function needs a function, not
# an expression: it evaluates expressions with eval inside the page.
async def open_console(page: Page, console: ConsoleServer, view: str = HELSINKI) -> None:
    await page.goto(f"{console.url}/{view}")
    await page.wait_for_function("() => document.body.dataset.ready === 'true'")


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

    asked_for: list[str] = []
    page.on("request", lambda request: asked_for.append(request.url))
    await click_map(page)
    summary = page.locator("#search-summary")
    await summary.filter(has_text="within 800 m").wait_for()
    # The list and the offers came from one request.
    searches = [url for url in asked_for if "/v1/search/nearby" in url or "/v1/offers" in url]
    assert len(searches) == 1 and "include=offers" in searches[0], searches
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

    here = console.get("/v1/offers/here", lat=asked["lat"], lng=asked["lng"])
    assert here["results"], "the demo has an offer round Stockmann"
    assert await listed(page, "#offers-here") == [o["id"] for o in here["results"]]

    await page.locator("#more-results").click()
    await page.wait_for_function("() => document.querySelectorAll('#results > li').length > 50")
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


async def test_radius_auto_shows_the_radius_the_service_settled_on(
    page: Page, console: ConsoleServer
) -> None:
    await open_console(page, console)
    await page.locator("#radius").fill("auto")
    await click_map(page)
    summary = page.locator("#search-summary")
    await summary.filter(has_text="(auto)").wait_for()
    asked = await summary.evaluate("e => ({...e.dataset})")
    found = console.get(
        "/v1/search/nearby", lat=asked["lat"], lng=asked["lng"], radius="auto", limit=50
    )
    assert found["radius_m"] in (1000, 2000, 5000, 10_000, 20_000, 50_000)
    assert f"within {found['radius_m']:g} m (auto)" in await summary.inner_text()
    assert await listed(page, "#results") == [r["id"] for r in found["results"]]
    radii = await page.evaluate(
        "window.nearby.modes.explore.searchLayer.getLayers()"
        ".filter(l => l instanceof L.Circle).map(l => l.getRadius())"
    )
    assert radii == [found["radius_m"]]


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
    # A page of them (the server pages and searches: tests/test_console_stores.py).
    await page.wait_for_function("() => document.querySelectorAll('#stores > li').length === 50")
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
    claim = console.api.post(
        f"/v1/offers/{saved['id']}/claims",
        json=inside,
        headers={"Authorization": f"Bearer {console.app_key}"},
    )
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
    await page.locator(".leaflet-land-pane canvas").wait_for()  # drawn once the outlines load
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


CONSOLE_POLICY = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "form-action": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}


def assert_guarded(response: httpx.Response, policy: dict[str, str] | None) -> None:
    """nosniff and no referrer on every response; the console's CSP, or none, as `policy`."""
    assert response.headers["x-content-type-options"] == "nosniff", response.url
    assert response.headers["referrer-policy"] == "no-referrer", response.url
    if policy is None:
        assert "content-security-policy" not in response.headers, response.url
        return
    directives = [
        d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";")
    ]
    assert dict(directives) == policy, response.url


async def test_the_console_and_its_libraries_are_served_by_the_service(
    console: ConsoleServer,
) -> None:
    modules = sorted(p.name for p in (ROOT / "app" / "web" / "console").glob("*.js"))
    async with httpx.AsyncClient(base_url=console.url) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert_guarded(page, CONSOLE_POLICY)
        assert "<script>" not in page.text and not re.search(r"\son[a-z]+=", page.text)
        files = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
        for path in files + [f"/console/{name}" for name in modules]:
            served = await client.get(path)
            assert served.status_code == 200, path
            assert_guarded(served, CONSOLE_POLICY)
        missing = await client.get("/console/nothing.js")
        api = await client.get("/v1/search/nearby", params={"lat": 60.17, "lng": 24.94})
        refused = await client.get("/v1/search/nearby", params={"lat": "<b>"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert api.status_code == 200 and refused.status_code == 422
    for response in (missing, api, refused):  # nosniff and no-referrer, not the page's policy
        assert_guarded(response, None)


# ------------------------------------------------------------------------------- hostile text

# Text in the shapes that turn into script when a page treats it as HTML. Each sets
# window.__pwned to the field it came from, should it ever run.
HOSTILE = {
    "img": "<img src=x onerror=\"window.__pwned='{field}'\">",
    "script": "\"><script>window.__pwned='{field}'</script>",
    "svg": "<svg onload=\"window.__pwned='{field}'\">",
    "link": "<a href=\"javascript:window.__pwned='{field}'\">{field}</a>",
}
REYKJAVIK = (64.1466, -21.9426)  # no demo store within kilometres


def hostile(kind: str, field: str) -> str:
    return HOSTILE[kind].format(field=field)


def hostile_store(kind: str, n: int) -> dict[str, Any]:
    """A store with hostile text in every text field the API takes."""
    comment = hostile(kind, "opening_hours").replace('"', "")  # an opening_hours comment
    return {
        "external_id": hostile(kind, "external_id"),
        "name": hostile(kind, "name"),
        "category": hostile(kind, "category"),
        "tags": [hostile(kind, "tag")],
        "address": hostile(kind, "address"),
        "phone": hostile(kind, "phone"),
        "opening_hours": f'24/7 "{comment}"',
        "attributes": {
            "note": hostile(kind, "attribute"),
            hostile(kind, "attribute_name"): "a hostile attribute name",
            "website": "javascript:window.__pwned='website'",
            "menu": "https://example.org/menu",
        },
        "location": {"lat": REYKJAVIK[0] + 0.0002 * (n + 1), "lng": REYKJAVIK[1]},
    }


def hostile_offer(kind: str) -> dict[str, Any]:
    return {"title": hostile(kind, "title"), "description": hostile(kind, "description")}


def details_of(store: dict[str, Any]) -> list[list[str]]:
    """The store's details as the console lists them (app/web/console/store.js), in order."""
    rows = [
        ("Category", store["category"]),
        ("Tags", ", ".join(store["tags"])),
        ("Address", store["address"]),
        ("Phone", store["phone"]),
        ("Opening hours", store["opening_hours"]),
        ("Time zone", store["timezone"]),
        ("Store number", store["external_id"]),
        *store["attributes"].items(),
    ]
    return [[term, value] for term, value in rows if value]


@pytest.fixture(scope="module")
def hostile_owner(console: ConsoleServer) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An owner whose stores and offers are named with hostile text: its key and its stores."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    made = console.api.post("/v1/owners", json={"name": hostile("img", "owner")}, headers=admin)
    assert made.status_code == 201, made.text
    key = made.json()["api_key"]
    owner = {"Authorization": f"Bearer {key}"}
    stores = []
    try:
        for n, kind in enumerate(HOSTILE):
            store = console.api.post("/v1/merchants", json=hostile_store(kind, n), headers=owner)
            assert store.status_code == 201, store.text
            stores.append(store.json())
            offer = console.api.post(
                f"/v1/merchants/{store.json()['id']}/offers",
                json=hostile_offer(kind),
                headers=owner,
            )
            assert offer.status_code == 201, offer.text
        yield key, stores
    finally:
        for store in stores:
            console.api.delete(f"/v1/merchants/{store['id']}", headers=owner)


PAGE_STATE = """() => ({
    pwned: window.__pwned ?? null,
    handlers: [...document.querySelectorAll("*")]
        .filter((e) => [...e.attributes].some((a) => a.name.toLowerCase().startsWith("on")))
        .map((e) => e.outerHTML.slice(0, 120)),
    scripts: [...document.scripts].map((s) => s.getAttribute("src")),
    links: [...document.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")),
    injected: document.querySelectorAll('img, iframe, object, embed, #panel svg').length,
})"""

# What each tooltip of a layer group will show: [given to Leaflet as an element?, its text].
TOOLTIPS = """([mode, group]) => window.nearby.modes[mode][group].getLayers()
    .filter((layer) => layer.getTooltip())
    .map((layer) => layer.getTooltip().getContent())
    .map((content) => [content instanceof Element, content.textContent ?? content])"""

MARKER_POINTS = """([mode, group]) => window.nearby.modes[mode][group].getLayers()
    .map((layer) => window.nearby.map.latLngToContainerPoint(layer.getLatLng()))
    .map((point) => [point.x, point.y])"""


async def tooltips(page: Page, mode: str, group: str) -> list[str]:
    """The tooltips of a group's layers, each given to Leaflet as an element (never a string,
    which Leaflet would parse as HTML)."""
    contents = await page.evaluate(TOOLTIPS, [mode, group])
    assert all(element for element, _ in contents), contents
    return sorted(text for _, text in contents)


async def hovered_tooltips(page: Page, mode: str, group: str) -> list[str]:
    """The tooltips a mouse pointed at each marker of a group sees on the map."""
    await page.wait_for_timeout(400)  # the markers stand still once Leaflet's animations end
    box = await page.locator("#map").bounding_box()
    assert box is not None
    seen = []
    for x, y in await page.evaluate(MARKER_POINTS, [mode, group]):
        await page.mouse.move(box["x"] + x, box["y"] + y)
        seen.append(str(await page.locator(".leaflet-tooltip").text_content()))
        await page.mouse.move(0, 0)
        await page.locator(".leaflet-tooltip").wait_for(state="detached")
    return sorted(seen)


async def texts(page: Page, selector: str) -> list[str]:
    return list(await page.locator(selector).evaluate_all("els => els.map(e => e.textContent)"))


async def details_shown(page: Page, where: str | Locator) -> list[list[str]]:
    locator = page.locator(where) if isinstance(where, str) else where
    return list(
        await locator.evaluate(
            "dl => [...dl.querySelectorAll('dt')].map(dt => [dt.textContent,"
            " dt.nextElementSibling.textContent])"
        )
    )


@pytest.mark.parametrize(
    "page", [{}, {"bypass_csp": True}], indirect=True, ids=["with-csp", "without-csp"]
)
async def test_hostile_text_shows_as_text_in_every_view(
    page: Page, console: ConsoleServer, hostile_owner: tuple[str, list[dict[str, Any]]]
) -> None:
    """Store and offer text shaped like HTML shows literally wherever the console shows it, and
    runs nothing: under the Content-Security-Policy, and without it (the page alone is safe)."""
    key, stores = hostile_owner
    owner = {"Authorization": f"Bearer {key}"}
    names = [store["name"] for store in stores]
    titles = [hostile_offer(kind)["title"] for kind in HOSTILE]
    dialogs: list[str] = []
    requests: list[str] = []

    async def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", refuse)
    page.on("request", lambda request: requests.append(request.url))

    # The stores in view (zoomed in), their tooltips.
    await open_console(page, console, f"#map=18/{REYKJAVIK[0]}/{REYKJAVIK[1]}")
    await page.locator("#viewport-note").filter(has_text="4 stores in view").wait_for()
    in_view = sorted(f"{s['name']} ({s['category']})" for s in stores)
    assert await tooltips(page, "explore", "viewport") == in_view
    assert await hovered_tooltips(page, "explore", "viewport") == in_view

    # A search there: the result list, its markers' tooltips, the offers here and their fences.
    await click_map(page)
    await page.locator("#search-summary").filter(has_text="4 stores within 800 m").wait_for()
    assert await texts(page, "#results .name") == names
    assert await texts(page, "#results .meta") == [
        f"{s['category']} · {s['address']}" for s in stores
    ]
    found = await tooltips(page, "explore", "searchLayer")
    found.remove("search point")
    assert sorted(tip.rpartition(" · ")[0] for tip in found) == sorted(names)
    asked = await page.locator("#search-summary").evaluate("e => ({...e.dataset})")
    here = console.get("/v1/offers/here", lat=asked["lat"], lng=asked["lng"], limit=100)["results"]
    assert set(titles) <= {offer["title"] for offer in here}  # and those the merchant adds below
    await page.locator("#offers-here > li").nth(len(here) - 1).wait_for()
    assert await texts(page, "#offers-here .name") == [offer["title"] for offer in here]
    assert await texts(page, "#offers-here .description") == [o["description"] for o in here]
    assert await texts(page, "#offers-here .meta:not(.description):not(.counts)") == [
        f"at {offer['merchant']['name']}" for offer in here
    ]
    fences = await tooltips(page, "explore", "offerLayer")
    assert fences == sorted(f"{o['title']} · {o['merchant']['name']}" for o in here)
    await shot(page, "10-hostile-explore")

    # Each store's popup, from the result list: every field, a link only to the web address.
    for store in stores:
        await page.locator("#results > li", has=page.get_by_text(store["name"], exact=True)).click()
        # The card of this store (the one before may still be fading out).
        card = page.locator(".store-card").filter(has=page.get_by_text(store["name"], exact=True))
        assert await card.locator(".name").text_content() == store["name"]
        assert await details_shown(page, card.locator("dl")) == details_of(store)
        links = await card.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        assert links == ["https://example.org/menu"]  # not the phone (no digits), not javascript:
    await shot(page, "11-hostile-popup")

    # A hostile key is refused in words.
    await sign_in(page, hostile("img", "key"))
    await message(page, "That key was not accepted: Unauthorized (401)")

    # The merchant panel: the owner's stores, their markers, details and offers.
    await sign_in(page, key)
    await page.locator("#stores-summary").filter(has_text="4 stores").wait_for()
    assert sorted(await texts(page, "#stores .name")) == sorted(names)
    assert await tooltips(page, "merchant", "storeLayer") == sorted(names)
    assert await hovered_tooltips(page, "merchant", "storeLayer") == sorted(names)
    for kind, store in zip(HOSTILE, stores, strict=True):
        await page.locator("#stores > li", has=page.get_by_text(store["name"], exact=True)).click()
        await page.locator("#store-name").filter(has_text=store["name"]).wait_for()
        assert await page.locator("#store-name").text_content() == store["name"]
        assert await details_shown(page, "#store-details dl") == details_of(store)
        offers = console.api.get(f"/v1/merchants/{store['id']}/offers", headers=owner).json()
        assert hostile_offer(kind)["title"] in [offer["title"] for offer in offers["results"]]
        # This store's offers, not the last store's still on the page while these load.
        last = offers["results"][-1]["id"]
        await page.locator(f'#offers > li[data-id="{last}"]').wait_for()
        assert await texts(page, "#offers .name") == [o["title"] for o in offers["results"]]
        assert await texts(page, "#offers .description") == [
            o["description"] for o in offers["results"]
        ]

    # A new offer with a hostile title: the confirmation echoes it, the list shows it.
    title, description = hostile("svg", "new title"), hostile("script", "new description")
    await page.locator("#offer-title").fill(title)
    await page.locator("#offer-description").fill(description)
    await page.locator("#save-offer").click()
    said = await message(page, f'Saved "{title}" (500 m round the store).')
    assert said == f'Saved "{title}" (500 m round the store).'
    offers = console.api.get(f"/v1/merchants/{stores[-1]['id']}/offers", headers=owner).json()
    saved = next(offer for offer in offers["results"] if offer["title"] == title)
    assert saved["description"] == description
    await page.locator(f'#offers > li[data-id="{saved["id"]}"]').wait_for()
    assert await texts(page, "#offers .name") == [o["title"] for o in offers["results"]]
    assert await texts(page, "#offers .description") == [
        o["description"] for o in offers["results"]
    ]
    await shot(page, "12-hostile-merchant")
    console.api.delete(f"/v1/offers/{saved['id']}", headers=owner)

    state = await page.evaluate(PAGE_STATE)
    assert state["pwned"] is None
    assert state["handlers"] == [] and state["injected"] == 0
    assert state["scripts"] == [
        "/vendor/leaflet/leaflet.js",
        "/vendor/topojson-client/topojson-client.min.js",
        "/vendor/uplot/uPlot.iife.min.js",
        "/vendor/h3-js/h3-js.umd.js",
        "/console/main.js",
    ]
    # Links: web addresses from attributes, the console's own cashier page, and the service's
    # own QR code of each offer.
    own = r"^/v1/offers/[0-9a-f-]{36}/qr\.svg$"
    assert not [
        link for link in state["links"] if not re.match(rf"^(https://|#|/cashier$)|{own}", link)
    ]
    assert dialogs == []
    assert not [url for url in requests if httpx.URL(url).path.endswith("/x")]
