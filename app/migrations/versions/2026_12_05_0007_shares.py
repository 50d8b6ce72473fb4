"""Shares of offers (the attribution chain) and the share a claim came through.

A share is a user's link to an offer, made by an app; `parent` is the share the user arrived
through (same offer: a composite foreign key), `path` the codes from the root of its chain down
to itself, written once when the share is made (a share only ever points at one that already
exists, so a chain cannot loop). A redemption is credited to its claim's share and to every
share in that share's `path`; counting it needs no write beyond the claim's own row.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-05
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MAX_DEPTH = 31  # app/shares.py: MAX_DEPTH


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE share (
            code text NOT NULL,
            offer_id uuid NOT NULL,
            app_id uuid NOT NULL,
            user_id text NOT NULL,
            parent text,
            depth smallint NOT NULL,
            path text[] NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_share PRIMARY KEY (code),
            CONSTRAINT uq_share_offer_id_code UNIQUE (offer_id, code),
            CONSTRAINT uq_share_offer_id_app_id_user_id UNIQUE (offer_id, app_id, user_id),
            CONSTRAINT fk_share_offer_id_offer FOREIGN KEY (offer_id)
                REFERENCES offer (id) ON DELETE CASCADE,
            CONSTRAINT fk_share_app_id_app FOREIGN KEY (app_id) REFERENCES app (id),
            CONSTRAINT fk_share_offer_id_share FOREIGN KEY (offer_id, parent)
                REFERENCES share (offer_id, code) ON DELETE CASCADE,
            CONSTRAINT ck_share_code CHECK (code ~ '^[0-9A-Za-z]{{1,32}}$'),
            CONSTRAINT ck_share_depth CHECK (depth BETWEEN 0 AND {MAX_DEPTH}),
            CONSTRAINT ck_share_root CHECK ((parent IS NULL) = (depth = 0)),
            CONSTRAINT ck_share_path CHECK (
                cardinality(path) = depth + 1 AND path[depth + 1] = code)
        )
        """
    )
    # One share per user of an app and offer: sharing again returns it, whatever parent is
    # named (the chain a user joined first keeps the credit; app/shares.py). So a sharer is one
    # node of its offer's tree, and the 80% set is exact (app/attribution.py).
    # No foreign key: shares are deleted only with their offer (and its claims), and a key
    # check would share-lock a popular share's row on every claim through it.
    op.execute("ALTER TABLE claim ADD COLUMN share text")
    op.execute("CREATE INDEX ix_claim_share ON claim (share) WHERE share IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX ix_claim_share")
    op.execute("ALTER TABLE claim DROP COLUMN share")
    op.execute("DROP TABLE share")
