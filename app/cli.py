"""The `nearby` command: serve the API, migrate, create owners, load the demo data, import."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.config
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

from app import logs
from app.schemas.imports import ImportFormat
from app.settings import Settings
from spatial import CoordSystem

# Every worker of `serve --workers N` is a fresh interpreter that imports this module before it
# answers its supervisor's health checks: what only some commands need is imported in them.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from app import demo

T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nearby", description=__doc__)
    version = f"nearby {metadata.version('nearby')}"
    parser.add_argument("--version", action="version", version=version)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate, then run the HTTP service")
    serve.add_argument("--demo", action="store_true", help="load the Helsinki demo stores first")
    serve.add_argument("--host", help="default NEARBY_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default NEARBY_PORT or 8000")
    serve.add_argument(
        "--workers", type=_positive, default=1, help="processes serving requests (default 1)"
    )
    commands.add_parser("migrate", help="bring the database to the newest schema")
    create_owner = commands.add_parser("create-owner", help="create an owner and print its API key")
    create_owner.add_argument("name")
    load_demo = commands.add_parser("load-demo", help="load (or refresh) the Helsinki demo stores")
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
    for migrating in (serve, load_demo, store_list):
        migrating.add_argument(
            "--no-migrate",
            dest="migrate",
            action="store_false",
            help="do not migrate: check that the database is migrated and leave it (a role "
            "with only row privileges can run it; `nearby migrate` as the schema's owner first)",
        )
    args = parser.parse_args(argv)

    settings = Settings()
    log_format: logs.LogFormat = settings.log_format or (
        "json" if args.command == "serve" else "text"
    )
    logging.config.dictConfig(logs.config(log_format))
    try:
        return _command(args, settings, log_format)
    except Exception as exc:
        line = _explained(exc, settings)
        if line is None:
            raise
        sys.stderr.write(f"nearby {args.command}: {line}\n")
        # `import` keeps its documented statuses: 1 says rows were rejected, 2 that it failed.
        return 2 if args.command == "import" else 1


def _command(args: argparse.Namespace, settings: Settings, log_format: logs.LogFormat) -> int:
    from app import merchants
    from app.imports import cli as import_cli

    if args.command == "migrate":
        _migrated(settings, migrate=True)
    elif args.command == "create-owner":
        row, api_key = _run(settings, lambda conn: merchants.create_owner(conn, name=args.name))
        _say(f"owner {row.id} ({row.name})\napi key: {api_key}\n(the key is shown only now)")
    elif args.command == "load-demo":
        _migrated(settings, migrate=args.migrate)
        _report_demo(_load_demo(settings))
    elif args.command == "import":
        _migrated(settings, migrate=args.migrate)
        return import_cli.run(settings, args)
    elif args.command == "serve":
        _migrated(settings, migrate=args.migrate)
        if args.demo:
            _report_demo(_load_demo(settings))
        _serve(
            settings,
            host=args.host or settings.host,
            port=args.port or settings.port,
            workers=args.workers,
            log_format=log_format,
        )
    return 0


def _migrated(settings: Settings, *, migrate: bool) -> None:
    """Bring the database to the newest schema, or (`--no-migrate`) check that it is there."""
    from app import migrate as migrations

    if migrate:
        migrations.upgrade(settings.database_url)
    else:
        migrations.require_head(settings.database_url)


def _explained(exc: Exception, settings: Settings) -> str | None:
    """One line for what an operator can fix (the connection string, the server, privileges,
    PostGIS, the schema's revision); None for a bug, which keeps its traceback."""
    from app import migrate, postgres

    if isinstance(exc, migrate.NotMigrated):
        return str(exc)
    try:
        target = settings.database
    except postgres.DatabaseURLError as wrong:
        return f"DATABASE_URL: {wrong}"
    return postgres.explain(exc, target)


# A worker that has not answered its supervisor's ping for this long is killed and replaced.
# uvicorn's 5 s lost workers at start-up on a busy machine: each one is a fresh interpreter that
# imports the service (measured 5-10 s at a load of 9 on 2 cores) before its answers are prompt.
WORKER_HEALTHCHECK_S = 60


def _serve(
    settings: Settings, *, host: str, port: int, workers: int, log_format: logs.LogFormat
) -> None:
    from app import server

    if settings.admin_key is None:
        _say("NEARBY_ADMIN_KEY is not set: admin routes (creating owners) will answer 401.")
    _say(f"Nearby on http://{host}:{port}/  (API docs at /docs)")
    # uvicorn re-raises SIGTERM/SIGINT once it has shut down gracefully; that stop is a clean exit.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _stopped)
    with _metrics_shared_by(workers):
        server.serve(
            settings,
            host=host,
            port=port,
            workers=workers,
            log_config=logs.config(log_format),
            timeout_graceful_shutdown=settings.graceful_shutdown_s,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )


@contextmanager
def _metrics_shared_by(workers: int) -> Iterator[None]:
    """With several workers, a fresh PROMETHEUS_MULTIPROC_DIR for this run (app/metrics.py): an
    operator's own is made if missing and emptied, one made here is removed afterwards."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if workers == 1 and given is None:
        yield
        return
    if given is not None:
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    made = tempfile.mkdtemp(prefix="nearby-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = made
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(made, ignore_errors=True)


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _load_demo(settings: Settings) -> demo.DemoLoad:
    """Load the demo; its owner keeps the key saved under NEARBY_STATE_DIR, if that is set."""
    from app import apps, demo

    key = demo.kept_key(settings.state_dir) if settings.state_dir else None
    box = apps.box_of(settings)
    return _run(settings, lambda conn: demo.load(conn, api_key=key, box=box))


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
    from app.db import make_engine

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
