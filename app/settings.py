"""Settings from the environment: DATABASE_URL and NEARBY_* variables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from app.postgres import Target

MIB = 1024 * 1024
# An origin as browsers send it: scheme://host[:port], no path, no trailing slash.
ORIGIN = re.compile(r"^https?://[^/\s:]+(:[0-9]{1,5})?$")


class Settings(BaseSettings):
    """Built once, in create_app or the CLI, and passed down as values."""

    model_config = SettingsConfigDict(env_prefix="NEARBY_", extra="ignore")

    # Any libpq connection string (app/postgres.py); unset or empty: PGHOST, PGUSER and friends.
    database_url: str = Field(
        "", validation_alias=AliasChoices("DATABASE_URL", "NEARBY_DATABASE_URL")
    )
    admin_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # The service as the world reaches it, e.g. https://nearby.example.com: the base of the deep
    # links in QR codes (/m/<store>, /o/<offer>). Default http://<host>:<port>.
    public_url: str | None = Field(None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
    pool_size: int = 20
    pool_overflow: int = 20
    # Read replicas (app/replicas.py): PostgreSQL streaming standbys, comma-separated URLs, and
    # the replication lag beyond which one is skipped until it catches up.
    replica_urls: str = ""
    replica_max_lag_s: float = Field(default=5.0, gt=0)
    # An unreachable database answers 503 after this, not after asyncpg's default 60 s.
    db_connect_timeout_s: float = Field(default=5.0, gt=0)
    # Slow clients (app/server.py). Headers: a phone on a poor network sends its few hundred bytes
    # well within 10 s. A body may stall 30 s (an upload over a flaky link). Keep-alive 65 s:
    # longer than the 60 s idle timeout of the usual load balancers and proxies, so they close an
    # idle connection first and never send a request down one the service is closing.
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=30.0, gt=0)
    keep_alive_s: int = Field(default=65, gt=0)
    max_body_bytes: int = 10 * MIB
    max_import_bytes: int = 1024 * MIB
    # Seals apps' signing secrets at rest (any string of 32+ characters; app/sealing.py).
    secret_key: SecretStr | None = Field(None, min_length=32)
    # Rate limits (app/ratelimit.py): attempts a minute per user of an app, and per app.
    claims_per_minute: int = Field(10, ge=1)
    track_per_minute: int = Field(60, ge=1)
    app_claims_per_minute: int = Field(6000, ge=1)
    # Statistics (app/stats.py): an answer is reused this long (0: never), per process, and
    # computed again in the background every half of it while requests ask for it.
    stats_cache_s: float = Field(30.0, ge=0)
    # Operations: `nearby serve` logs JSON unless told `text`; other commands log text for people.
    log_format: Literal["json", "text"] | None = None
    access_log: bool = False
    graceful_shutdown_s: int = Field(default=10, ge=0)  # in-flight requests get this long
    state_dir: Path | None = None  # where `serve --demo` keeps the demo owner's key
    # Webhooks (docs/api-extensions.md "Webhooks and events"): the delivery loop of each process.
    webhook_allow_private: bool = False  # let webhooks reach private, loopback, link-local hosts
    webhook_timeout_s: float = Field(10.0, gt=0)  # one attempt, connection to last byte
    webhook_first_retry_s: float = Field(30.0, gt=0)  # the delay after a first failure
    webhook_max_retry_s: float = Field(6 * 3600.0, gt=0)  # delays double up to this
    webhook_retry_for_s: float = Field(72 * 3600.0, ge=0)  # then a delivery is marked failed
    webhook_lease_s: float = Field(60.0, gt=0)  # a taken delivery is left alone this long
    webhook_concurrency: int = Field(128, ge=1)  # attempts in flight per process
    delivery_poll_s: float = Field(0.25, gt=0)  # how often an idle process looks for work
    delivery: bool = True  # run the delivery loop in this process
    event_keep_s: float = Field(7 * 24 * 3600.0, gt=0)  # then events are pruned
    # Browser origins allowed to call the API (comma-separated; `*` for any; none by default).
    # Credentials are bearer headers a page's own script sets, never cookies, so no origin can
    # borrow a signed-in browser's authority: `*` is safe for every route (docs/api-extensions.md).
    cors_origins: Annotated[list[str], NoDecode] = []

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        origins = [origin.strip() for origin in value.split(",") if origin.strip()]
        bad = [o for o in origins if o != "*" and not ORIGIN.match(o)]
        if bad:
            raise ValueError(
                f"NEARBY_CORS_ORIGINS takes origins like https://shop.example.com or *, not {bad}"
            )
        if "*" in origins and len(origins) > 1:
            raise ValueError("NEARBY_CORS_ORIGINS is either * or a list of origins, not both")
        return origins

    # A tracked user not seen for this long is forgotten, with their open visits (app/tracking.py).
    track_keep_s: float = Field(7 * 24 * 3600.0, gt=0)

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        if self.webhook_lease_s <= self.webhook_timeout_s:
            raise ValueError("NEARBY_WEBHOOK_LEASE_S must be longer than NEARBY_WEBHOOK_TIMEOUT_S")
        self.replicas  # noqa: B018 (each URL checked now, not at start-up)
        return self

    @property
    def database(self) -> Target:
        """Where DATABASE_URL points, with every connection parameter (raises
        DatabaseURLError, whose message says what is wrong, if it cannot be understood)."""
        from app.postgres import Target  # asyncpg: not for every importer of the settings

        return Target.parse(self.database_url)

    @property
    def public_base(self) -> str:
        """NEARBY_PUBLIC_URL without a trailing slash, or this process's own address."""
        if self.public_url is not None:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def replicas(self) -> list[Target]:
        """NEARBY_REPLICA_URLS: PostgreSQL URLs separated by commas (a comma inside a URL, as
        between the hosts of a multi-host URL, stays in it), or one `key=value` string."""
        text = self.replica_urls.strip()
        if not text:
            return []
        from app.postgres import Target

        parts = re.split(r"\s*,\s*(?=postgres(?:ql)?://)", text) if "://" in text else [text]
        replicas = []
        for part in parts:
            try:
                replicas.append(Target.parse(part.strip().rstrip(",").strip()))
            except ValueError as exc:
                raise ValueError(f"NEARBY_REPLICA_URLS: {exc}") from None
        return replicas
