"""split events and price data-quality flags

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "split_events",
        sa.Column("ticker", sa.String(length=10), nullable=False),
        sa.Column("ex_date", sa.Date(), nullable=False),
        sa.Column("ratio", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column(
            "created_at",
            backend.db.base.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint("ratio > 0", name=op.f("ck_split_events_ratio_positive")),
        sa.CheckConstraint("source IN ('yahoo', 'user', 'adj_close')", name=op.f("ck_split_events_source")),
        sa.PrimaryKeyConstraint("ticker", "ex_date", name=op.f("pk_split_events")),
    )
    op.create_table(
        "price_flags",
        sa.Column("ticker", sa.String(length=10), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("excluded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created_at",
            backend.db.base.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('spike', 'unadjusted_split', 'ohlc_range', 'zero_volume', 'manual')",
            name=op.f("ck_price_flags_kind"),
        ),
        sa.PrimaryKeyConstraint("ticker", "trade_date", "kind", name=op.f("pk_price_flags")),
    )
    with op.batch_alter_table("price_flags", schema=None) as batch_op:
        batch_op.create_index("ix_price_flags_trade_date", ["trade_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("price_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_price_flags_trade_date")
    op.drop_table("price_flags")
    op.drop_table("split_events")
