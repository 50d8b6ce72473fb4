"""Throwaway PostgreSQL 15 + PostGIS clusters for tests that need a server of their own: to stop
and restart it (tests/test_outage.py), to turn TLS and passwords on (tests/test_postgres_urls.py),
or to make roles (tests/test_least_privilege.py).

`own_cluster(...)` initialises one in a temporary directory, starts it as the `postgres` user
(initdb and postgres refuse to run as root), and removes it afterwards. The server binaries come
with scripts/localdb's package (`make test` installs it); a test never skips without them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class Cluster:
    """A PostgreSQL cluster in `root`, on 127.0.0.1:`port` (and a unix socket in root/socket)."""

    def __init__(self, root: Path, port: int, *, password: str | None = None) -> None:
        self.root, self.port, self.password = root, port, password
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.url = self.url_of("nearby")

    def url_of(self, database: str, *, user: str = "postgres", query: str = "") -> str:
        """A TCP URL to `database` as `user` (with the superuser's password when there is one)."""
        secret = f":{quote(self.password, safe='')}" if self.password and user == "postgres" else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{database}{query}"

    def init(self) -> None:
        """initdb with `postgres` as the superuser: trust, or scram-sha-256 with `password`."""
        self.socket_dir.mkdir(exist_ok=True)
        auth = ["--auth=trust"]
        if self.password is not None:
            secret = self.root / "pwfile"
            secret.write_text(self.password + "\n")
            auth = ["--auth=scram-sha-256", f"--pwfile={secret}"]
        if os.geteuid() == 0:
            for path in (self.root, *self.root.iterdir()):
                shutil.chown(path, "postgres", "postgres")
        self._pg("initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", *auth)
        with (self.data / "postgresql.conf").open("a") as settings:
            settings.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                "fsync = off\nmax_connections = 100\n"
            )

    def configure(self, conf: str) -> None:
        """Append `conf` to postgresql.conf (takes effect at the next start)."""
        with (self.data / "postgresql.conf").open("a") as settings:
            settings.write(conf)

    def allow(self, hba: str) -> None:
        """Replace pg_hba.conf with `hba` (takes effect at the next start)."""
        (self.data / "pg_hba.conf").write_text(hba)

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def kill(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate")

    async def execute(
        self, sql: str, *, database: str = "postgres", user: str = "postgres"
    ) -> None:
        """Run `sql` (several statements allowed) as `user` over the unix socket."""
        conn = await asyncpg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=user,
            password=self.password if user == "postgres" else None,
            database=database,
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def clone(self, primary: Cluster) -> None:
        """Make this cluster a streaming hot standby of `primary` (`pg_basebackup -R`: a copy
        of its data, standby.signal, primary_conninfo); start it after. The primary needs
        wal_level = replica (the default) and a free WAL sender."""
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.root, self.socket_dir):
                shutil.chown(path, "postgres", "postgres")
        self._pg(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(self.data), "-R", "-X", "stream", "-c", "fast"),
        )
        # The copied postgresql.conf is the primary's: the later lines win.
        self.configure(
            f"port = {self.port}\nunix_socket_directories = '{self.socket_dir}'\nhot_standby = on\n"
        )

    def own(self, path: Path) -> None:
        """Give `path` to the server's user (files it must read, like its TLS key)."""
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    def _pg_ctl(self, *args: str) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", *args)

    def _pg(self, program: str, *args: str) -> None:
        command = [str(PG_BIN / program), *args]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr.decode()[-2000:]}\n{tail}"
            )


@contextmanager
def own_cluster(
    port: int,
    *,
    prefix: str,
    password: str | None = None,
    setup: Callable[[Cluster], None] | None = None,
    database: str | None = "nearby",
) -> Iterator[Cluster]:
    """A started cluster with an empty `database` (None: none), removed afterwards. `setup`
    runs between initdb and the first start (to configure TLS, say)."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"No PostgreSQL 15 at {PG_BIN}: `make test` installs it (scripts/localdb)")
    root = Path(tempfile.mkdtemp(prefix=f"nearby-{prefix}-"))
    root.chmod(0o755)
    cluster = Cluster(root, port, password=password)
    try:
        cluster.init()
        if setup is not None:
            setup(cluster)
        cluster.start()
        if database is not None:
            asyncio.run(cluster.execute(f'CREATE DATABASE "{database}"'))
        yield cluster
    finally:
        cluster.kill()
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def hot_standby(primary: Cluster, port: int) -> Iterator[Cluster]:
    """A started streaming hot standby of `primary` (`Cluster.clone`), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="nearby-standby-"))
    root.chmod(0o755)
    standby = Cluster(root, port, password=primary.password)
    try:
        standby.clone(primary)
        standby.start()
        yield standby
    finally:
        standby.kill()
        shutil.rmtree(root, ignore_errors=True)
