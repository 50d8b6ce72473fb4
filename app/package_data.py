"""Where the files that ship inside the `app` package are: the migrations, the demo data, the
web console and its npm libraries.

The same relative places in a checkout (editable install, `make run`, `make test`) and in an
installed wheel, found through importlib.resources and never through the working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _folder(name: str) -> Path:
    folder = files("app") / name
    # A checkout and an unpacked wheel hold the package as plain files; alembic, FileResponse and
    # StaticFiles need real paths (a zipped package would not give one, and is not supported).
    if not isinstance(folder, Path):
        raise RuntimeError(f"the app package is not on a file system: {folder}")
    return folder


MIGRATIONS = _folder("migrations")  # Alembic's env.py and versions/
DEMO_DATA = _folder("demo_data")  # OpenStreetMap extracts of central Helsinki (ODbL, README.md)
WEB = _folder("web")  # console/ and node_modules/ (from `npm ci`; only what VENDOR serves ships)
