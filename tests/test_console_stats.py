"""The console's statistics view end to end: Debian's chromium, driven by Playwright, against
`nearby serve` on a database of its own, with claims, redemptions and shares made through the
API. The chart's numbers (its own data and the table beside it), the totals and the heat map's
cells must be the API's, asked for with the range the page used; the CSV export downloads.

A screenshot of the view goes to test-artifacts/console/ (docs/screenshots/console-stats.png is
one of them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import Page

from tests.conftest import (
    ADMIN_KEY,
    own_database,
)
from tests.service import created, free_port, nearby_serve
from tests.test_console import ARTIFACTS, open_console, shot, sign_in

PORTS = range(27400, 27500)  # this module's own range
STORE = (31.2304, 121.4737)
# Claim points: a crowded place (6 people), a busy one (5) and a quiet one (2, never shown).
PLACES = [((31.2308, 121.4737), 6), ((31.2290, 121.4750), 5), ((31.2318, 121.4722), 2)]


@dataclass
class Service:
    url: str
    owner_key: str
    store_id: str = ""
    offer_id: str = ""
    api: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.api = httpx.Client(base_url=self.url, timeout=30)

    @property
    def owner(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_key}"}

    def get(self, path: str, **params: Any) -> Any:
        response = self.api.get(path, params=params, headers=self.owner)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def console() -> Iterator[Service]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port(PORTS)
    with (
        own_database("nearby_test_console_stats") as database_url,
        nearby_serve(
            database_url=database_url,
            port=port,
            log=ARTIFACTS / "stats-server.log",
            env={"NEARBY_ADMIN_KEY": ADMIN_KEY},
        ),
    ):
        url = f"http://127.0.0.1:{port}"
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=url, timeout=30) as client:
            owner = created(client.post("/v1/owners", json={"name": "Tea chain"}, headers=admin))
            app = created(client.post("/v1/apps", json={"name": "Mini program"}, headers=admin))
        service = Service(url, owner["api_key"])
        _traffic(service, {"Authorization": f"Bearer {app['app_key']}"})
        yield service
        service.api.close()


def _traffic(service: Service, app: dict[str, str]) -> None:
    """A store and an offer; claims at three places, some through a share; some redeemed."""
    api, owner = service.api, service.owner
    store = created(api.post("/v1/merchants", headers=owner, json={
        "external_id": "T-1", "name": "Tea House <b>People's Square</b>", "category": "tea",
        "location": {"lat": STORE[0], "lng": STORE[1]}, "timezone": "Asia/Shanghai",
    }))  # fmt: skip
    offer = created(api.post(f"/v1/merchants/{store['id']}/offers", headers=owner, json={
        "title": "Second cup free", "per_user_limit": None,
        "geofence": {"type": "circle", "center": {"lat": STORE[0], "lng": STORE[1]},
                     "radius_m": 400},
    }))  # fmt: skip
    service.store_id, service.offer_id = store["id"], offer["id"]
    share = created(api.post(f"/v1/offers/{offer['id']}/shares", headers=app,
                         json={"user_id": "=sharer"}))["code"]  # fmt: skip
    codes = []
    for n, ((lat, lng), people) in enumerate(PLACES):
        for person in range(people):
            body = {"user_id": f"user-{n}-{person}", "lat": lat, "lng": lng}
            if person < 3:
                body["share"] = share
            codes.append(
                created(api.post(f"/v1/offers/{offer['id']}/claims", headers=app, json=body))
            )
    for claimed in codes[::3]:
        created(api.post(f"/v1/claims/{claimed['code']}/redeem", headers=owner))


async def open_stats(tab: Page, console: Service, button: str) -> dict[str, Any]:
    """Open the merchant view, then the statistics behind `button`; what the page got."""
    await open_console(tab, console)  # type: ignore[arg-type]
    await sign_in(tab, console.owner_key)
    await tab.locator("#stores > li").first.click()
    await tab.locator("#offers > li").first.wait_for()
    await tab.locator(button).first.click()
    await tab.locator("#stats-table tbody tr").first.wait_for(state="attached")
    await tab.wait_for_function("() => window.nearby.modes.merchant.stats.last !== null")
    return dict(await tab.evaluate("window.nearby.modes.merchant.stats.last"))


async def test_the_offer_view_shows_the_apis_numbers_chart_and_heat_map(
    page: Page,
    console: Service,
) -> None:
    shown = await open_stats(page, console, "#offers > li button.statistics")
    api = console.get(
        f"/v1/offers/{console.offer_id}/stats", **{"from": shown["from"], "bucket": "day"}
    )
    assert {k: api[k] for k in ("from", "to", "totals", "series", "cells")} == {
        k: shown[k] for k in ("from", "to", "totals", "series", "cells")
    }
    assert api["totals"]["claims"] == 13 and len(api["cells"]) == 2

    # The chart's own data, and the table beside it, are the API's series.
    chart = await page.evaluate("window.nearby.modes.merchant.stats.chart.data")
    series = api["series"]
    assert chart[1] == [p["claims"] for p in series]
    assert chart[2] == [p["redemptions"] for p in series]
    assert chart[0] == [datetime.fromisoformat(p["t"]).timestamp() for p in series]
    rows = await page.locator("#stats-table tbody tr").evaluate_all(
        "rows => rows.map(r =>"
        " [r.dataset.t, ...[...r.cells].slice(1).map(c => Number(c.textContent))])"
    )
    assert rows == [[p["t"], p["claims"], p["redemptions"]] for p in series]
    assert await page.locator("#stats-chart canvas").count() == 1

    totals = api["totals"]
    for name in ("claims", "redemptions", "users", "shares"):
        text = await page.locator(f'#stats-totals dd[data-total="{name}"]').inner_text()
        assert int(text) == totals[name]
    rate = await page.locator('#stats-totals dd[data-total="redemption rate"]').inner_text()
    assert rate == f"{totals['redemption_rate'] * 100:.1f}%"

    # One heat-map outline per shown cell; the quiet place is not on the map.
    assert await page.locator("path.heat-cell").count() == len(api["cells"])
    assert (
        "2 claims in places of fewer than 5 people"
        in await page.locator("#stats-cells").inner_text()
    )

    # The sharer, shown as text (the name starts with "=").
    sharer = page.locator("#stats-sharers > li").first
    assert await sharer.get_attribute("data-user") == "=sharer"
    assert "chain 8 claims" in await sharer.inner_text()
    await shot(page, "20-statistics-offer")

    # By the hour: the page asks again, and still shows what the API says.
    await page.locator("#stats-range").select_option("7")
    await page.locator("#stats-bucket").select_option("hour")
    await page.wait_for_function("() => window.nearby.modes.merchant.stats.last?.bucket === 'hour'")
    hourly = dict(await page.evaluate("window.nearby.modes.merchant.stats.last"))
    again = console.get(
        f"/v1/offers/{console.offer_id}/stats", **{"from": hourly["from"], "bucket": "hour"}
    )
    assert again["series"] == hourly["series"] and len(hourly["series"]) >= 7 * 24
    assert await page.locator("#stats-table tbody tr").count() == len(again["series"])

    # The CSV export downloads every claim.
    async with page.expect_download() as download_info:
        await page.locator("#stats-csv").click()
    download = await download_info.value
    path = await download.path()
    exported = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert len(exported) == 13
    assert {r["user_id"] for r in exported} >= {"user-0-0", "user-2-1"}


async def test_the_store_view_sums_the_stores_offers(
    page: Page,
    console: Service,
) -> None:
    shown = await open_stats(page, console, "#store-stats")
    api = console.get(f"/v1/merchants/{console.store_id}/stats", **{"from": shown["from"]})
    assert api["totals"] == shown["totals"] and api["series"] == shown["series"]
    assert await page.locator("path.heat-cell").count() == len(api["cells"]) == 2
    assert await page.locator("#stats-csv").is_hidden()  # an export is per offer
    title = await page.locator("#stats-title").inner_text()
    assert title == "Tea House <b>People's Square</b>"  # text, not markup
    await shot(page, "21-statistics-store")
