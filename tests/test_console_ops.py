"""The console's operations views end to end in Debian's chromium (Playwright), against `nearby
serve --demo` with webhooks allowed to reach this machine: the merchant's live events, webhooks
and their deliveries (to a real local receiver), the cashier page on a 375 px phone, the English
and Chinese switch, and hostile text in all of them.

Every step leaves a screenshot in test-artifacts/console-ops/ (docs/screenshots/ holds copies).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Dialog, Page

from tests.browser import PageMaker
from tests.conftest import (
    ADMIN_KEY,
    own_database,
)
from tests.service import free_port, nearby_serve
from tests.test_console import (
    HELSINKI,
    HOSTILE,
    PAGE_STATE,
    hostile,
    hostile_offer,
    hostile_store,
    message,
    sign_in,
)
from tests.webhook_receiver import Receiver, verify

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "console-ops"
PORTS = range(27100, 27200)
STOCKMANN = {"lat": 60.16830, "lng": 24.94208}  # inside the demo's Stockmann offer
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
# Replay shows an event once every transaction of the server that began before it has ended;
# other test runs share the server, so a test waits this long at most for one.
VISIBLE_MS = 120_000


class OpsServer:
    def __init__(self, url: str, owner_key: str, app_key: str) -> None:
        self.url = url
        self.owner_key = owner_key
        self.app_key = app_key
        self.api = httpx.Client(base_url=url, timeout=30)

    @property
    def owner(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner_key}"}

    @property
    def app(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.app_key}"}

    def ok(self, method: str, path: str, *, status: int = 200, **kwargs: Any) -> Any:
        response = self.api.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    def claim(self, offer_id: str, user_id: str, where: dict[str, float]) -> dict[str, Any]:
        body = {"user_id": user_id, **where}
        made: dict[str, Any] = self.ok(
            "POST", f"/v1/offers/{offer_id}/claims", status=201, json=body, headers=self.app
        )
        return made

    def stockmann_offer(self) -> dict[str, Any]:
        here = self.ok("GET", "/v1/offers/here", params=STOCKMANN)["results"]
        assert here, "the demo has an offer round Stockmann"
        offer: dict[str, Any] = here[0]
        return offer


@pytest.fixture(scope="module")
def ops() -> Iterator[OpsServer]:
    """`nearby serve --demo` on a fresh database, its webhooks allowed to reach 127.0.0.1."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port(PORTS)
    log = ARTIFACTS / "server.log"
    env = {
        "NEARBY_ADMIN_KEY": ADMIN_KEY,
        "NEARBY_WEBHOOK_ALLOW_PRIVATE": "true",
        "NEARBY_WEBHOOK_FIRST_RETRY_S": "1",
        "NEARBY_LOG_FORMAT": "text",
    }
    with (
        own_database("nearby_test_console_ops") as database_url,
        nearby_serve(database_url=database_url, port=port, log=log, env=env, demo=True),
    ):
        said = log.read_text()
        owner_key = re.search(r"demo owner key: (\S+)", said)
        app_key = re.search(r"demo app key: (\S+)", said)
        assert owner_key and app_key, said
        served = OpsServer(f"http://127.0.0.1:{port}", owner_key.group(1), app_key.group(1))
        yield served
        served.api.close()


async def opened(page: Page, url: str) -> None:
    await page.goto(url)
    await page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=60_000)


async def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    await page.wait_for_timeout(400)  # let Leaflet finish its animations
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


async def texts(page: Page, selector: str) -> list[str]:
    return list(await page.locator(selector).evaluate_all("els => els.map(e => e.textContent)"))


# ------------------------------------------------------------------------------------------ events


async def test_events_appear_live_after_a_claim_and_a_redemption(
    new_page: PageMaker, ops: OpsServer
) -> None:
    page = await new_page()
    await opened(page, f"{ops.url}/{HELSINKI}")
    # A refused key: the merchant view says so, and no events or webhooks show.
    await sign_in(page, "not-a-key")
    await message(page, "That key was not accepted: Unauthorized (401)")
    await page.wait_for_timeout(1000)  # the events and webhooks were asked for and refused too
    assert await page.locator("#message").inner_text() == (
        "That key was not accepted: Unauthorized (401): The API key is not valid"
    )
    assert await page.locator("#events-box").is_hidden()
    assert await page.locator("#webhooks-box").is_hidden()

    await sign_in(page, ops.owner_key)
    await page.locator("#events-status").filter(has_text="Updated").wait_for()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))

    offer = ops.stockmann_offer()
    user = f"live-{uuid.uuid4().hex[:8]}"
    code = ops.claim(offer["id"], user, STOCKMANN)["code"]
    claimed = page.locator(f'#events > li[data-type="offer.claimed"]:has-text("{code}")')
    await claimed.wait_for(timeout=VISIBLE_MS)
    # Named in words, by the offer's title and the store's name (looked up), with its user.
    store = ops.ok("GET", f"/v1/merchants/{offer['merchant_id']}")
    await claimed.locator(".about").filter(has_text=store["name"]).wait_for()
    about = await claimed.locator(".about").inner_text()
    assert about == f"offer {offer['title']} · store {store['name']} · user {user}"
    assert await claimed.locator(".name").inner_text() == "Code claimed"
    assert f"code {code}" in await claimed.locator(".data").inner_text()

    ops.ok("POST", f"/v1/claims/{code}/redeem", headers=ops.owner)
    redeemed = page.locator('#events > li[data-type="claim.redeemed"]').filter(has_text=code)
    await redeemed.wait_for(timeout=VISIBLE_MS)
    # Newest first, and exactly what replay says, in reverse.
    shown = await page.locator("#events > li").evaluate_all("els => els.map(e => e.dataset.id)")
    assert shown[0] == await redeemed.get_attribute("data-id")
    replayed = ops.ok("GET", "/v1/events", params={"limit": 1000}, headers=ops.owner)["results"]
    assert shown == [e["id"] for e in reversed(replayed)][: len(shown)]
    # Polled with the cursor after the first look at the newest events.
    polls = [httpx.URL(url) for url in asked if "/v1/events" in url]
    assert any(url.params.get("after") for url in polls), polls
    await page.locator("#events-box").scroll_into_view_if_needed()
    await shot(page, "01-events")


# ---------------------------------------------------------------------------------------- webhooks


async def test_a_webhook_is_added_its_secret_shown_once_and_its_deliveries_listed(
    new_page: PageMaker, ops: OpsServer
) -> None:
    receiver = Receiver(free_port(PORTS))
    await receiver.start()
    nobody = free_port(range(receiver.port + 1, PORTS.stop))  # nothing listens there
    # Tall enough to show the events and the webhooks at once (docs/screenshots/).
    page = await new_page(
        viewport={"width": 1400, "height": 1900}, permissions=["clipboard-read", "clipboard-write"]
    )
    dialogs: list[str] = []

    async def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    try:
        await opened(page, f"{ops.url}/{HELSINKI}")
        await sign_in(page, ops.owner_key)
        await page.locator("#webhooks-box").wait_for()

        # A working receiver, for claims only (the default ticks: claimed, redeemed, sold out).
        url = f"http://127.0.0.1:{receiver.port}/nearby"
        await page.locator("#webhook-url").fill(url)
        await page.locator('#webhook-events input[value="claim.redeemed"]').uncheck()
        await page.locator('#webhook-events input[value="offer.sold_out"]').uncheck()
        await page.locator("#add-webhook").click()
        await message(page, f"Added the webhook for {url}.")
        secret = await page.locator("#webhook-secret-value").input_value()
        assert re.fullmatch(r"\S{20,}", secret), secret
        assert "will not be shown again" in await page.locator("#webhook-secret").inner_text()
        await page.locator("#copy-secret").click()
        await message(page, "The secret is copied.")
        assert await page.evaluate("navigator.clipboard.readText()") == secret
        await shot(page, "02-webhook-secret")
        hooks = ops.ok("GET", "/v1/webhooks", headers=ops.owner)["results"]
        hook = next(h for h in hooks if h["url"] == url)
        assert hook["events"] == ["offer.claimed"] and "secret" not in hook
        await page.locator("#secret-done").click()
        assert await page.locator("#webhook-secret").is_hidden()
        assert await page.locator("#webhook-secret-value").input_value() == ""
        assert secret not in await page.content()

        # One that cannot be reached.
        down = f"http://127.0.0.1:{nobody}/down"
        await page.locator("#webhook-url").fill(down)
        await page.locator("#add-webhook").click()
        await message(page, f"Added the webhook for {down}.")
        await page.locator("#secret-done").click()
        down_hook = next(
            h
            for h in ops.ok("GET", "/v1/webhooks", headers=ops.owner)["results"]
            if h["url"] == down
        )
        await page.locator(f'#webhooks > li[data-id="{down_hook["id"]}"]').wait_for()
        listed = await page.locator("#webhooks > li").evaluate_all(
            "els => els.map(e => e.dataset.id)"
        )
        assert set(listed) == {hook["id"], down_hook["id"]}

        code = ops.claim(ops.stockmann_offer()["id"], f"hook-{uuid.uuid4().hex[:6]}", STOCKMANN)[
            "code"
        ]
        for _ in range(300):
            if any(json.loads(r.body)["data"].get("code") == code for r in receiver.received):
                break
            await asyncio.sleep(0.1)
        sent = next(r for r in receiver.received if json.loads(r.body)["data"].get("code") == code)
        assert verify(secret, sent)
        event_id = sent.headers["nearby-event-id"]

        # Each hook's deliveries (opened when it was added) refresh by themselves.
        item = page.locator(f'#webhooks > li[data-id="{hook["id"]}"]')
        delivered = item.locator(f'.delivery-list > li[data-event="{event_id}"]')
        await delivered.filter(has_text="delivered").wait_for()
        assert await delivered.get_attribute("data-status") == "delivered"
        facts = await delivered.locator(".facts").inner_text()
        assert facts.startswith("1 attempt · last answer HTTP 200 · delivered ")
        failing = page.locator(f'#webhooks > li[data-id="{down_hook["id"]}"] .delivery-list > li')
        await failing.filter(has_text="last error").first.wait_for()
        first = failing.first
        assert await first.get_attribute("data-status") == "pending"
        assert "next try" in await first.locator(".facts").inner_text()
        api_view = ops.ok("GET", f"/v1/webhooks/{down_hook['id']}/deliveries", headers=ops.owner)[
            "results"
        ][0]
        assert api_view["event_id"] == await first.get_attribute("data-event")
        assert api_view["last_error"] in await first.locator(".facts").inner_text()
        await page.mouse.move(0, 0)
        await page.evaluate("document.getElementById('panel').scrollTop = 0")
        await shot(page, "03-webhook-deliveries")

        # The status filter asks the API.
        await item.locator("select.delivery-status").select_option("failed")
        await item.locator(".hint", has_text="No deliveries here yet.").wait_for()
        await item.locator("select.delivery-status").select_option("delivered")
        await item.locator(f'.delivery-list > li[data-event="{event_id}"]').wait_for()

        # Deleting asks first, then the hook is gone from the page and the API.
        for target in (hook, down_hook):
            row = page.locator(f'#webhooks > li[data-id="{target["id"]}"]')
            await row.locator("button.delete").click()
            await row.wait_for(state="detached")
        assert dialogs == [
            f"Delete the webhook for {url}? Its pending deliveries are dropped.",
            f"Delete the webhook for {down}? Its pending deliveries are dropped.",
        ]
        assert ops.ok("GET", "/v1/webhooks", headers=ops.owner)["results"] == []
        await page.locator("#no-webhooks").wait_for()

        # Refusals in words: no event type, then a URL the service refuses.
        await page.locator("#webhook-url").fill(url)
        for box in await page.locator("#webhook-events input:checked").all():
            await box.uncheck()
        await page.locator("#add-webhook").click()
        await message(page, "The webhook was not added: Pick at least one event type.")
        await page.locator('#webhook-events input[value="offer.claimed"]').check()
        await page.locator("#webhook-url").fill("ftp://example.org/x")
        await page.locator("#add-webhook").click()
        said = await message(page, "The webhook was not added: Invalid input (422)")
        assert "http" in said
    finally:
        await receiver.stop()


# ----------------------------------------------------------------------------------------- cashier

PHONE = {
    "viewport": {"width": 375, "height": 667},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


async def fits(page: Page) -> None:
    """Nothing is wider than the phone: no sideways scrolling."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width


async def test_a_cashier_checks_and_redeems_codes_on_a_phone(
    new_page: PageMaker, ops: OpsServer
) -> None:
    offer = ops.stockmann_offer()
    store = ops.ok("GET", f"/v1/merchants/{offer['merchant_id']}")
    code = ops.claim(offer["id"], f"till-{uuid.uuid4().hex[:6]}", STOCKMANN)["code"]
    # Another owner's code, which this owner may not redeem.
    other = ops.ok("POST", "/v1/owners", status=201, json={"name": "Elsewhere"}, headers=ADMIN)
    theirs = {"Authorization": f"Bearer {other['api_key']}"}
    shop = {"name": "Elsewhere café", "category": "cafe", "location": STOCKMANN}
    made = ops.ok("POST", "/v1/merchants", status=201, json=shop, headers=theirs)
    their_offer = ops.ok(
        "POST",
        f"/v1/merchants/{made['id']}/offers",
        status=201,
        json={"title": "x"},
        headers=theirs,
    )
    their_code = ops.claim(their_offer["id"], "someone", STOCKMANN)["code"]

    page = await new_page(**PHONE)
    await opened(page, f"{ops.url}/cashier")
    await page.locator("#key-form").wait_for()
    await page.locator("#owner-key").fill(ops.owner_key)
    await page.locator("#key-form button[type=submit]").click()
    await page.locator("#code-form").wait_for()
    await fits(page)

    # Pasted with spaces and in lower case: still the code.
    spaced = " ".join(code[i : i + 4] for i in range(0, len(code), 4)).lower()
    await page.locator("#code").fill(spaced)
    await page.locator("#check").click()
    verdict = page.locator("#verdict")
    await verdict.filter(has_text="Valid: not redeemed yet.").wait_for()
    assert await page.locator("#code").input_value() == code
    assert await page.locator('[data-field="title"]').inner_text() == offer["title"]
    assert await page.locator('[data-field="store"]').inner_text() == store["name"]
    assert await page.locator('[data-field="status"]').inner_text() == "active"
    assert await page.locator('[data-field="window"]').inner_text() == await page.evaluate(
        """([from, to]) => {
            const style = {dateStyle: "medium", timeStyle: "short"};
            const format = (iso) => new Intl.DateTimeFormat("en", style).format(new Date(iso));
            return `${format(from)} → ${to ? format(to) : "no end"}`;
        }""",
        [offer["starts_at"], offer["ends_at"]],
    )
    await fits(page)
    await shot(page, "04-cashier-valid", full_page=True)

    await page.locator("#redeem").click()
    await verdict.filter(has_text="Redeemed at").wait_for()
    assert await page.locator("#redeem").is_hidden()
    looked = ops.ok("GET", f"/v1/claims/{code}", headers=ops.owner)
    assert looked["redeemed_at"] is not None
    await shot(page, "05-cashier-redeemed", full_page=True)

    # The same code again: already redeemed, and when.
    await page.locator("#next").click()
    await page.locator("#code").fill(code)
    await page.locator("#check").click()
    await verdict.filter(has_text="Already redeemed on").wait_for()
    when = await page.evaluate(
        "iso => new Intl.DateTimeFormat('en', {dateStyle: 'medium', timeStyle: 'medium'})"
        ".format(new Date(iso))",
        looked["redeemed_at"],
    )
    assert await verdict.inner_text() == f"Already redeemed on {when}."
    assert await verdict.get_attribute("data-kind") == "done"
    assert await page.locator("#redeem").is_hidden()
    await fits(page)
    await shot(page, "06-cashier-already", full_page=True)

    # Redeemed at another till between the look-up and the button: said so, with when.
    second = ops.claim(offer["id"], f"till-{uuid.uuid4().hex[:6]}", STOCKMANN)["code"]
    await page.locator("#code").fill(second)
    await page.locator("#check").click()
    await verdict.filter(has_text="Valid").wait_for()
    ops.ok("POST", f"/v1/claims/{second}/redeem", headers=ops.owner)
    await page.locator("#redeem").click()
    await verdict.filter(has_text="Already redeemed on").wait_for()

    # Refusals, each in its own words.
    unknown = "A" * 26
    for typed, said in [
        ("hello", "That is not a code: a code is 26 letters A-Z and digits 2-7."),
        ("1" * 26, "That is not a code: a code is 26 letters A-Z and digits 2-7."),
        (unknown, f"No code {unknown} exists. Check it letter by letter."),
        (their_code, "This code belongs to another owner's offer: it cannot be redeemed here."),
    ]:
        await page.locator("#code").fill(typed)
        await page.locator("#check").click()
        await verdict.filter(has_text=said).wait_for()
        assert await verdict.get_attribute("data-kind") == "refused"
        assert await page.locator("#redeem").is_hidden()
        assert await page.locator("#claim-details > *").count() == 0
    await fits(page)
    await shot(page, "07-cashier-refused", full_page=True)

    # Forgetting the key signs the phone out.
    await page.locator("#forget-key").click()
    await page.locator("#key-form").wait_for()
    assert await page.evaluate("localStorage.getItem('nearby.ownerKey')") is None
    ops.ok("DELETE", f"/v1/merchants/{made['id']}", status=204, headers=theirs)


# ---------------------------------------------------------------------------------------- language


async def test_the_language_switch_turns_the_console_chinese_and_back(
    new_page: PageMaker, ops: OpsServer
) -> None:
    page = await new_page(locale="en-US")
    await opened(page, f"{ops.url}/{HELSINKI}")
    assert await page.locator("#tab-explore").inner_text() == "Explore"
    await page.locator("#map").click()
    summary = page.locator("#search-summary")
    await summary.filter(has_text="stores within 800 m").wait_for()

    await page.locator("#language").select_option("zh-CN")
    assert await page.locator("#tab-explore").inner_text() == "探索"
    assert await page.locator("html").get_attribute("lang") == "zh-CN"
    assert await page.title() == "Nearby 控制台"
    # What was drawn is drawn again in Chinese: the search summary, the map's own notes.
    await summary.filter(has_text=re.compile(r"周边 800 米内有 \d+\+? 家门店")).wait_for()
    await page.locator("#viewport-note").filter(has_text="H3 单元").wait_for()
    assert await page.locator(".leaflet-control-zoom-in").get_attribute("title") == "放大"
    assert "轮廓：Natural Earth" in await page.locator(".leaflet-control-attribution").inner_text()
    assert await page.locator("#radius").get_attribute("title") == (
        "米（1 到 50000），或 auto：依次扩大到 1、2、5、10、20、50 公里，直到一页填满"
    )
    # Problems in words: the title by its type, the service's detail as it is.
    await page.locator("#radius").fill("99999")
    await page.locator("#map").click()
    await message(page, "搜索失败: 输入无效 (422)")
    await page.locator("#radius").fill("800")

    ops.claim(ops.stockmann_offer()["id"], f"zh-{uuid.uuid4().hex[:6]}", STOCKMANN)
    await sign_in(page, ops.owner_key)
    await page.locator("#stores-summary").filter(has_text="家门店").wait_for()
    await page.locator("#events-box summary").filter(has_text="最新事件").wait_for()
    await page.locator("#events > li").first.wait_for(timeout=VISIBLE_MS)
    names = set(await texts(page, "#events .name"))
    assert names and names <= {"优惠码已领取", "优惠码已核销", "优惠已领完"}, names
    assert await page.locator("#webhooks-box summary").inner_text() == "Webhook 回调"
    await shot(page, "08-chinese-merchant")

    # Kept across a reload, and for the cashier page of the same browser.
    await page.reload()
    await page.wait_for_function("() => document.body.dataset.ready === 'true'")
    assert await page.locator("#tab-merchant").inner_text() == "商家"
    cashier = await page.context.new_page()
    await opened(cashier, f"{ops.url}/cashier")
    assert await cashier.locator("h1").inner_text() == "收银核销"
    await cashier.close()

    await page.locator("#language").select_option("en")
    assert await page.locator("#tab-merchant").inner_text() == "Merchant"
    await page.reload()
    await page.wait_for_function("() => document.body.dataset.ready === 'true'")
    assert await page.locator("#tab-explore").inner_text() == "Explore"
    assert await page.locator("html").get_attribute("lang") == "en"


async def test_a_chinese_browser_gets_the_chinese_console_first(
    new_page: PageMaker, ops: OpsServer
) -> None:
    page = await new_page(locale="zh-CN")
    await opened(page, f"{ops.url}/{HELSINKI}")
    assert await page.locator("#tab-explore").inner_text() == "探索"
    assert await page.locator("#language").input_value() == "zh-CN"
    await page.locator("#map").click()
    await page.locator("#search-summary").filter(has_text="家门店").wait_for()
    await page.mouse.move(0, 0)
    await shot(page, "09-chinese-explore")
    phone = await new_page(locale="zh-CN", **PHONE)
    await opened(phone, f"{ops.url}/cashier")
    assert await phone.locator("#check").inner_text() == "查询"


# ------------------------------------------------------------------------------------ hostile text


@pytest.fixture(scope="module")
def hostile_ops(ops: OpsServer) -> Iterator[dict[str, Any]]:
    """An owner whose store, offer, customers and webhook URL are hostile text, with a code."""
    made = ops.ok("POST", "/v1/owners", status=201, json={"name": "hostile"}, headers=ADMIN)
    key = made["api_key"]
    owner = {"Authorization": f"Bearer {key}"}
    store = ops.ok("POST", "/v1/merchants", status=201, json=hostile_store("img", 0), headers=owner)
    where = store["location"]
    offer = ops.ok(
        "POST",
        f"/v1/merchants/{store['id']}/offers",
        status=201,
        json=hostile_offer("svg") | {"quantity": 2},
        headers=owner,
    )
    codes = [
        ops.claim(offer["id"], hostile(kind, f"user-{kind}"), where)["code"]
        for kind in ("script", "link")
    ]
    try:
        yield {"key": key, "owner": owner, "store": store, "offer": offer, "codes": codes}
    finally:
        ops.api.delete(f"/v1/merchants/{store['id']}", headers=owner)


@pytest.mark.parametrize("csp", [True, False], ids=["with-csp", "without-csp"])
async def test_hostile_text_shows_as_text_in_events_webhooks_and_cashier(
    new_page: PageMaker, ops: OpsServer, hostile_ops: dict[str, Any], csp: bool
) -> None:
    """Offer titles, store names, customers and webhook URLs shaped like HTML show literally and
    run nothing, under the Content-Security-Policy and without it."""
    store, offer, codes = hostile_ops["store"], hostile_ops["offer"], hostile_ops["codes"]
    page = await new_page(bypass_csp=not csp)
    dialogs: list[str] = []

    async def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await opened(page, f"{ops.url}/{HELSINKI}")
    await sign_in(page, hostile_ops["key"])
    # claimed, claimed, sold out: each names the offer, the store and the hostile customer.
    await page.locator("#events > li").nth(2).wait_for(timeout=VISIBLE_MS)
    await page.locator("#events .about").first.filter(has_text=store["name"]).wait_for()
    users = [hostile(kind, f"user-{kind}") for kind in ("script", "link")]
    assert await texts(page, "#events .about") == [
        f"offer {offer['title']} · store {store['name']} · user {user}"
        for user in (users[1], users[1], users[0])
    ]

    # A webhook whose URL is markup (no spaces: the service takes it).
    url = "http://127.0.0.1:9/<img/src=x/onerror=window.__pwned='url'>"
    await page.locator("#webhook-url").fill(url)
    await page.locator("#add-webhook").click()
    said = await message(page, "Added the webhook for ")
    hook = ops.ok("GET", "/v1/webhooks", headers=hostile_ops["owner"])["results"][0]
    assert said == f"Added the webhook for {hook['url']}."
    await page.locator("#secret-done").click()
    await page.locator(f'#webhooks > li[data-id="{hook["id"]}"]').wait_for()
    assert await texts(page, "#webhooks .url") == [hook["url"]]
    await page.locator(f'#webhooks > li[data-id="{hook["id"]}"] button.delete').click()
    await page.locator("#no-webhooks").wait_for()
    await shot(page, f"10-hostile-ops-{'csp' if csp else 'nocsp'}")
    state = await page.evaluate(PAGE_STATE)
    assert state["pwned"] is None and state["handlers"] == [] and state["injected"] == 0
    assert dialogs == [f"Delete the webhook for {hook['url']}? Its pending deliveries are dropped."]

    # The cashier shows the same text literally.
    phone = await new_page(bypass_csp=not csp, **PHONE)
    await opened(phone, f"{ops.url}/cashier")
    await phone.locator("#owner-key").fill(hostile_ops["key"])
    await phone.locator("#key-form button[type=submit]").click()
    await phone.locator("#code").fill(codes[0])
    await phone.locator("#check").click()
    await phone.locator("#verdict").filter(has_text="Valid").wait_for()
    assert await phone.locator('[data-field="title"]').inner_text() == offer["title"]
    assert await phone.locator('[data-field="store"]').inner_text() == store["name"]
    state = await phone.evaluate(PAGE_STATE)
    assert state["pwned"] is None and state["handlers"] == [] and state["injected"] == 0
    assert state["scripts"] == ["/console/cashier.js"]
    assert set(HOSTILE) == {"img", "script", "svg", "link"}
