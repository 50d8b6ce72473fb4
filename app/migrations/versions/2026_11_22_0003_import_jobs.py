"""Import jobs (batch imports of store lists) and every row each one rejected.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE import_job (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            owner_id uuid NOT NULL,
            status text NOT NULL DEFAULT 'queued',
            format text NOT NULL,
            coord text NOT NULL,
            filename text,
            size_bytes bigint NOT NULL DEFAULT 0,
            runner uuid NOT NULL,
            rows_total bigint NOT NULL DEFAULT 0,
            rows_ok bigint NOT NULL DEFAULT 0,
            rows_failed bigint NOT NULL DEFAULT 0,
            rows_inserted bigint NOT NULL DEFAULT 0,
            rows_updated bigint NOT NULL DEFAULT 0,
            rows_unchanged bigint NOT NULL DEFAULT 0,
            reason text,
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            finished_at timestamptz,
            CONSTRAINT pk_import_job PRIMARY KEY (id),
            CONSTRAINT fk_import_job_owner_id_owner FOREIGN KEY (owner_id)
                REFERENCES owner (id) ON DELETE CASCADE,
            CONSTRAINT ck_import_job_status
                CHECK (status IN ('queued', 'running', 'done', 'failed'))
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_import_job_owner_id_created_at ON import_job (owner_id, created_at)"
    )
    # A job's rejected rows, in file order. One message per (row, field): a row's several
    # problems in one field are joined into one message.
    op.execute(
        """
        CREATE TABLE import_error (
            job_id uuid NOT NULL,
            row_num bigint NOT NULL,
            field text NOT NULL,
            msg text NOT NULL,
            CONSTRAINT pk_import_error PRIMARY KEY (job_id, row_num, field),
            CONSTRAINT fk_import_error_job_id_import_job FOREIGN KEY (job_id)
                REFERENCES import_job (id) ON DELETE CASCADE
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE import_error")
    op.execute("DROP TABLE import_job")
