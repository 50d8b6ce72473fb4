"""The migrations: forward on an empty database and on an up-to-date one, back, forward again,
and the result matches app/tables.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from app import migrate
from app.db import make_engine
from app.settings import Settings
from app.tables import metadata
from tests.conftest import create_database, database_url_for, drop_database, server_url


@pytest.fixture
def fresh_url() -> Iterator[str]:
    server, name = server_url(), f"nearby_migrations_{uuid.uuid4().hex[:8]}"
    asyncio.run(create_database(server, name))
    try:
        yield database_url_for(server, name)
    finally:
        asyncio.run(drop_database(server, name))


def test_upgrade_downgrade_upgrade(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)
    migrate.upgrade(fresh_url)  # already at head: nothing to do, no error
    migrate.downgrade(fresh_url, "base")
    migrate.upgrade(fresh_url)


def test_the_migrated_schema_matches_the_table_definitions(database_url: str) -> None:
    def differences(sync_conn: Connection) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        diffs: list[Any] = compare_metadata(context, metadata)
        return diffs

    async def run() -> list[Any]:
        engine = make_engine(Settings(database_url=database_url))
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(differences)
        finally:
            await engine.dispose()

    ignored = {"spatial_ref_sys", "alembic_version"}
    diff = [d for d in asyncio.run(run()) if not (d[0] == "remove_table" and d[1].name in ignored)]
    assert diff == []
