"""Throwaway PostgreSQL 15 + PostGIS clusters for tests that stop, restart or replicate their
database (tests/test_outage.py, tests/test_replicas.py), run as the `postgres` user."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from app import migrate

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Cluster:
    """A PostgreSQL cluster in a directory of its own, listening on 127.0.0.1:port only."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data = root / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{port}/nearby"

    def init(self, *, settings: str = "") -> None:
        """initdb, with `settings` appended to postgresql.conf."""
        self.pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.configure(settings)

    def configure(self, settings: str = "") -> None:
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\nfsync = off\nmax_connections = 100\n" + settings
            )

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def kill(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate")

    def _pg_ctl(self, *args: str) -> None:
        self.pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", *args)

    def pg(self, program: str, *args: str) -> None:
        """Run one of PostgreSQL's programs as the `postgres` user (they refuse root)."""
        command = [str(PG_BIN / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def own_directory(prefix: str) -> Path:
    """A fresh temporary directory the `postgres` user owns."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"No PostgreSQL 15 at {PG_BIN}: `make test` installs it (scripts/localdb)")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    return root


@contextmanager
def migrated_cluster(prefix: str, port: int, *, settings: str = "") -> Iterator[Cluster]:
    """A started cluster with database `nearby` migrated to head; removed afterwards."""
    root = own_directory(prefix)
    cluster = Cluster(root, port)
    try:
        cluster.init(settings=settings)
        cluster.start()
        asyncio.run(_create_database(cluster))
        migrate.upgrade(cluster.url)
        yield cluster
    finally:
        cluster.kill()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def hot_standby(primary: Cluster, port: int) -> Iterator[Cluster]:
    """A streaming hot standby of `primary` (`pg_basebackup -R`), started; removed afterwards.

    The primary needs wal_level = replica (the default) and a free WAL sender.
    """
    root = own_directory("nearby-standby-")
    standby = Cluster(root, port)
    try:
        standby.pg(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(standby.data),
            "-R",  # standby.signal, and primary_conninfo in postgresql.auto.conf
            "-X",
            "stream",
            "-c",
            "fast",
        )
        standby.configure("hot_standby = on\n")  # the later port wins over the copied one
        standby.start()
        yield standby
    finally:
        standby.kill()
        shutil.rmtree(root, ignore_errors=True)


async def _create_database(cluster: Cluster) -> None:
    conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
    try:
        await conn.execute("CREATE DATABASE nearby")
    finally:
        await conn.close()
