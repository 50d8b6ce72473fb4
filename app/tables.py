"""The schema as SQLAlchemy Core tables: what queries.py builds on.

The database itself is made by the migrations in app/migrations/versions; tests/test_migrations.py
checks that the two agree.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geography
from geoalchemy2 import Geometry as GeometryColumn
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    cast,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INT4MULTIRANGE, JSON, JSONB, UUID
from sqlalchemy.types import UserDefinedType

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _belongs_to(table: str) -> Column[Any]:
    """`<table>_id`, a row of `table` whose deletion takes this row with it."""
    return Column(
        f"{table}_id",
        UUID(as_uuid=True),
        ForeignKey(f"{table}.id", ondelete="CASCADE"),
        nullable=False,
    )


class Geometry(UserDefinedType[object]):
    """Plain PostGIS `geometry`, a cast target in index expressions and queries."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "geometry"


class BareGeography(UserDefinedType[object]):
    """Plain `geography` with no type modifier (GeoAlchemy2's Geography() would add one)."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "geography"


owner = Table(
    "owner",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    Column("name", Text, nullable=False),
    Column("api_key_hash", LargeBinary, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Client programs with end users (app/apps.py). The key is stored as a hash; the signing secret
# of the app's user tokens is kept to verify them, sealed when NEARBY_SECRET_KEY is set, and
# dropped when the app is revoked. Apps are revoked, never deleted: their claims keep them.
app = Table(
    "app",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    Column("name", Text, nullable=False),
    Column("app_key_hash", LargeBinary, nullable=False, unique=True),
    Column("signing_secret", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
    CheckConstraint("revoked_at IS NOT NULL OR signing_secret IS NOT NULL", name="secret"),
)

merchant = Table(
    "merchant",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    _belongs_to("owner"),
    Column("external_id", Text),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("address", Text),
    Column("phone", Text),
    Column("location", Geography("POINT", srid=4326, spatial_index=False), nullable=False),
    # The H3 cell at spatial.INDEX_RES (15); coarser cells are bit masks of it.
    Column("h3", BigInteger, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("opening_hours", Text),
    # The opening hours as minutes of the local week (Monday 00:00 = 0), for open_now.
    Column("open_minutes", INT4MULTIRANGE),
    Column("attributes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("owner_id", "external_id"),
)

# Nearest-first search walks this index (ORDER BY location <-> point).
Index("ix_merchant_location", merchant.c.location, postgresql_using="gist")
# Viewports and clusters are lat/lng rectangles, i.e. planar boxes in degrees.
Index(
    "ix_merchant_location_geometry",
    cast(merchant.c.location, Geometry()),
    postgresql_using="gist",
)
Index("ix_merchant_h3", merchant.c.h3)
# A one-category search walks this one instead (btree_gist): 2.3x the plain index at 1M rows in
# ../shared/BASELINES.md. Its location is spelt differently so the planner cannot mix the two
# indexes up; see the first migration.
Index(
    "ix_merchant_category_location",
    merchant.c.category,
    cast(cast(merchant.c.location, Geometry()), BareGeography()),
    postgresql_using="gist",
)
# An owner's name search (GET /v1/merchants?q=): trigrams of the name beside the owner (btree_gin).
Index(
    "ix_merchant_owner_id_name_trgm",
    merchant.c.owner_id,
    merchant.c.name,
    postgresql_using="gin",
    postgresql_ops={"name": "gin_trgm_ops"},
)

# Geofenced offers (spatial/geofence.py has the semantics). `fence` is what the GiST index holds:
# a polygon fence exactly (cut at the antimeridian), a circle's bounding boxes; a circle is then
# tested exactly on `center` and `radius_m`. The counters are changed only by conditional
# UPDATEs (queries/claims.py), and the CHECKs are the last line against overselling.
offer = Table(
    "offer",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    _belongs_to("merchant"),
    Column("title", Text, nullable=False),
    Column("description", Text),
    # The fence as the client gave it, in WGS-84: what responses show.
    Column("geofence", JSONB, nullable=False),
    Column("fence", GeometryColumn("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
    Column("center", Geography("POINT", srid=4326, spatial_index=False)),
    Column("radius_m", Double),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True)),
    Column("quantity", Integer),  # NULL: unlimited
    Column("per_user_limit", Integer),  # NULL: unlimited
    Column("claimed", Integer, nullable=False, server_default=text("0")),
    Column("redeemed", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Seconds inside the fence before fence.dwelled (app/tracking.py).
    Column("dwell_s", Integer, nullable=False, server_default=text("300")),
    # The statistics rollup's current quarter-hour (UTC) and its counts: offer_stats holds the
    # finished ones (app/queries/claims.py, the claim and redeem statements).
    Column("stats_t", DateTime(timezone=True)),
    Column("stats_claims", Integer, nullable=False, server_default=text("0")),
    Column("stats_redemptions", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("(center IS NULL) = (radius_m IS NULL)", name="circle"),
    CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="window"),
    CheckConstraint("quantity IS NULL OR claimed <= quantity", name="not_oversold"),
    CheckConstraint("0 <= redeemed AND redeemed <= claimed", name="counts"),
    CheckConstraint("dwell_s BETWEEN 60 AND 86400", name="dwell"),
    CheckConstraint(
        "0 <= stats_claims AND 0 <= stats_redemptions"
        " AND (stats_t IS NOT NULL OR stats_claims + stats_redemptions = 0)",
        name="live_quarter",
    ),
)
Index("ix_offer_fence", offer.c.fence, postgresql_using="gist")
# A merchant's offers, newest first (and the cascade from merchant).
Index("ix_offer_merchant_id_created_at_id", offer.c.merchant_id, offer.c.created_at, offer.c.id)

# One row per code handed out. The code is the key: 128 random bits (app/claims.py).
claim = Table(
    "claim",
    metadata,
    Column("code", Text, primary_key=True),
    _belongs_to("offer"),
    Column("user_id", Text, nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("redeemed_at", DateTime(timezone=True)),
    Column("app_id", UUID(as_uuid=True), ForeignKey("app.id"), nullable=False),
    # The resolution-9 H3 cell of where the code was claimed (NULL before revision 0008).
    Column("cell", BigInteger),
    # The share the claim came through (app/shares.py), if any: a share of the same offer. No
    # foreign key (see migration 0007): shares go only with their offer.
    Column("share", Text),
)
# An offer's claims in a time range, from the index alone (statistics).
Index(
    "ix_claim_offer_id_claimed_at",
    claim.c.offer_id,
    claim.c.claimed_at,
    postgresql_include=["app_id", "user_id", "cell", "redeemed_at", "share"],
)
Index("ix_claim_share", claim.c.share, postgresql_where=text("share IS NOT NULL"))
# A user's codes, newest first.
Index(
    "ix_claim_app_id_user_id_claimed_at_code",
    claim.c.app_id,
    claim.c.user_id,
    claim.c.claimed_at,
    claim.c.code,
)

# Shares of offers: the attribution chains (app/shares.py, app/attribution.py). `path` is the codes
# from the chain's root down to the share itself, written when it is made; `parent` is a share
# of the same offer (a composite foreign key), so a chain never leaves its offer nor loops.
SHARE_MAX_DEPTH = 31
share = Table(
    "share",
    metadata,
    Column("code", Text, primary_key=True),
    _belongs_to("offer"),
    Column("app_id", UUID(as_uuid=True), ForeignKey("app.id"), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("parent", Text),
    Column("depth", SmallInteger, nullable=False),
    Column("path", ARRAY(Text), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("offer_id", "code"),
    # One share per user of an app and offer (first touch): a sharer is one node of the tree.
    UniqueConstraint("offer_id", "app_id", "user_id"),
    ForeignKeyConstraint(
        ["offer_id", "parent"], ["share.offer_id", "share.code"], ondelete="CASCADE"
    ),
    CheckConstraint("code ~ '^[0-9A-Za-z]{1,32}$'", name="code"),
    CheckConstraint(f"depth BETWEEN 0 AND {SHARE_MAX_DEPTH}", name="depth"),
    CheckConstraint("(parent IS NULL) = (depth = 0)", name="root"),
    CheckConstraint("cardinality(path) = depth + 1 AND path[depth + 1] = code", name="path"),
)

# Claims and redemptions per offer and finished quarter-hour (UTC), kept by the claim and redeem
# statements (app/stats.py): every timezone is whole quarter-hours from UTC. The quarter being
# counted is on the offer's row (stats_t).
offer_stats = Table(
    "offer_stats",
    metadata,
    _belongs_to("offer"),
    Column("t", DateTime(timezone=True), nullable=False),
    Column("claims", Integer, nullable=False, server_default=text("0")),
    Column("redemptions", Integer, nullable=False, server_default=text("0")),
    PrimaryKeyConstraint("offer_id", "t"),
    CheckConstraint("0 <= claims AND 0 <= redemptions", name="counts"),
)

# How many codes each user (of an app) holds of each offer: the per-user limit is a conditional
# upsert here.
offer_claimant = Table(
    "offer_claimant",
    metadata,
    _belongs_to("offer"),
    Column("user_id", Text, nullable=False),
    Column("claims", Integer, nullable=False),
    Column("app_id", UUID(as_uuid=True), ForeignKey("app.id"), nullable=False),
    PrimaryKeyConstraint("offer_id", "app_id", "user_id"),
)

# Claims sent with an Idempotency-Key, and the response each got (kept at least 24 hours).
claim_request = Table(
    "claim_request",
    metadata,
    _belongs_to("offer"),
    Column("key", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("status", SmallInteger),  # NULL only inside the transaction that answers it
    Column("body", JSON),  # json, not jsonb: a repeat gets the first response byte for byte
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("app_id", UUID(as_uuid=True), ForeignKey("app.id"), nullable=False),
    PrimaryKeyConstraint("offer_id", "app_id", "key"),
)
Index("ix_claim_request_created_at", claim_request.c.created_at)

# Rate-limit counters shared by every worker process (app/ratelimit.py): one row per limit and
# subject, a sliding window of one minute kept as the counts of this minute and the one
# before. UNLOGGED (see migration 0004): no WAL, no flush to wait for while a row is locked.
rate_counter = Table(
    "rate_counter",
    metadata,
    Column("name", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("window_no", BigInteger, nullable=False),  # minutes since the Unix epoch
    Column("prev", Integer, nullable=False),
    Column("cur", Integer, nullable=False),
    PrimaryKeyConstraint("name", "subject"),
    prefixes=["UNLOGGED"],
)
Index("ix_rate_counter_window_no", rate_counter.c.window_no)

# Batch imports (app/imports.py). `runner` is the process that runs a job: while the job is
# queued or running, that process holds an advisory lock on it (queries/imports.py), so a job
# whose runner is gone can be told apart from one still at work.
import_job = Table(
    "import_job",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    _belongs_to("owner"),
    Column("status", Text, nullable=False, server_default=text("'queued'")),
    Column("format", Text, nullable=False),
    Column("coord", Text, nullable=False),
    Column("filename", Text),
    Column("size_bytes", BigInteger, nullable=False, server_default=text("0")),
    Column("runner", UUID(as_uuid=True), nullable=False),
    Column("rows_total", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_ok", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_failed", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_inserted", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_updated", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_unchanged", BigInteger, nullable=False, server_default=text("0")),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("bytes_read", BigInteger, nullable=False, server_default=text("0")),
    # The fields every row so far failed, each once with its fix (app/imports/columns.py).
    Column("columns_failed", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # The `set=` constants the job gave every row.
    Column("constants", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
)
Index("ix_import_job_owner_id_created_at", import_job.c.owner_id, import_job.c.created_at)

# Every row a job rejected, with the field and the reason; row_num counts data records from 1.
import_error = Table(
    "import_error",
    metadata,
    Column(
        "job_id",
        UUID(as_uuid=True),
        ForeignKey("import_job.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("row_num", BigInteger, primary_key=True),
    Column("field", Text, primary_key=True),
    Column("msg", Text, nullable=False),
    Column("external_id", Text),  # the rejected row's store number, when it had one
)

# The outbox: every event, written in the transaction of the change it reports (app/events.py).
# `txid` (the writing transaction's id) orders replay: see queries/events.py. No foreign keys:
# the log outlives what it mentions, and a key check would share-lock the owner on every claim.
EVENT_TYPES = (
    "fence.entered",
    "fence.exited",
    "fence.dwelled",
    "offer.claimed",
    "claim.redeemed",
    "offer.sold_out",
    "import.finished",
)
event = Table(
    "event",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column(
        "txid",
        BigInteger,
        nullable=False,
        server_default=text("(pg_current_xact_id()::text::bigint)"),
    ),
    Column("type", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("owner_id", UUID(as_uuid=True), nullable=False),
    Column("offer_id", UUID(as_uuid=True)),
    Column("merchant_id", UUID(as_uuid=True)),
    Column("user_id", Text),
    Column("app_id", UUID(as_uuid=True)),  # the app whose user caused it; filled by app credentials
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    CheckConstraint(f"type IN {EVENT_TYPES!r}", name="type"),
)
Index("ix_event_owner_id_txid_id", event.c.owner_id, event.c.txid, event.c.id)

# An owner's webhooks (app/webhooks.py). The secret signs deliveries, so it is kept sealed
# (app/sealing.py), not hashed.
webhook = Table(
    "webhook",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    Column(
        "owner_id", UUID(as_uuid=True), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False
    ),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_webhook_owner_id", webhook.c.owner_id)

# One row per (event, matching webhook), written with the event; app/delivery.py sends it.
# `next_at` is when it is due; taking it moves `next_at` past a lease (queries/webhooks.py).
delivery = Table(
    "delivery",
    metadata,
    Column(
        "event_id",
        BigInteger,
        ForeignKey("event.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "webhook_id",
        UUID(as_uuid=True),
        ForeignKey("webhook.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_at", DateTime(timezone=True)),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
)
Index("ix_delivery_webhook_id_event_id", delivery.c.webhook_id, delivery.c.event_id)
Index("ix_delivery_next_at", delivery.c.next_at, postgresql_where=text("status = 'pending'"))

# Location tracking (app/tracking.py). A tracked user of an app: the newest point seen (an older
# one causes no event) and a version each tracking call bumps, so two calls of one user at once
# cannot both write from the same state; `seen_at` drives pruning. Unlogged: see the migration.
track_user = Table(
    "track_user",
    metadata,
    Column("app_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", Text, nullable=False),
    Column("newest_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False, server_default=text("1")),
    Column("seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("app_id", "user_id"),
    prefixes=["UNLOGGED"],
)
Index("ix_track_user_seen_at", track_user.c.seen_at)

# A user inside an offer's fence: one row per open visit; outside is no row.
fence_visit = Table(
    "fence_visit",
    metadata,
    Column("app_id", UUID(as_uuid=True), nullable=False),
    Column("user_id", Text, nullable=False),
    _belongs_to("offer"),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("dwelled", Boolean, nullable=False, server_default=text("false")),
    PrimaryKeyConstraint("app_id", "user_id", "offer_id"),
)
Index("ix_fence_visit_offer_id", fence_visit.c.offer_id)
