"""notification subscriptions, the event outbox and the delivery log

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 22:39:51.809597
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "notification_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            backend.db.base.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("fanned_out_at", backend.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notification_events_dedupe_key")),
        sa.UniqueConstraint("public_id", name=op.f("uq_notification_events_public_id")),
    )
    with op.batch_alter_table("notification_events", schema=None) as batch_op:
        batch_op.create_index("ix_notification_events_fanned_out_at", ["fanned_out_at"], unique=False)

    op.create_table(
        "notification_subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("target", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=300), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_expires_at", backend.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            backend.db.base.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            backend.db.base.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_subscriptions")),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.Column("last_reply", sa.String(length=300), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", backend.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", backend.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", backend.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            backend.db.base.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            backend.db.base.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["notification_events.id"],
            name=op.f("fk_notification_deliveries_event_id_notification_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["notification_subscriptions.id"],
            name=op.f("fk_notification_deliveries_subscription_id_notification_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "event_id", "subscription_id", name=op.f("uq_notification_deliveries_event_id_subscription_id")
        ),
    )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_deliveries_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notification_deliveries_subscription_id"), ["subscription_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_deliveries_subscription_id"))
        batch_op.drop_index("ix_notification_deliveries_status_next_attempt_at")

    op.drop_table("notification_deliveries")
    op.drop_table("notification_subscriptions")
    with op.batch_alter_table("notification_events", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_events_fanned_out_at")

    op.drop_table("notification_events")
