"""Where a PostgreSQL server is and how to reach it: any libpq connection string, made into
asyncpg connections; and why a connection or a migration failed, in one line.

The one owner of connection parameters: the engine (app/db.py), the migrations
(app/migrations/env.py) and the CLI's checks (app/cli.py) all connect through a `Target`.

`Target.parse` takes what libpq takes:
- URLs, `postgresql://` or `postgres://` (and `postgresql+asyncpg://` with `?ssl=`, SQLAlchemy's
  spellings):
  several hosts (`h1:5432,h2:5433`), a unix socket as a percent-encoded host
  (`postgresql://%2Fvar%2Frun%2Fpostgresql/nearby`) or as `?host=/var/run/postgresql`, and the
  parameters `sslmode` (disable, allow, prefer, require, verify-ca, verify-full), `sslrootcert`,
  `sslcert`, `sslkey`, `sslpassword`, `sslcrl`, `passfile`, `options` (`-c search_path=...`),
  `application_name`, `fallback_application_name`, `connect_timeout`, `target_session_attrs`
  and any server setting (`?search_path=...` is sent at start-up, as asyncpg does);
- `key=value` connection strings (`host=db.example.com dbname=nearby sslmode=require`);
- nothing at all: then, as for psql, everything comes from the environment.
What the string leaves out comes from libpq's environment variables: PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE, PGPASSFILE (else ~/.pgpass), PGSSLMODE, PGSSLROOTCERT, PGSSLCERT,
PGSSLKEY, PGSSLCRL, PGSERVICE, PGTARGETSESSIONATTRS (asyncpg reads these), and PGOPTIONS,
PGAPPNAME, PGCONNECT_TIMEOUT (read here, as asyncpg does not).

asyncpg's own DSN parser does the rest: `parse` only rewrites what asyncpg would get wrong
(parameters it would send to the server as settings, which the server then refuses) and refuses,
by name, what it cannot honour.
"""

from __future__ import annotations

import errno
import getpass
import os
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import asyncpg
from sqlalchemy.exc import DBAPIError

SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
APPLICATION_NAME = "nearby"  # what pg_stat_activity shows unless the string says otherwise

# libpq parameters for the client's own TCP stack, which asyncpg manages its own way: accepted
# and left alone, so a string written for psql works as it is.
_TRANSPORT_ONLY = frozenset(
    {
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "sslcompression",
        "sslsni",
        "gssencmode",  # only when not `require` (below)
        "channel_binding",  # only when not `require` (below)
        "load_balance_hosts",  # only when not `random` (below)
    }
)
# libpq parameters asyncpg cannot honour: silently dropping them would weaken what was asked.
_UNSUPPORTED = {
    "hostaddr": "give the address as the host",
    "requirepeer": "asyncpg cannot check the server process's user",
    "require_auth": "asyncpg cannot restrict the authentication method",
    "replication": "nearby needs an ordinary session",
    "sslcertmode": "asyncpg sends a client certificate whenever sslcert is given",
}
_INSISTENT = {"gssencmode": "require", "channel_binding": "require", "load_balance_hosts": "random"}


_SSL_MODES = {"true": "require", "1": "require", "false": "disable", "0": "disable"} | {
    mode: mode for mode in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
}


# Parameters naming a file the client reads, and their environment variables.
_FILES = {
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
}


class DatabaseURLError(ValueError):
    """The connection string cannot be understood; the message says what is wrong."""


@dataclass(frozen=True)
class Target:
    """A PostgreSQL server and database to connect to, with every connection parameter."""

    dsn: str  # a postgresql:// URL for asyncpg.connect: no libpq-only parameters left in it
    connect_timeout_s: float | None  # from connect_timeout / PGCONNECT_TIMEOUT, when given
    # For messages, as asyncpg resolves them (never the password):
    server: str = field(compare=False)  # "host:port", "h1:5432,h2:5432", "/run/postgresql"
    user: str = field(compare=False)
    database: str = field(compare=False)
    # The files the connection reads (sslrootcert, sslcert, ...): (parameter, path) pairs.
    files: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def where(self) -> str:
        return f"{self.server} (database {self.database}, role {self.user})"

    @classmethod
    def parse(cls, text: str | None, environ: Mapping[str, str] | None = None) -> Target:
        """The target of a URL or `key=value` string (None or "": the environment's).

        `environ` stands for os.environ in what is read here (PGOPTIONS, PGAPPNAME,
        PGCONNECT_TIMEOUT, and the defaults in messages); asyncpg reads os.environ itself."""
        env = os.environ if environ is None else environ
        text = (text or "").strip()
        if not text:
            text = "postgresql://"
        elif "://" not in text:
            text = _url_of_keywords(text)
        parts = urlsplit(text)
        if parts.scheme not in SCHEMES:
            raise DatabaseURLError(
                f"the database URL must start with postgresql:// or postgres://, "
                f"not {parts.scheme}://"
            )
        try:
            query = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True))
        except ValueError:
            raise DatabaseURLError(
                f"the database URL's parameters are malformed: ?{parts.query}"
            ) from None
        query = {key: value for key, value in query.items() if value != ""}
        for name, reason in _UNSUPPORTED.items():
            if name in query:
                raise DatabaseURLError(f"the database URL's {name} is not supported: {reason}")
        for name, refused in _INSISTENT.items():
            if query.get(name) == refused:
                raise DatabaseURLError(
                    f"the database URL's {name}={refused} is not supported by asyncpg"
                )
        for name in _TRANSPORT_ONLY:
            query.pop(name, None)
        if "ssl" in query:  # SQLAlchemy's asyncpg spelling (`?ssl=require`), libpq's sslmode
            ssl_mode = _SSL_MODES.get(query.pop("ssl").lower())
            if ssl_mode is None:
                raise DatabaseURLError("the database URL's ssl must be true, false or an sslmode")
            query.setdefault("sslmode", ssl_mode)
        timeout = _timeout(query.pop("connect_timeout", None) or env.get("PGCONNECT_TIMEOUT"))
        fallback = query.pop("fallback_application_name", None)
        query.setdefault("application_name", env.get("PGAPPNAME") or fallback or APPLICATION_NAME)
        if "options" not in query and env.get("PGOPTIONS"):
            query["options"] = env["PGOPTIONS"]
        dsn = f"postgresql://{parts.netloc}{parts.path}?{urlencode(query, quote_via=quote)}"
        server, user, database = _described(parts.netloc, parts.path, query, env)
        files = tuple(
            (name, path)
            for name, variable in _FILES.items()
            if (path := query.get(name) or env.get(variable))
        )
        return cls(dsn, timeout, server, user, database, files)

    async def connect(
        self, *, timeout_s: float, server_settings: Mapping[str, str] | None = None
    ) -> asyncpg.Connection:
        """A new asyncpg connection; the string's connect_timeout wins over `timeout_s`."""
        return await asyncpg.connect(
            dsn=self.dsn,
            timeout=self.connect_timeout_s or timeout_s,
            server_settings=dict(server_settings or {}),
        )


def _timeout(value: str | None) -> float | None:
    """libpq's connect_timeout: whole seconds, 0 or negative for none, 1 taken as 2."""
    if value is None or value == "":
        return None
    try:
        seconds = int(value)
    except ValueError:
        raise DatabaseURLError(f"connect_timeout must be whole seconds, not {value!r}") from None
    return None if seconds <= 0 else float(max(seconds, 2))


# One `key = value` of a libpq keyword string: a bare word, or single-quoted with \' and \\.
_KEYWORD = re.compile(r"\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|([^\s']+))\s*")


def _url_of_keywords(text: str) -> str:
    """`host=h port=5432 dbname=d ...` as a postgresql:// URL carrying the same parameters."""
    query: dict[str, str] = {}
    at = 0
    while at < len(text):
        match = _KEYWORD.match(text, at)
        if match is None:
            raise DatabaseURLError(
                "the database URL must look like postgresql://user@host:port/dbname "
                "or host=... dbname=..."
            )
        quoted, bare = match.group(2), match.group(3)
        query[match.group(1)] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        at = match.end()
    return "postgresql://?" + urlencode(query, quote_via=quote)


def _described(
    netloc: str, path: str, query: Mapping[str, str], env: Mapping[str, str]
) -> tuple[str, str, str]:
    """(server, user, database) as asyncpg resolves them."""
    auth, _, hosts = netloc.rpartition("@")
    url_user = unquote(auth.partition(":")[0])
    user = url_user or query.get("user") or env.get("PGUSER") or _login()
    hosts = unquote(hosts) or query.get("host") or env.get("PGHOST") or ""
    port = query.get("port") or env.get("PGPORT") or "5432"
    if not hosts:
        hosts = "the local socket"
    else:
        hosts = ",".join(
            host if re.search(r":\d+$", host) else f"{host}:{port}" for host in hosts.split(",")
        )
    database = (
        unquote(path.lstrip("/"))
        or query.get("dbname")
        or query.get("database")
        or env.get("PGDATABASE")
        or user
    )
    return hosts, user, database


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


# What a connection attempt or a migration may raise, in one line for people.


def explain(exc: BaseException, target: Target) -> str | None:
    """One line saying what is wrong and what to do, for errors of reaching `target` or of
    its privileges and schema; None for anything else (a bug keeps its traceback)."""
    for cause in _chain(exc):
        line = _explained(cause, target)
        if line is not None:
            return line
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(seen) < 8 and current not in seen:
        seen.append(current)
        if isinstance(current, DBAPIError) and current.orig is not None:
            current = current.orig
        else:
            current = current.__cause__ or current.__context__
    return seen


def _explained(exc: BaseException, target: Target) -> str | None:  # noqa: PLR0911 (a table)
    at = target.where
    message = " ".join(str(exc).split())
    if isinstance(exc, DatabaseURLError):
        return f"DATABASE_URL: {message}"
    if isinstance(exc, asyncpg.ClientConfigurationError):
        return f"DATABASE_URL: {message}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or message
        hint = (
            "the certificate does not name this host: connect by a name it carries"
            if "mismatch" in reason
            else "sslrootcert must be the CA that signed the server's certificate"
        )
        refused = "the server's TLS certificate was refused"
        return f"cannot connect to {at}: {refused}: {reason} ({hint})"
    if isinstance(exc, ssl.SSLError):
        return f"cannot connect to {at}: TLS failed ({exc.reason or message})"
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return f"cannot connect to {at}: authentication failed ({message})"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"cannot connect to {at}: the server refused the connection ({message})"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return (
            f'cannot connect to {at}: database "{target.database}" does not exist '
            f'(a superuser can create it: CREATE DATABASE "{target.database}";)'
        )
    if isinstance(exc, asyncpg.CannotConnectNowError):
        return f"cannot connect to {at}: {message}"
    if isinstance(exc, asyncpg.TooManyConnectionsError):
        return f"cannot connect to {at}: {message}"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {at}: connection refused (is PostgreSQL running there?)"
    if isinstance(exc, TimeoutError):
        return f"cannot connect to {at}: no answer in time (host, port or a firewall?)"
    if isinstance(exc, FileNotFoundError | PermissionError):
        return _unreadable(exc, target)
    if isinstance(exc, ConnectionError | socket.gaierror) or (
        isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS
    ):
        return f"cannot connect to {at}: {exc.strerror or message}"
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return _privilege(message, target)
    if isinstance(exc, asyncpg.PostgresError) and re.search(
        r'extension "postgis" is not available|extension control file .*postgis', message
    ):
        return (
            f"PostGIS is not installed on the server of {at}: install it there "
            "(Debian/Ubuntu: the postgresql-NN-postgis-3 package; managed services: enable "
            "the postgis extension), then run nearby migrate"
        )
    return None


_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EADDRNOTAVAIL,
    errno.ETIMEDOUT,
}


def _unreadable(exc: OSError, target: Target) -> str | None:
    """A file of the connection's that cannot be read, or a socket directory with no server;
    None when the error is not the connection's (a file of the command's own)."""
    for name, path in target.files:
        if not os.access(path, os.R_OK):
            reason = "no such file" if not os.path.exists(path) else "not readable"
            return f"cannot connect to {target.where}: {name} {path}: {reason}"
    if target.server.startswith("/"):
        return (
            f"cannot connect to {target.where}: no PostgreSQL socket there "
            f"({exc.strerror}; is the server running, with unix_socket_directories there?)"
        )
    return None


def _privilege(message: str, target: Target) -> str:
    role, database = target.user, target.database
    extension = re.search(r'permission denied to create extension "([^"]+)"', message)
    if extension:
        name = extension.group(1)
        return (
            f"role {role} may not create the {name} extension (not a superuser): ask a "
            f'superuser to run CREATE EXTENSION {name}; in database "{database}", '
            "then run nearby migrate again"
        )
    schema = re.search(r"permission denied for schema (\S+)", message)
    if schema:
        return (
            f'role {role} may not use schema {schema.group(1)} of database "{database}" '
            f"({message}): grant it the privileges in the README (Deploying on your own "
            "PostgreSQL), or migrate as the schema's owner"
        )
    if message.startswith("must be owner"):
        return (
            f"role {role} does not own the schema's tables ({message}): run nearby migrate "
            "as their owner"
        )
    return (
        f'role {role} lacks a privilege in database "{database}" ({message}): see the README '
        "(Deploying on your own PostgreSQL) for the roles and grants"
    )
