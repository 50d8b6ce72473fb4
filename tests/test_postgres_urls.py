"""Any PostgreSQL a user has (app/postgres.py): libpq's URL forms and parameters, the PG*
environment, TLS with `sslmode=require` and `verify-full`, and one-line errors.

The server is a cluster of the test's own (port 27500) with TLS on, a certificate for
`localhost` signed by a CA the test makes (the `cryptography` package), passwords
(scram-sha-256) and plain-text TCP refused.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app import migrate
from app.db import make_engine
from app.main import create_app
from app.postgres import APPLICATION_NAME, DatabaseURLError, Target, explain
from app.settings import Settings
from tests.cluster import Cluster, own_cluster

PG_PORT = 27500
PASSWORD = "s3cret pass/word"  # a space and a slash: it must be quoted in URLs
SECRET = quote(PASSWORD, safe="")
NEARBY = Path(sys.executable).with_name("nearby")


@dataclass(frozen=True)
class Tls:
    cluster: Cluster
    ca: Path  # the CA that signed the server's certificate (for `localhost` only)
    wrong_ca: Path  # another CA

    def url(self, host: str = "localhost", query: str = "", database: str = "nearby") -> str:
        return f"postgresql://postgres:{SECRET}@{host}:{PG_PORT}/{database}{query}"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    certs = tmp_path_factory.mktemp("certs")
    ca_key, ca = _ca("Nearby test CA")
    _, wrong = _ca("Some other CA")
    (certs / "ca.pem").write_bytes(_pem(ca))
    (certs / "wrong-ca.pem").write_bytes(_pem(wrong))
    server_key, server = _server_cert(ca_key, ca)

    def with_tls(cluster: Cluster) -> None:
        key_file, cert_file = cluster.root / "server.key", cluster.root / "server.crt"
        cert_file.write_bytes(_pem(server))
        key_file.write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_file.chmod(0o600)
        cluster.own(key_file)
        cluster.own(cert_file)
        cluster.configure(f"ssl = on\nssl_cert_file = '{cert_file}'\nssl_key_file = '{key_file}'\n")
        cluster.allow(
            "local all all scram-sha-256\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostssl all all ::1/128 scram-sha-256\n"
            "hostnossl all all all reject\n"
        )

    with own_cluster(PG_PORT, prefix="tls", password=PASSWORD, setup=with_tls) as cluster:
        yield Tls(cluster, certs / "ca.pem", certs / "wrong-ca.pem")


async def _session(target: Target) -> dict[str, object]:
    """What the server says about a connection made from `target`."""
    conn = await target.connect(timeout_s=10)
    try:
        row = await conn.fetchrow(
            """SELECT s.ssl, current_user AS user, current_database() AS database,
                      current_setting('search_path') AS search_path,
                      current_setting('application_name') AS application_name,
                      inet_server_addr() IS NULL AS unix_socket
               FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"""
        )
        assert row is not None
        return dict(row)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "query",
    [
        "?sslmode=require",
        "?sslmode=verify-ca&sslrootcert={ca}",
        "?sslmode=verify-full&sslrootcert={ca}",
        "?sslmode=prefer",
    ],
)
def test_tls_modes_connect_over_tls(tls: Tls, query: str) -> None:
    url = tls.url(query=query.format(ca=quote(str(tls.ca))))
    session = asyncio.run(_session(Target.parse(url)))
    assert session["ssl"] is True and session["user"] == "postgres"


def test_the_scheme_postgres_and_a_keyword_string_connect_too(tls: Tls) -> None:
    short = f"postgres://postgres:{SECRET}@localhost:{PG_PORT}/nearby?sslmode=verify-full"
    keywords = (
        f"host=localhost port={PG_PORT} dbname=nearby user=postgres "
        f"password='{PASSWORD}' sslmode=verify-full sslrootcert='{tls.ca}'"
    )
    for text in (f"{short}&sslrootcert={quote(str(tls.ca))}", keywords):
        session = asyncio.run(_session(Target.parse(text)))
        assert session["ssl"] is True and session["database"] == "nearby"


async def test_the_migrations_and_the_service_run_over_verify_full(tls: Tls) -> None:
    url = tls.url(query=f"?sslmode=verify-full&sslrootcert={quote(str(tls.ca))}")
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings(database_url=url, admin_key="tls-admin", delivery=False)
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            raw: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
            assert await raw.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            assert await raw.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
    finally:
        await engine.dispose()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/readyz")).status_code == 200
            owner = await client.post(
                "/v1/owners", json={"name": "TLS"}, headers={"Authorization": "Bearer tls-admin"}
            )
            assert owner.status_code == 201, owner.text
            found = await client.get("/v1/search/nearby", params={"lat": 60.17, "lng": 24.94})
            assert found.status_code == 200, found.text


def _nearby(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEARBY), *args], env=env, capture_output=True, text=True, timeout=120
    )


def _one_line(done: subprocess.CompletedProcess[str], command: str) -> str:
    """The error line of a failed command: the last of stderr, with no traceback anywhere."""
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    assert lines[-1].startswith(f"nearby {command}: "), done.stderr
    return lines[-1]


@pytest.mark.parametrize(
    ("host", "ca", "says"),
    [
        ("localhost", "wrong_ca", "unable to get local issuer certificate (sslrootcert must"),
        ("127.0.0.1", "ca", "IP address mismatch"),  # the certificate names `localhost` only
    ],
)
def test_verify_full_with_a_wrong_ca_or_host_fails_in_one_line(
    tls: Tls, host: str, ca: str, says: str
) -> None:
    query = f"?sslmode=verify-full&sslrootcert={quote(str(getattr(tls, ca)))}"
    env = {**os.environ, "DATABASE_URL": tls.url(host=host, query=query)}
    done = _nearby("migrate", env=env)
    assert done.returncode == 1
    line = _one_line(done, "migrate")
    assert line.startswith(
        f"nearby migrate: cannot connect to {host}:{PG_PORT} (database nearby, role postgres): "
        "the server's TLS certificate was refused: "
    ), line
    assert says in line, line


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            f"postgresql://postgres:wrong@localhost:{PG_PORT}/nearby?sslmode=require",
            'authentication failed (password authentication failed for user "postgres")',
        ),
        (
            f"postgresql://postgres:{SECRET}@localhost:{PG_PORT}/elsewhere?sslmode=require",
            'database "elsewhere" does not exist (a superuser can create it: '
            'CREATE DATABASE "elsewhere";)',
        ),
        (
            f"postgresql://postgres:{SECRET}@localhost:{PG_PORT}/nearby?sslmode=disable",
            "the server refused the connection (pg_hba.conf rejects connection",
        ),
        (
            f"postgresql://postgres@127.0.0.1:{PG_PORT + 99}/nearby",
            f"cannot connect to 127.0.0.1:{PG_PORT + 99} (database nearby, role postgres): "
            "connection refused (is PostgreSQL running there?)",
        ),
        (
            f"postgresql://postgres:{SECRET}@localhost:{PG_PORT}/nearby?sslmode=verify-full"
            "&sslrootcert=/nonexistent/ca.pem",
            "(database nearby, role postgres): sslrootcert /nonexistent/ca.pem: no such file",
        ),
        (
            "postgresql://postgres@%2Fnonexistent%2Fsocket/nearby",
            "cannot connect to /nonexistent/socket:5432 (database nearby, role postgres): no "
            "PostgreSQL socket there",
        ),
        ("mysql://root@localhost/nearby", "DATABASE_URL: the database URL must start with"),
        (
            f"postgresql://localhost:{PG_PORT}/nearby?sslmode=sometimes",
            "DATABASE_URL: `sslmode` parameter must be one of",
        ),
    ],
)
def test_what_keeps_a_connection_from_being_made_is_said_in_one_line(
    tls: Tls, url: str, says: str
) -> None:
    async def attempt() -> str | None:
        target = None
        try:
            target = Target.parse(url)
            await target.connect(timeout_s=10)
        except Exception as exc:
            return explain(exc, target or Target.parse("", environ={}))
        raise AssertionError(f"{url} connected")

    line = asyncio.run(attempt())
    assert line is not None and says in line and "\n" not in line, line


def test_serve_says_what_is_wrong_in_one_line_and_exits_1(tls: Tls) -> None:
    """The CLI's way out (the lines themselves: the test above)."""
    url = f"postgresql://postgres:wrong@localhost:{PG_PORT}/nearby?sslmode=require"
    done = _nearby("serve", "--port", str(PG_PORT + 98), env={**os.environ, "DATABASE_URL": url})
    assert done.returncode == 1
    assert "authentication failed" in _one_line(done, "serve")


def test_a_unix_socket_in_the_host_or_in_the_query(tls: Tls) -> None:
    socket = str(tls.cluster.socket_dir)
    for url in (
        f"postgresql://postgres:{SECRET}@{quote(socket, safe='')}:{PG_PORT}/nearby",
        f"postgresql://postgres:{SECRET}@/nearby?host={quote(socket)}&port={PG_PORT}",
    ):
        session = asyncio.run(_session(Target.parse(url)))
        assert session["unix_socket"] is True and session["ssl"] is False


def test_options_and_application_name_reach_the_server(tls: Tls) -> None:
    url = tls.url(
        query="?sslmode=require&options=-c%20search_path%3Dnearby_opts%2Cpublic"
        "&application_name=url-test&connect_timeout=10&keepalives=1"
    )
    session = asyncio.run(_session(Target.parse(url)))
    assert session["search_path"] == "nearby_opts,public"
    assert session["application_name"] == "url-test"
    plain = asyncio.run(_session(Target.parse(tls.url(query="?sslmode=require"))))
    assert plain["application_name"] == APPLICATION_NAME


@pytest.fixture
def pg_environment(tls: Tls, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No DATABASE_URL: everything from libpq's variables, the password from a .pgpass file."""
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"localhost:{PG_PORT}:nearby:postgres:{PASSWORD}\n")
    passfile.chmod(0o600)
    variables = {
        "PGHOST": "localhost",
        "PGPORT": str(PG_PORT),
        "PGUSER": "postgres",
        "PGDATABASE": "nearby",
        "PGPASSFILE": str(passfile),
        "PGSSLMODE": "verify-full",
        "PGSSLROOTCERT": str(tls.ca),
        "PGOPTIONS": "-c search_path=pg_env,public",
        "PGAPPNAME": "pg-env-test",
    }
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


def test_the_pg_environment_variables_fill_in_what_the_url_leaves_out(
    pg_environment: dict[str, str],
) -> None:
    target = Settings().database
    assert target.where == f"localhost:{PG_PORT} (database nearby, role postgres)"
    session = asyncio.run(_session(target))
    assert session == {
        "ssl": True,
        "user": "postgres",
        "database": "nearby",
        "search_path": "pg_env,public",
        "application_name": "pg-env-test",
        "unix_socket": False,
    }
    done = _nearby("migrate", env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    # A URL naming only the database: the rest still from the environment.
    assert asyncio.run(_session(Target.parse("postgresql:///nearby")))["ssl"] is True


# The parsing itself, no server needed.


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("postgresql://u@db.example.com/shop", "db.example.com:5432 (database shop, role u)"),
        ("postgres://u:p@h1:5433,h2/shop", "h1:5433,h2:5432 (database shop, role u)"),
        ("postgresql://u@%2Frun%2Fpostgresql/shop", "/run/postgresql:5432 (database shop, role u)"),
        ("postgresql://u@/shop?host=/tmp&port=6000", "/tmp:6000 (database shop, role u)"),
        ("postgresql+asyncpg://u@[::1]:6000/shop", "[::1]:6000 (database shop, role u)"),
        ("host=h port=6000 user=u dbname='my shop'", "h:6000 (database my shop, role u)"),
        ("postgresql://u@h", "h:5432 (database u, role u)"),
    ],
)
def test_where_a_target_points_is_described_without_its_password(text: str, where: str) -> None:
    target = Target.parse(text, environ={})
    assert target.where == where
    assert "p@" not in target.where


def test_libpq_only_parameters_are_translated_or_left_out_of_the_dsn() -> None:
    target = Target.parse(
        "postgresql://u@h/d?connect_timeout=1&keepalives=1&keepalives_idle=30&sslsni=1"
        "&fallback_application_name=psql&sslmode=require",
        environ={},
    )
    assert target.connect_timeout_s == 2.0  # libpq's minimum
    assert target.dsn == "postgresql://u@h/d?sslmode=require&application_name=psql"
    assert (
        Target.parse("postgresql://u@h/d?connect_timeout=0", environ={}).connect_timeout_s is None
    )
    from_env = Target.parse("postgresql://u@h/d", environ={"PGCONNECT_TIMEOUT": "7"})
    assert from_env.connect_timeout_s == 7.0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mysql://u@h/d", "must start with postgresql:// or postgres://, not mysql://"),
        ("postgresql://u@h/d?hostaddr=10.0.0.1", "hostaddr is not supported"),
        ("postgresql://u@h/d?channel_binding=require", "channel_binding=require is not supported"),
        ("postgresql://u@h/d?connect_timeout=soon", "connect_timeout must be whole seconds"),
        ("postgresql://u@h/d?ssl=maybe", "ssl must be true, false or an sslmode"),
        ("postgresql://u@h/d?a=1&&=2", "parameters are malformed"),
        ("host=h dbname='unterminated", "must look like postgresql://"),
    ],
)
def test_a_string_that_cannot_be_honoured_is_refused_by_name(text: str, says: str) -> None:
    with pytest.raises(DatabaseURLError, match=says):
        Target.parse(text, environ={})


def test_a_server_without_postgis_is_explained() -> None:
    error = asyncpg.FeatureNotSupportedError('extension "postgis" is not available')
    line = explain(error, Target.parse("postgresql://u@h/shop", environ={}))
    assert line is not None and line.startswith(
        "PostGIS is not installed on the server of h:5432 (database shop, role u)"
    )
