"""Debian's chromium for the end-to-end tests (Playwright), in one place: the browser, and pages
that fail their test when they threw or broke their Content-Security-Policy.

tests/conftest.py makes these fixtures every test module's:

- `browser`: one chromium per module (NEARBY_CHROMIUM, else `chromium` on the PATH);
- `new_page(**options)`: a page in a browser context of its own (the options are the context's:
  viewport, locale, bypass_csp, ...; `expected_violations` are the beginnings of the policy
  reports the test expects);
- `page`: one such page; parametrised indirectly, the parameter is more context options.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

VIEWPORT = {"width": 1400, "height": 900}
TIMEOUT_MS = 30_000  # the machine may be busy with other test runs

# Every breach of a page's Content-Security-Policy, reported by the page itself.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => window.reportCspViolation(
    `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`
));
"""

PageMaker = Callable[..., Awaitable[Page]]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = os.environ.get("NEARBY_CHROMIUM") or shutil.which("chromium")
    if not executable:
        pytest.fail("No chromium: `make test` installs Debian's (scripts/chromium).", pytrace=False)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[PageMaker]:
    """Pages in contexts of their own; the test fails if one threw or broke its policy (other
    than as expected)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []
    violations: list[str] = []
    expected: list[str] = []

    async def make(*, expected_violations: Sequence[str] = (), **options: Any) -> Page:
        expected.extend(expected_violations)
        context = await browser.new_context(**({"viewport": VIEWPORT} | options))
        contexts.append(context)
        made = await context.new_page()
        made.on("pageerror", lambda error: errors.append(str(error)))
        await made.expose_function("reportCspViolation", lambda text: violations.append(text))
        await made.add_init_script(REPORT_CSP_VIOLATIONS)
        made.set_default_timeout(TIMEOUT_MS)
        return made

    yield make
    for context in contexts:
        await context.close()
    assert errors == [], f"the page threw: {errors}"
    unexpected = [v for v in violations if not v.startswith(tuple(expected))]
    assert unexpected == [], f"the page broke its Content-Security-Policy: {unexpected}"


@pytest.fixture
async def page(new_page: PageMaker, request: pytest.FixtureRequest) -> Page:
    """A fresh page (parametrised indirectly, the parameter is more context options)."""
    return await new_page(**getattr(request, "param", {}))
