"""GET /: the web console, a static page over the public HTTP API (app/web/console/).

Its libraries (Leaflet, topojson-client, Natural Earth outlines from world-atlas, uPlot and
h3-js for the statistics view), and those of the API reference (routes/reference.py), come from
the npm registry at set-up time into app/web/node_modules and are served from /vendor/; the
wheel carries the files of VENDOR that the pages load (pyproject.toml's artifacts). Nothing
here talks to the database: the page itself calls /v1/... like any other client.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from app.errors import NotReady
from app.package_data import WEB

PAGES = WEB / "console"
LIBRARIES = WEB / "node_modules"
# URL name -> folder of the package that the page loads (and nothing else of node_modules).
VENDOR = {
    "leaflet": LIBRARIES / "leaflet" / "dist",
    "topojson-client": LIBRARIES / "topojson-client" / "dist",
    "world-atlas": LIBRARIES / "world-atlas",
    # The API reference's (routes/reference.py: /docs and /redoc).
    "swagger-ui-dist": LIBRARIES / "swagger-ui-dist",
    "redoc": LIBRARIES / "redoc" / "bundles",
    "uplot": LIBRARIES / "uplot" / "dist",  # the statistics view's chart (console/stats.js)
    "h3-js": LIBRARIES / "h3-js" / "dist",  # the outlines of the heat map's H3 cells
}

# Sent with the page and every file under it (app/headers.py adds nosniff and no-referrer to every
# response). The page shows other people's text (store names, offer titles) next to the owner
# key it keeps in localStorage: should any of that text ever be parsed as HTML, the policy still
# runs no script but the console's own files, no inline script or event handler, loads nothing
# from elsewhere and sends nowhere else. Leaflet styles its elements through the CSSOM, which
# style-src does not restrict; `data:` images are the page's empty favicon. No page may frame
# the console (clickjacking).
SECURITY_HEADERS = {
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    ),
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def console() -> FileResponse:
    return _console()


# The pages of deep links (QR codes, shared links): the same console, which reads the path and
# shows the store or the offer (console/deeplink.js). Any id: the page says when there is none.
@router.get("/m/{merchant_id}")
async def merchant_page(merchant_id: str) -> FileResponse:
    return _console()


@router.get("/o/{offer_id}")
async def offer_page(offer_id: str) -> FileResponse:
    return _console()


def _console() -> FileResponse:
    """The console's page, once its libraries are there."""
    missing = [name for name, folder in VENDOR.items() if not folder.is_dir()]
    if missing:
        raise NotReady(
            f"The console's libraries are not installed ({', '.join(missing)}): "
            "run `make setup`, which runs `npm ci` in app/web/."
        )
    return _page("index.html")


@router.get("/cashier")
async def cashier() -> FileResponse:
    """The cashier's page for a phone: check and redeem codes (no map, no libraries)."""
    return _page("cashier.html")


def _page(name: str) -> FileResponse:
    return FileResponse(PAGES / name, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})


class ConsoleFiles(StaticFiles):
    """StaticFiles whose answers carry SECURITY_HEADERS too: a module script of the console is
    a document of its own to a worker or a browser opening it directly."""

    headers = SECURITY_HEADERS

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(self.headers)
        return response


def mount(app: FastAPI) -> None:
    """The page's own files under /console/, its libraries under /vendor/<package>/."""
    app.mount("/console", ConsoleFiles(directory=PAGES, check_dir=False), name="console")
    for name, folder in VENDOR.items():
        app.mount(f"/vendor/{name}", ConsoleFiles(directory=folder, check_dir=False), name=name)
