"""Bring a database to the newest schema, and tell whether it is there.

The service and the tests call `upgrade`, with the Alembic configuration built here around the
scripts in app/migrations (package data: the same in a checkout and an installed wheel);
alembic.ini serves the `alembic` command by hand in a checkout.
"""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.package_data import MIGRATIONS


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
