"""GET /: the web console, a static page over the public HTTP API (app/web/console/).

Its libraries (Leaflet, topojson-client, Natural Earth outlines from world-atlas) come from the
npm registry at set-up time into app/web/node_modules and are served from /vendor/; the wheel
carries exactly the folders of VENDOR (pyproject.toml's force-include). Nothing here talks
to the database: the page itself calls /v1/... like any other client.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from app.errors import NotReady
from app.package_data import WEB

PAGES = WEB / "console"
LIBRARIES = WEB / "node_modules"
# URL name -> folder of the package that the page loads (and nothing else of node_modules).
VENDOR = {
    "leaflet": LIBRARIES / "leaflet" / "dist",
    "topojson-client": LIBRARIES / "topojson-client" / "dist",
    "world-atlas": LIBRARIES / "world-atlas",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def console() -> FileResponse:
    missing = [name for name, folder in VENDOR.items() if not folder.is_dir()]
    if missing:
        raise NotReady(
            f"The console's libraries are not installed ({', '.join(missing)}): "
            "run `make setup`, which runs `npm ci` in app/web/."
        )
    return FileResponse(PAGES / "index.html", headers={"Cache-Control": "no-cache"})


def mount(app: FastAPI) -> None:
    """The page's own files under /console/, its libraries under /vendor/<package>/."""
    app.mount("/console", StaticFiles(directory=PAGES, check_dir=False), name="console")
    for name, folder in VENDOR.items():
        app.mount(f"/vendor/{name}", StaticFiles(directory=folder, check_dir=False), name=name)
