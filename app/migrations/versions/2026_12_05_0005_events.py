"""Events (the outbox of what happened), webhooks and their deliveries.

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-05
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An event is written in the transaction of the change it reports (app/events.py). `txid`
    # is that transaction's id: replay reads only events of transactions older than every one
    # still running, in (txid, id) order, so no event can ever appear behind a reader's cursor.
    # No foreign keys: the log outlives the offers it mentions, and a key check would share-lock
    # the owner's row on every claim.
    op.execute(
        """
        CREATE TABLE event (
            id bigint GENERATED ALWAYS AS IDENTITY,
            txid bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
            type text NOT NULL,
            at timestamptz NOT NULL DEFAULT now(),
            owner_id uuid NOT NULL,
            offer_id uuid,
            merchant_id uuid,
            user_id text,
            app_id uuid,
            data jsonb NOT NULL DEFAULT '{}'::jsonb,
            CONSTRAINT pk_event PRIMARY KEY (id),
            CONSTRAINT ck_event_type CHECK (type IN ('fence.entered', 'fence.exited',
                'fence.dwelled', 'offer.claimed', 'claim.redeemed', 'offer.sold_out',
                'import.finished'))
        )
        """
    )
    op.execute("CREATE INDEX ix_event_owner_id_txid_id ON event (owner_id, txid, id)")
    op.execute(
        """
        CREATE TABLE webhook (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            owner_id uuid NOT NULL,
            url text NOT NULL,
            events text[] NOT NULL,
            secret text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_webhook PRIMARY KEY (id),
            CONSTRAINT fk_webhook_owner_id_owner FOREIGN KEY (owner_id)
                REFERENCES owner (id) ON DELETE CASCADE
        )
        """
    )
    op.execute("CREATE INDEX ix_webhook_owner_id ON webhook (owner_id)")
    # One row per (event, matching webhook), written with the event. `next_at` is when it is due;
    # a process that takes it moves `next_at` past its lease, so one killed mid-delivery leaves
    # it to the next process once the lease runs out.
    op.execute(
        """
        CREATE TABLE delivery (
            event_id bigint NOT NULL,
            webhook_id uuid NOT NULL,
            status text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            next_at timestamptz NOT NULL DEFAULT now(),
            last_at timestamptz,
            last_status integer,
            last_error text,
            delivered_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_delivery PRIMARY KEY (event_id, webhook_id),
            CONSTRAINT fk_delivery_event_id_event FOREIGN KEY (event_id)
                REFERENCES event (id) ON DELETE CASCADE,
            CONSTRAINT fk_delivery_webhook_id_webhook FOREIGN KEY (webhook_id)
                REFERENCES webhook (id) ON DELETE CASCADE,
            CONSTRAINT ck_delivery_status CHECK (status IN ('pending', 'delivered', 'failed'))
        )
        """
    )
    op.execute("CREATE INDEX ix_delivery_webhook_id_event_id ON delivery (webhook_id, event_id)")
    op.execute("CREATE INDEX ix_delivery_next_at ON delivery (next_at) WHERE status = 'pending'")


def downgrade() -> None:
    op.execute("DROP TABLE delivery")
    op.execute("DROP TABLE webhook")
    op.execute("DROP TABLE event")
