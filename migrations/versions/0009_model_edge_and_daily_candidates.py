"""model edge test, expected value and the day's candidates

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trusted", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("quality", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.JSON(), nullable=True))
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expected_value", sa.Float(), nullable=True))
    op.create_table(
        "daily_candidates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("portfolio_id", sa.Integer(), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("ticker", sa.String(length=10), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("call", sa.String(length=4), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("expected_value", sa.Float(), nullable=True),
        sa.Column("entry_price", sa.Float(), nullable=True),
        sa.Column("stop_price", sa.Float(), nullable=True),
        sa.Column("target_price", sa.Float(), nullable=True),
        sa.Column("is_signal", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("why", sa.String(length=400), nullable=False),
        sa.Column("drivers", sa.JSON(), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=True),
        sa.Column("model_trusted", sa.Boolean(), nullable=False),
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
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("fk_daily_candidates_portfolio_id_portfolios"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_candidates")),
        sa.UniqueConstraint(
            "portfolio_id",
            "trade_date",
            "ticker",
            name=op.f("uq_daily_candidates_portfolio_id_trade_date_ticker"),
        ),
    )
    with op.batch_alter_table("daily_candidates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_daily_candidates_portfolio_id_trade_date", ["portfolio_id", "trade_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("daily_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_daily_candidates_portfolio_id_trade_date")
    op.drop_table("daily_candidates")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("expected_value")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("outcome")
        batch_op.drop_column("quality")
        batch_op.drop_column("trusted")
