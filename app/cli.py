"""The `nearby` command: serve the API, migrate, create owners, load the demo data, import."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from app import apps, demo, merchants, migrate, server
from app.db import make_engine
from app.imports import cli as import_cli
from app.schemas.imports import ImportFormat
from app.settings import Settings
from spatial import CoordSystem

T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nearby", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate, then run the HTTP service")
    serve.add_argument("--demo", action="store_true", help="load the Helsinki demo stores first")
    serve.add_argument("--host", help="default NEARBY_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default NEARBY_PORT or 8000")
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="bring the database to the newest schema")
    create_owner = commands.add_parser("create-owner", help="create an owner and print its API key")
    create_owner.add_argument("name")
    commands.add_parser("load-demo", help="load (or refresh) the Helsinki demo stores")
    store_list = commands.add_parser(
        "import",
        help="import a store list for an owner (exit 1 if rows were rejected, 2 if it failed)",
    )
    store_list.add_argument("file", type=Path, help="a CSV, GeoJSON or NDJSON store list")
    store_list.add_argument("--owner", required=True, help="the owner's id or exact name")
    store_list.add_argument(
        "--format",
        choices=[f.value for f in ImportFormat],
        help="default: from the file name (.csv, .geojson/.json, .ndjson/.jsonl)",
    )
    store_list.add_argument(
        "--coord",
        choices=[c.value for c in CoordSystem],
        default="wgs84",
        help="the coordinate system of the file (default wgs84)",
    )
    store_list.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="read a field from a column (or key) of another name (FIELD= : not at all)",
    )
    store_list.add_argument("--errors", type=Path, help="write every rejected row to this CSV")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    if args.command == "migrate":
        migrate.upgrade(settings.async_database_url)
    elif args.command == "create-owner":
        row, api_key = _run(settings, lambda conn: merchants.create_owner(conn, name=args.name))
        _say(f"owner {row.id} ({row.name})\napi key: {api_key}\n(the key is shown only now)")
    elif args.command == "load-demo":
        migrate.upgrade(settings.async_database_url)
        _report_demo(_run(settings, lambda conn: demo.load(conn, box=apps.box_of(settings))))
    elif args.command == "import":
        migrate.upgrade(settings.async_database_url)
        return import_cli.run(settings, args)
    elif args.command == "serve":
        migrate.upgrade(settings.async_database_url)
        if args.demo:
            _report_demo(_run(settings, lambda conn: demo.load(conn, box=apps.box_of(settings))))
        _serve(
            settings,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=args.workers,
        )
    return 0


def _serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    if settings.admin_key is None:
        _say("NEARBY_ADMIN_KEY is not set: admin routes (creating owners) will answer 401.")
    _say(f"Nearby on http://{host}:{port}/  (API docs at /docs)")
    server.serve(settings, host=host, port=port, workers=workers)


def _report_demo(loaded: demo.DemoLoad) -> None:
    skipped = ", ".join(f"{n} {why}" for why, n in loaded.skipped.items()) or "none"
    _say(
        f"demo: {loaded.loaded} Helsinki stores loaded (skipped: {skipped})\n"
        f"demo offers: {', '.join(loaded.offers) or 'none'}\n"
        f"demo owner {loaded.owner_id}\ndemo owner key: {loaded.api_key}"
    )
    if loaded.app is not None:
        _say(
            f"demo app {loaded.app.row.id}\ndemo app key: {loaded.app.app_key}\n"
            f"demo app signing secret: {loaded.app.signing_secret}"
        )


def _run(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def go() -> T:
        engine = make_engine(settings)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
