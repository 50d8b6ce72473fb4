"""Store search by name at chain scale, and imports that help the operator.

- merchant: a trigram index over (owner_id, name) for `GET /v1/merchants?q=` (btree_gin lets
  the owner's uuid share the GIN index with the name's trigrams, so one owner's substring search
  reads only that owner's matches; CJK names have trigrams too under a UTF-8 ctype).
- import_error.external_id: the store number of a rejected row, when the row had one.
- import_job.bytes_read: how far the running job has read its file (a progress bar's fraction).
- import_job.columns_failed: the fields that every row so far failed, with the fix (JSON).
- import_job.constants: the `set=` values the job applied (JSON).

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-05
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute(
        "CREATE INDEX ix_merchant_owner_id_name_trgm ON merchant"
        " USING gin (owner_id, name gin_trgm_ops)"
    )
    op.execute("ALTER TABLE import_error ADD COLUMN external_id text")
    op.execute("ALTER TABLE import_job ADD COLUMN bytes_read bigint NOT NULL DEFAULT 0")
    op.execute(
        "ALTER TABLE import_job ADD COLUMN columns_failed jsonb NOT NULL DEFAULT '[]'::jsonb"
    )
    op.execute("ALTER TABLE import_job ADD COLUMN constants jsonb NOT NULL DEFAULT '{}'::jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE import_job DROP COLUMN constants")
    op.execute("ALTER TABLE import_job DROP COLUMN columns_failed")
    op.execute("ALTER TABLE import_job DROP COLUMN bytes_read")
    op.execute("ALTER TABLE import_error DROP COLUMN external_id")
    op.execute("DROP INDEX ix_merchant_owner_id_name_trgm")
