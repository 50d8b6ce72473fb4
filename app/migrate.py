"""Bring a database to the newest schema, and tell whether it is there.

The service and the tests call `upgrade`, with the Alembic configuration built here around the
scripts in app/migrations (package data: the same in a checkout and an installed wheel);
alembic.ini serves the `alembic` command by hand in a checkout.
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import pool

from app.package_data import MIGRATIONS

if TYPE_CHECKING:
    from app.postgres import Target

CONNECT_TIMEOUT_S = 10.0


class NotMigrated(Exception):
    """The database is not at the revision this code needs; the message says what to do."""


def alembic_config(database_url: str | None = None) -> Config:
    """The configuration for `database_url`, any libpq connection string (app/postgres.py):
    app/migrations/env.py connects through app.postgres like the service, so a URL the service
    takes, the migrations take too."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Run the migrations up to `revision`. Blocking: call it outside the event loop."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


@cache
def head_revision() -> str:
    """The newest revision of the scripts: read (and imported) once per process, as the scripts
    cannot change under a running service."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "app/migrations/versions holds no revision"
    return head


def require_head(database_url: str) -> None:
    """Raise NotMigrated unless the database is at the newest revision (`--no-migrate`: the
    role may lack the privileges to migrate, and must not start on another schema)."""
    from app.postgres import Target

    target = Target.parse(database_url)
    revision, head = asyncio.run(_revision(target)), head_revision()
    if revision == head:
        return
    at = f"database {target.database} on {target.server}"
    if revision is None:
        raise NotMigrated(f"{at} is not migrated: run nearby migrate (as the schema's owner)")
    known = ScriptDirectory.from_config(alembic_config())
    if revision in {script.revision for script in known.walk_revisions()}:
        raise NotMigrated(
            f"{at} is at revision {revision}, this nearby needs {head}: run nearby migrate "
            "(as the schema's owner)"
        )
    raise NotMigrated(
        f"{at} is at revision {revision}, unknown to this nearby (which needs {head}): "
        "a newer nearby migrated it; run that version"
    )


async def _revision(target: Target) -> str | None:
    from app.db import engine_for
    from app.queries import operations as operations_sql

    engine = engine_for(target, connect_timeout_s=CONNECT_TIMEOUT_S, poolclass=pool.NullPool)
    try:
        async with engine.connect() as conn:
            return await operations_sql.schema_revision(conn)
    finally:
        await engine.dispose()
