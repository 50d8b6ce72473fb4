"""The demo data (app/demo_data/helsinki_osm.csv) and the `nearby` command."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app import demo
from app.auth import hash_key
from app.queries.owners import owner_by_key_hash


async def test_the_demo_loads_every_named_helsinki_store_and_reloading_changes_nothing(
    conn: AsyncConnection,
) -> None:
    first = await demo.load(conn)
    assert first.loaded == 967 and first.skipped == {"no name": 37}
    count = text("SELECT count(*) FROM merchant WHERE owner_id = :o")
    assert await conn.scalar(count, {"o": first.owner_id}) == 967
    # Row versions: an UPDATE makes a new one (a new ctid), even within this one transaction.
    versions = text(
        "SELECT string_agg(ctid::text, ',' ORDER BY id) FROM merchant WHERE owner_id = :o"
    )
    before = await conn.scalar(versions, {"o": first.owner_id})
    second = await demo.load(conn)
    assert (
        second.owner_id == first.owner_id and await conn.scalar(count, {"o": first.owner_id}) == 967
    )
    assert second.skipped == {"no name": 37}
    assert await conn.scalar(versions, {"o": first.owner_id}) == before  # nothing rewritten
    # each load hands out a fresh key; only the newest works
    assert await owner_by_key_hash(conn, api_key_hash=hash_key(second.api_key)) is not None
    assert await owner_by_key_hash(conn, api_key_hash=hash_key(first.api_key)) is None


async def test_unsupported_demo_opening_hours_are_kept_as_attributes(conn: AsyncConnection) -> None:
    loaded = await demo.load(conn)
    rows = await conn.execute(
        text(
            "SELECT opening_hours, attributes FROM merchant"
            " WHERE owner_id = :o AND attributes ? 'opening_hours_unsupported'"
        ),
        {"o": loaded.owner_id},
    )
    kept = rows.all()
    assert len(kept) == 10 and all(r.opening_hours is None for r in kept)


def test_create_owner_prints_a_working_key(database_url: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "create-owner", "CLI owner"],
        env=dict(os.environ, DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "api key: nb_" in out
    key = out.split("api key: ")[1].split()[0]
    import asyncio

    from app.db import make_engine
    from app.settings import Settings

    async def lookup() -> object:
        engine = make_engine(Settings(database_url=database_url))
        try:
            async with engine.connect() as c:
                return await owner_by_key_hash(c, api_key_hash=hash_key(key))
        finally:
            await engine.dispose()

    assert asyncio.run(lookup()) is not None
