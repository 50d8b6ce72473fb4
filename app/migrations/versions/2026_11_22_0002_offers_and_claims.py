"""Geofenced offers, their claim codes, per-user claim counts and idempotent claim requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # fillfactor 80: every claim updates its offer's counter; room on the page keeps those
    # updates HOT (no new entries in the GiST and btree indexes).
    op.execute(
        """
        CREATE TABLE offer (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            merchant_id uuid NOT NULL,
            title text NOT NULL,
            description text,
            geofence jsonb NOT NULL,
            fence geometry(MultiPolygon, 4326) NOT NULL,
            center geography(Point, 4326),
            radius_m double precision,
            starts_at timestamptz NOT NULL,
            ends_at timestamptz,
            quantity integer,
            per_user_limit integer,
            claimed integer NOT NULL DEFAULT 0,
            redeemed integer NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_offer PRIMARY KEY (id),
            CONSTRAINT fk_offer_merchant_id_merchant FOREIGN KEY (merchant_id)
                REFERENCES merchant (id) ON DELETE CASCADE,
            CONSTRAINT ck_offer_circle CHECK ((center IS NULL) = (radius_m IS NULL)),
            CONSTRAINT ck_offer_window CHECK (ends_at IS NULL OR ends_at > starts_at),
            -- The last line against overselling: the claim statement already never lets it.
            CONSTRAINT ck_offer_not_oversold CHECK (quantity IS NULL OR claimed <= quantity),
            CONSTRAINT ck_offer_counts CHECK (0 <= redeemed AND redeemed <= claimed)
        ) WITH (fillfactor = 80)
        """
    )
    # Which fences cover a point: a polygon's own area, a circle's bounding boxes.
    op.execute("CREATE INDEX ix_offer_fence ON offer USING gist (fence)")
    op.execute(
        "CREATE INDEX ix_offer_merchant_id_created_at_id ON offer (merchant_id, created_at, id)"
    )
    op.execute(
        """
        CREATE TABLE claim (
            code text NOT NULL,
            offer_id uuid NOT NULL,
            user_id text NOT NULL,
            claimed_at timestamptz NOT NULL DEFAULT now(),
            redeemed_at timestamptz,
            CONSTRAINT pk_claim PRIMARY KEY (code),
            CONSTRAINT fk_claim_offer_id_offer FOREIGN KEY (offer_id)
                REFERENCES offer (id) ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX ix_claim_offer_id ON claim (offer_id)")
    op.execute(
        """
        CREATE TABLE offer_claimant (
            offer_id uuid NOT NULL,
            user_id text NOT NULL,
            claims integer NOT NULL,
            CONSTRAINT pk_offer_claimant PRIMARY KEY (offer_id, user_id),
            CONSTRAINT fk_offer_claimant_offer_id_offer FOREIGN KEY (offer_id)
                REFERENCES offer (id) ON DELETE CASCADE
        )
        """
    )
    # Each row is written twice (the key, then its response): room on the page keeps the
    # second write HOT.
    op.execute(
        """
        CREATE TABLE claim_request (
            offer_id uuid NOT NULL,
            key text NOT NULL,
            user_id text NOT NULL,
            status smallint,
            body json,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_claim_request PRIMARY KEY (offer_id, key),
            CONSTRAINT fk_claim_request_offer_id_offer FOREIGN KEY (offer_id)
                REFERENCES offer (id) ON DELETE CASCADE
        ) WITH (fillfactor = 70)
        """
    )
    op.execute("CREATE INDEX ix_claim_request_created_at ON claim_request (created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE claim_request")
    op.execute("DROP TABLE offer_claimant")
    op.execute("DROP TABLE claim")
    op.execute("DROP TABLE offer")
