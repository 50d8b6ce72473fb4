"""/docs (Swagger UI) and /redoc (ReDoc) work with no network but the service's: their libraries
come from npm and are served from /vendor/, and their pages run under a policy that allows no
inline script. Checked over HTTP, then in Debian's chromium with every request to anywhere else
refused and reported.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Page, Route

from app.main import create_app
from app.settings import Settings
from tests.browser import PageMaker
from tests.conftest import (
    ADMIN_KEY,
    own_database,
)
from tests.service import free_port, nearby_serve

PORTS = range(27700, 27800)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "reference"
OPERATIONS = sum(
    1
    for item in create_app(Settings(database_url="postgresql://unused/x"))
    .openapi()["paths"]
    .values()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_pages_load_only_files_of_this_service_and_no_inline_script(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", policy)
    assert script_src and script_src.group(1).split() == ["'self'"], policy
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    html = response.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, "an inline script"
    loaded = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert loaded, html
    for url in loaded:
        if url.startswith("data:"):
            continue
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
        file = await client.get(url)
        assert file.status_code == 200, url
        assert file.headers["content-type"].split(";")[0] in ("text/javascript", "text/css")


async def test_the_document_the_pages_read_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["components"]["securitySchemes"]


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    """`nearby serve` on a database of its own; its base URL."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port(PORTS)
    with (
        own_database("nearby_test_reference") as database_url,
        nearby_serve(
            database_url=database_url,
            port=port,
            log=ARTIFACTS / "server.log",
            env={"NEARBY_ADMIN_KEY": ADMIN_KEY},
        ),
    ):
        yield f"http://127.0.0.1:{port}"


# ReDoc 2's sidebar badge ("API docs by Redocly") always asks for its logo from the vendor's CDN
# (redoc 3 adds telemetry to that, so 2.x it is). The page's policy refuses the image before any
# request leaves, and the badge drops its image on the error: the one refusal that is expected.
REDOC_BADGE = "img-src blocked https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture
async def offline_page(new_page: PageMaker, service: str) -> AsyncIterator[Page]:
    """A page that can reach the service and nothing else; the test fails if the page asked for
    anything elsewhere, threw, or broke its Content-Security-Policy (tests/browser.py)."""
    page = await new_page(expected_violations=[REDOC_BADGE])
    elsewhere: list[str] = []
    origin = urlsplit(service).netloc

    async def only_the_service(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == origin:
            await route.continue_()
        else:
            elsewhere.append(url)
            await route.abort("internetdisconnected")

    await page.context.route("**/*", only_the_service)
    yield page
    assert elsewhere == [], "the page asked for files elsewhere"


async def test_swagger_ui_shows_every_operation_and_authorize_offline(
    offline_page: Page, service: str
) -> None:
    page = offline_page
    await page.goto(f"{service}/docs")
    await page.wait_for_function(
        "(n) => document.querySelectorAll('.opblock').length === n", arg=OPERATIONS
    )
    assert await page.locator(".opblock-summary-operation-id, .opblock-summary-path").count()
    assert (
        await page.get_by_text("searchNearby", exact=False).count()
        or await page.locator("[id*='searchNearby']").count()
    )
    await page.locator("button.authorize").first.click()
    for scheme in ("ownerKey", "adminKey", "appKey", "userToken"):
        await page.get_by_text(scheme, exact=False).first.wait_for()
    await page.screenshot(path=str(ARTIFACTS / "swagger-ui.png"))


async def test_redoc_shows_every_operation_offline(offline_page: Page, service: str) -> None:
    page = offline_page
    await page.goto(f"{service}/redoc")
    await page.wait_for_function(
        "(n) => document.querySelectorAll('[data-section-id^=\"operation/\"]').length === n",
        arg=OPERATIONS,
    )
    await page.get_by_text("Find merchants near a point", exact=False).first.wait_for()
    assert await page.locator("img[alt='redocly logo']").count() == 0  # refused, then dropped
    await page.screenshot(path=str(ARTIFACTS / "redoc.png"))
