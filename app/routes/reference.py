"""GET /docs (Swagger UI) and GET /redoc (ReDoc): the API reference, read from /openapi.json
(app/openapi.py), that works with no network but this service's.

Both libraries come from the npm registry at set-up time (swagger-ui-dist and redoc, pinned in
app/web/package.json) and are served from /vendor/ with the console's (routes/console.py owns
/vendor/ and VENDOR, which the wheel carries). The pages are plain files under
app/web/reference/: their scripts are files of this origin, never inline, so the policy below
allows no inline script. Both libraries style their elements at run time (ReDoc through
styled-components' <style> elements), hence 'unsafe-inline' for styles only; ReDoc's search runs
in a Web Worker made from a blob: URL.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse

from app.errors import NotReady
from app.package_data import WEB
from app.routes.console import VENDOR, ConsoleFiles

PAGES = WEB / "reference"
LIBRARIES = ("swagger-ui-dist", "redoc")

SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "form-action 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    ),
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    missing = [name for name in LIBRARIES if not VENDOR[name].is_dir()]
    if missing:
        raise NotReady(
            f"The API reference's libraries are not installed ({', '.join(missing)}): "
            "run `make setup`, which runs `npm ci` in app/web/."
        )
    return FileResponse(PAGES / name, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})


@router.get("/docs")
async def swagger_ui() -> FileResponse:
    return _page("swagger.html")


@router.get("/redoc")
async def redoc() -> FileResponse:
    return _page("redoc.html")


class ReferenceFiles(ConsoleFiles):
    """The pages' own scripts, under the pages' policy."""

    headers = SECURITY_HEADERS


def mount(app: FastAPI) -> None:
    """The pages' own scripts under /reference/ (their libraries are under /vendor/)."""
    app.mount("/reference", ReferenceFiles(directory=PAGES, check_dir=False), name="reference")
