"""The console's two languages cannot silently fall apart.

Without a browser: i18n.js has the same keys in English and Chinese with the same {slots}, every
key the pages and modules name exists (t("..."), t(`prefix.${...}`), data-i18n*), every key is
used, and no text or placeholder/title/aria-label of the two pages is English that localize()
does not replace.

In Debian's chromium (Playwright) against `nearby serve`: the stores, a store's form, the upload
and offer-edit forms, the statistics, the cashier and the deep-link pages, switched to Chinese,
show none of the English words of i18n.js in their visible text and attributes. The data there
is Chinese, so any English on screen is the console's own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page

from tests.browser import PageMaker
from tests.conftest import (
    ADMIN_KEY,
    own_database,
)
from tests.service import created, free_port, nearby_serve
from tests.test_console import sign_in

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = ROOT / "app" / "web" / "console"
ARTIFACTS = ROOT / "test-artifacts" / "console-i18n"
PORTS = range(27900, 28000)  # this module's own range
STORE = (31.2304, 121.4737)  # People's Square, Shanghai
# Claimers at one place (5 distinct people make a heat-map cell), two through a share.
CLAIMERS = [f"顾客{n}" for n in range(6)]


# ------------------------------------------------------------------------------------ i18n.js


@dataclass(frozen=True)
class Language:
    keys: set[str]
    strings: dict[str, str]  # the entries that are one plain string
    source: str  # the language's block of i18n.js


def languages() -> dict[str, Language]:
    text = (CONSOLE / "i18n.js").read_text()
    body = text[text.index("const STRINGS = {") : text.index("\n};\n")]
    blocks = re.split(r'\n  "zh-CN": \{\n', body)
    assert len(blocks) == 2, "i18n.js holds STRINGS.en, then STRINGS['zh-CN']"
    found = {}
    for name, block in zip(("en", "zh-CN"), blocks, strict=True):
        keys = re.findall(r'^    "([\w.-]+)":', block, re.M)
        assert len(keys) == len(set(keys)), f"a key twice in {name}"
        strings = dict(re.findall(r'^    "([\w.-]+)": "((?:[^"\\]|\\.)*)",$', block, re.M))
        found[name] = Language(set(keys), strings, block)
    return found


# The functions whose string arguments are keys: t and has (i18n.js), and the two that hand a
# key on to t: the deep-link page's and the cashier's say(), the cashier's refused().
_KEY_CALLS = re.compile(r"\b(?:t|has|say|refused)\(([^()]*)\)")


def used_keys() -> tuple[set[str], set[str], set[str]]:
    """The keys the pages and modules name (data-i18n*, arguments of _KEY_CALLS), the prefixes
    of keys they build (t(`prefix.${...}`)), and every string literal of the modules."""
    named: set[str] = set()
    prefixes: set[str] = set()
    literals: set[str] = set()
    for page in CONSOLE.glob("*.html"):
        named |= set(re.findall(r'data-i18n(?:-[a-z-]+)?="([\w.-]+)"', page.read_text()))
    for module in CONSOLE.glob("*.js"):
        if module.name == "i18n.js":
            continue
        source = module.read_text()
        for arguments in _KEY_CALLS.findall(source):
            named |= set(re.findall(r'"([a-z]+\.[\w.-]+)"', arguments))
        prefixes |= set(re.findall(r"\b(?:t|has)\(\s*`([\w.-]+\.)\$\{", source))
        literals |= set(re.findall(r'"([\w.-]+)"', source))
    return named, prefixes, literals


def test_both_languages_have_every_key_with_the_same_slots() -> None:
    english, chinese = languages().values()
    assert english.keys and english.keys == chinese.keys, english.keys ^ chinese.keys
    for key, text in english.strings.items():
        assert text.strip(), f"{key} is empty"
        if key in chinese.strings:
            slots = set(re.findall(r"\{(\w+)\}", text))
            assert set(re.findall(r"\{(\w+)\}", chinese.strings[key])) == slots, key
            assert chinese.strings[key].strip(), f"{key} is empty in Chinese"


def test_every_key_named_exists_and_every_key_is_used() -> None:
    english = languages()["en"].keys
    named, prefixes, literals = used_keys()
    assert named <= english, f"named but missing from i18n.js: {named - english}"
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in english), f"no key starts {prefix}"
    used = named | (literals & english)
    unused = {k for k in english - used if not any(k.startswith(p) for p in prefixes)}
    assert unused == set(), f"keys nothing uses: {unused}"


class _PageText(HTMLParser):
    """Each text of a page and each placeholder/title/aria-label, with whether localize()
    replaces it (a data-i18n on the element, or data-i18n-<attribute>)."""

    VOID = {"input", "meta", "link", "br", "img", "source", "option"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.fixed: list[str] = []  # English that stays English

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for attribute in ("placeholder", "title", "aria-label"):
            value = named.get(attribute)
            if value and f"data-i18n-{attribute}" not in named and _english(value):
                self.fixed.append(f'<{tag} {attribute}="{value}">')
        if tag not in self.VOID or tag == "option":
            self.stack.append((tag, named))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.stack or not _english(data):
            return
        tag, named = self.stack[-1]
        if tag in ("script", "style") or "data-i18n" in named or "data-days" in named:
            return  # data-days: stats.js writes the range's options
        self.fixed.append(f"<{tag}>{data.strip()}")


# What is the same in every language: the product, coordinate systems, key prefixes, a URL's
# scheme, and the opening_hours syntax (OpenStreetMap's: "Mo-Fr 08:00-22:00").
_NAMES = re.compile(
    r"Nearby|WGS-84|GCJ-02|BD-09|nby_\.\.\.|nb_\.\.\.|https://|\b(Mo|Tu|We|Th|Fr|Sa|Su)\b"
)


def _english(text: str) -> bool:
    return re.search(r"[A-Za-z]{2,}", _NAMES.sub("", text)) is not None


def test_the_pages_have_no_english_that_stays_english() -> None:
    for name in ("index.html", "cashier.html"):
        parser = _PageText()
        parser.feed((CONSOLE / name).read_text())
        assert parser.fixed == [], f"{name}: text without data-i18n: {parser.fixed}"


def english_words() -> set[str]:
    """Every word of three letters or more in the English strings of i18n.js that no Chinese
    string uses too (those are names: HTTP, Webhook, Natural Earth, ...)."""
    found = languages()
    quoted = r'"((?:[^"\\]|\\.)*)"|`([^`]*)`'

    def words(block: str) -> set[str]:
        block = re.sub(r'^    "[\w.-]+":', "", block, flags=re.M)  # the keys
        said = " ".join(a or b for a, b in re.findall(quoted, block))
        said = re.sub(r"\$\{[^}]*\}|\{\w+\}", " ", said)  # slots
        return {w.lower() for w in re.findall(r"[A-Za-z]{3,}", said)}

    return words(found["en"].source) - words(found["zh-CN"].source)


def test_the_word_list_is_the_english_one() -> None:
    words = english_words()
    assert {"store", "claims", "redemptions", "statistics", "upload", "cashier"} <= words
    assert not {"http", "nearby", "webhook"} & words


# ------------------------------------------------------------------------------------ browser


@dataclass
class Served:
    url: str
    owner_key: str
    store: dict[str, Any]
    offer: dict[str, Any]
    share: str
    codes: list[str]


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """`nearby serve` with an owner whose store, offer, customers and share are all Chinese."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port(PORTS)
    with (
        own_database("nearby_test_console_i18n") as database_url,
        nearby_serve(
            database_url=database_url,
            port=port,
            log=ARTIFACTS / "server.log",
            env={"NEARBY_ADMIN_KEY": ADMIN_KEY},
        ),
    ):
        url = f"http://127.0.0.1:{port}"
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=url, timeout=30) as api:
            owner = created(api.post("/v1/owners", json={"name": "茶饮连锁"}, headers=admin))
            app = created(api.post("/v1/apps", json={"name": "小程序"}, headers=admin))
            keys = {"Authorization": f"Bearer {owner['api_key']}"}
            by_app = {"Authorization": f"Bearer {app['app_key']}"}
            store = created(api.post("/v1/merchants", headers=keys, json={
                "external_id": "沪-001", "name": "人民广场茶馆", "category": "茶饮",
                "address": "上海市黄浦区人民大道", "tags": ["外卖"],
                "location": {"lat": STORE[0], "lng": STORE[1]},
                "timezone": "Asia/Shanghai",
            }))  # fmt: skip
            offer = created(api.post(f"/v1/merchants/{store['id']}/offers", headers=keys, json={
                "title": "第二杯半价", "description": "仅限堂食", "quantity": 50,
                "geofence": {"type": "circle", "center": {"lat": STORE[0], "lng": STORE[1]},
                             "radius_m": 400},
            }))  # fmt: skip
            share = created(api.post(f"/v1/offers/{offer['id']}/shares", headers=by_app,
                                 json={"user_id": "分享者"}))["code"]  # fmt: skip
            codes = []
            for n, user in enumerate(CLAIMERS):
                body = {"user_id": user, "lat": STORE[0], "lng": STORE[1]}
                if n < 2:
                    body["share"] = share
                path = f"/v1/offers/{offer['id']}/claims"
                codes.append(created(api.post(path, headers=by_app, json=body))["code"])
            for code in codes[:3]:
                created(api.post(f"/v1/claims/{code}/redeem", headers=keys))
        yield Served(url, owner["api_key"], store, offer, share, codes)


# Every text a person sees: text nodes of rendered elements, the options of rendered selects,
# placeholders, titles and aria-labels of rendered elements, and the document's title. The
# event types of the events and webhooks views are identifiers (`offer.claimed`), left out.
VISIBLE_TEXT = """() => {
  const shown = (e) => e.checkVisibility({ visibilityProperty: true });
  const skip = (e) => e.closest("#events .type, #webhooks .events, #webhook-events");
  const out = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || !node.textContent.trim() || parent.closest("script, style, option")) continue;
    if (shown(parent) && !skip(parent)) out.push(node.textContent.trim());
  }
  for (const e of document.querySelectorAll("select")) {
    if (shown(e)) for (const option of e.options) out.push(option.textContent);
  }
  for (const e of document.querySelectorAll("[placeholder], [title], [aria-label]")) {
    if (!shown(e) || skip(e)) continue;
    for (const name of ["placeholder", "title", "aria-label"]) {
      if (e.getAttribute(name)) out.push(e.getAttribute(name));
    }
  }
  return out;
}"""


async def english_on(page: Page, words: set[str]) -> list[str]:
    """The visible texts of `page` that hold one of `words` (whole words, any case)."""
    texts: list[str] = await page.evaluate(VISIBLE_TEXT)
    return [t for t in texts if {w.lower() for w in re.findall(r"\b[A-Za-z]+\b", t)} & words]


async def opened(page: Page, url: str) -> None:
    await page.goto(url)
    await page.wait_for_function("() => document.body.dataset.ready === 'true'", timeout=60_000)


async def test_the_merchant_views_switched_to_chinese_show_no_english(
    new_page: PageMaker, served: Served
) -> None:
    words = english_words()
    page = await new_page(locale="en-US")
    await opened(page, f"{served.url}/#map=16/{STORE[0]}/{STORE[1]}")
    await sign_in(page, served.owner_key)
    # In English first: the store, its offer's statistics, the upload and offer-edit forms.
    await page.locator("#store-filter").fill(served.store["name"])
    await page.locator(f'#stores > li[data-id="{served.store["id"]}"]').click()
    offer = page.locator(f'#offers > li[data-id="{served.offer["id"]}"]')
    await offer.locator("button.statistics").click()
    await page.locator("#stats-sharers > li").first.wait_for()
    await page.locator("#stats-cells").filter(has_text="1 place on the map").wait_for()
    await page.locator("#open-upload").click()
    assert await english_on(page, words), "the word list finds the English console"

    await page.locator("#language").select_option("zh-CN")
    # What was drawn is drawn again: the list and the offers (asked again), the statistics
    # (from the answer it has).
    await page.locator("#stores-summary").filter(has_text="家门店").wait_for()
    await page.locator("#stats-cells").filter(has_text="地图上有 1 处").wait_for()
    await offer.locator("button.edit-offer").filter(has_text="编辑").click()
    await page.locator("#offer-edit").wait_for()
    await page.locator("#stats").scroll_into_view_if_needed()
    await page.screenshot(path=str(ARTIFACTS / "merchant-zh.png"), full_page=True)
    assert await english_on(page, words) == []
    assert await page.locator("#stats-chart .u-legend").inner_text() != ""

    # A store's form, new and edited; the store's own statistics.
    await page.locator("#new-store").click()
    assert await page.locator("#store-form-title").inner_text() == "新建门店"
    assert await english_on(page, words) == []
    await page.locator("#edit-store").click()
    assert await page.locator("#store-form-title").inner_text() == "编辑 人民广场茶馆"
    await page.locator("#save-store").click()
    await page.locator("#message").filter(has_text="已保存“人民广场茶馆”").wait_for()
    await page.locator("#store-stats").click()
    await page.locator("#stats-title").filter(has_text=served.store["name"]).wait_for()
    await page.locator('#stats-totals dd[data-total="claims"]').filter(has_text="6").wait_for()
    assert await english_on(page, words) == []


async def test_the_cashier_and_the_link_pages_in_chinese_show_no_english(
    new_page: PageMaker, served: Served
) -> None:
    words = english_words()
    phone = await new_page(locale="zh-CN", viewport={"width": 375, "height": 740})
    await opened(phone, f"{served.url}/cashier")
    await phone.locator("#owner-key").fill(served.owner_key)
    await phone.locator("#key-form button[type=submit]").click()
    for code in served.codes[2:4]:  # one redeemed, one not
        await phone.locator("#code").fill(code)
        await phone.locator("#check").click()
        await phone.locator(f'[data-field="code"]:text-is("{code}")').wait_for()
        assert await english_on(phone, words) == []
    await phone.locator("#code").fill("not a code")
    await phone.locator("#check").click()
    await phone.locator("#verdict").filter(has_text="这不是有效的优惠码").wait_for()
    assert await english_on(phone, words) == []

    # The link pages, opened in English and switched: what they show is written again.
    page = await new_page(locale="en-US")
    links = [
        (f"/o/{served.offer['id']}?s={served.share}", "#deeplink-share[data-share]"),
        (f"/o/{served.offer['id']}?s=not-one", "#deeplink-share"),
        (f"/m/{served.store['id']}", "#deeplink-name"),
        (f"/m/{uuid.uuid4()}", "#deeplink-status"),
        ("/o/not-an-id", "#deeplink-status"),
    ]
    for n, (link, shown) in enumerate(links):
        await opened(page, f"{served.url}{link}")
        await page.locator(shown).wait_for()
        assert await english_on(page, words), link
        await page.locator("#language").select_option("zh-CN")
        await page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
        assert await english_on(page, words) == [], link
        await page.screenshot(path=str(ARTIFACTS / f"link-{n}-zh.png"))
        await page.locator("#language").select_option("en")
