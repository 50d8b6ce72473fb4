"""Merchant statistics: the cell where each code was claimed, and the quarter-hour rollup of
claims and redemptions per offer (app/stats.py, docs/design.md "Statistics").

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The resolution-9 H3 cell of the position a code was claimed at (NULL for the codes claimed
    # before this revision: their positions were never stored).
    op.execute("ALTER TABLE claim ADD COLUMN cell bigint")
    # Claims and redemptions per offer and quarter-hour (UTC, 15 minutes: every timezone of the
    # world is a whole number of quarter-hours from UTC, so local hours and days are sums of
    # these). Written by the claim and redeem statements under the offer's row lock.
    op.execute(
        """
        CREATE TABLE offer_stats (
            offer_id uuid NOT NULL,
            t timestamptz NOT NULL,
            claims integer NOT NULL DEFAULT 0,
            redemptions integer NOT NULL DEFAULT 0,
            CONSTRAINT pk_offer_stats PRIMARY KEY (offer_id, t),
            CONSTRAINT fk_offer_stats_offer_id_offer FOREIGN KEY (offer_id)
                REFERENCES offer (id) ON DELETE CASCADE,
            CONSTRAINT ck_offer_stats_counts CHECK (0 <= claims AND 0 <= redemptions)
        )
        """
    )
    op.execute(
        """
        INSERT INTO offer_stats (offer_id, t, claims, redemptions)
        SELECT offer_id, t, sum(claims), sum(redemptions) FROM (
            SELECT offer_id, date_bin('15 minutes', claimed_at, '2000-01-01 00:00+00') AS t,
                   1 AS claims, 0 AS redemptions FROM claim
            UNION ALL
            SELECT offer_id, date_bin('15 minutes', redeemed_at, '2000-01-01 00:00+00'), 0, 1
            FROM claim WHERE redeemed_at IS NOT NULL
        ) AS each GROUP BY offer_id, t
        """
    )
    # An offer's claims in a time range, read from the index alone for users, cells and
    # sharers; it replaces the plain index on offer_id.
    op.execute(
        """CREATE INDEX ix_claim_offer_id_claimed_at ON claim (offer_id, claimed_at)
           INCLUDE (app_id, user_id, cell, redeemed_at, share)"""
    )
    op.execute("DROP INDEX ix_claim_offer_id")


def downgrade() -> None:
    op.execute("CREATE INDEX ix_claim_offer_id ON claim (offer_id)")
    op.execute("DROP INDEX ix_claim_offer_id_claimed_at")
    op.execute("DROP TABLE offer_stats")
    op.execute("ALTER TABLE claim DROP COLUMN cell")
