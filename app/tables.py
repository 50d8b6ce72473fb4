"""The schema as SQLAlchemy Core tables: what queries.py builds on.

The database itself is made by the migrations in migrations/versions; tests/test_migrations.py
checks that the two agree.
"""

from __future__ import annotations

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    cast,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, INT4MULTIRANGE, JSONB, UUID
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

merchant = Table(
    "merchant",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    Column(
        "owner_id", UUID(as_uuid=True), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False
    ),
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

# Batch imports (app/imports.py). `runner` is the process that runs a job: while the job is
# queued or running, that process holds an advisory lock on it (queries/imports.py), so a job
# whose runner is gone can be told apart from one still at work.
import_job = Table(
    "import_job",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()),
    Column(
        "owner_id", UUID(as_uuid=True), ForeignKey("owner.id", ondelete="CASCADE"), nullable=False
    ),
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
)
