"""Apps (client programs with end users), the app of every claim, and rate-limit counters.

A user is now a user of an app: per-user claim counts and Idempotency-Keys are scoped to the
app too. Rows written before apps existed (claims that needed no credential) are given to one
revoked app, "claims made before apps", so nothing is lost and no credential can reach them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BEFORE_APPS = "00000000-0000-0000-0000-000000000000"


def upgrade() -> None:
    # signing_secret: "fernet:<token>" when NEARBY_SECRET_KEY sealed it, else "plain:<secret>";
    # NULL once the app is revoked (nothing left to verify).
    op.execute(
        """
        CREATE TABLE app (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            name text NOT NULL,
            app_key_hash bytea NOT NULL,
            signing_secret text,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz,
            CONSTRAINT pk_app PRIMARY KEY (id),
            CONSTRAINT uq_app_app_key_hash UNIQUE (app_key_hash),
            CONSTRAINT ck_app_secret CHECK (revoked_at IS NOT NULL OR signing_secret IS NOT NULL)
        )
        """
    )
    op.execute(
        f"""
        INSERT INTO app (id, name, app_key_hash, revoked_at)
        SELECT '{BEFORE_APPS}', 'claims made before apps', '\\x00'::bytea, now()
        WHERE EXISTS (SELECT FROM claim) OR EXISTS (SELECT FROM offer_claimant)
           OR EXISTS (SELECT FROM claim_request)
        """
    )
    for table, key in (
        ("claim", None),
        ("offer_claimant", "offer_id, app_id, user_id"),
        ("claim_request", "offer_id, app_id, key"),
    ):
        op.execute(f"ALTER TABLE {table} ADD COLUMN app_id uuid")
        op.execute(f"UPDATE {table} SET app_id = '{BEFORE_APPS}'")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN app_id SET NOT NULL")
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_app_id_app FOREIGN KEY (app_id)"
            " REFERENCES app (id)"
        )
        if key is not None:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})")
    # A user's codes, newest first (GET /v1/users/{user_id}/claims).
    op.execute(
        "CREATE INDEX ix_claim_app_id_user_id_claimed_at_code"
        " ON claim (app_id, user_id, claimed_at, code)"
    )
    # Unlogged: a counter write makes no WAL, so the statement that counts a request commits
    # without waiting for a flush and holds its row lock only for its own run; every worker
    # process shares the counters. A crash empties the table: at worst one minute's counts
    # are forgotten. fillfactor 70: most updates stay on their page (HOT).
    op.execute(
        """
        CREATE UNLOGGED TABLE rate_counter (
            name text NOT NULL,
            subject text NOT NULL,
            window_no bigint NOT NULL,
            prev integer NOT NULL,
            cur integer NOT NULL,
            CONSTRAINT pk_rate_counter PRIMARY KEY (name, subject)
        ) WITH (fillfactor = 70)
        """
    )
    op.execute("CREATE INDEX ix_rate_counter_window_no ON rate_counter (window_no)")


def downgrade() -> None:
    op.execute("DROP TABLE rate_counter")
    op.execute("DROP INDEX ix_claim_app_id_user_id_claimed_at_code")
    # One user under several apps becomes one user again: their counts add up; of one key
    # used by several apps, the oldest use stays.
    op.execute(
        """
        CREATE TEMPORARY TABLE merged_claimant ON COMMIT DROP AS
        SELECT offer_id, user_id, sum(claims)::integer AS claims
        FROM offer_claimant GROUP BY offer_id, user_id
        """
    )
    op.execute("DELETE FROM offer_claimant")
    op.execute(
        """
        DELETE FROM claim_request a USING claim_request b
        WHERE a.offer_id = b.offer_id AND a.key = b.key
          AND (a.created_at, a.app_id) > (b.created_at, b.app_id)
        """
    )
    for table, key in (
        ("claim_request", "offer_id, key"),
        ("offer_claimant", "offer_id, user_id"),
        ("claim", None),
    ):
        if key is not None:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
        op.execute(f"ALTER TABLE {table} DROP COLUMN app_id")
        if key is not None:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})")
    op.execute(
        "INSERT INTO offer_claimant (offer_id, user_id, claims)"
        " SELECT offer_id, user_id, claims FROM merged_claimant"
    )
    op.execute("DROP TABLE app")
