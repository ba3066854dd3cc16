"""market tickers and stock prices

Revision ID: 0001
Revises:
Create Date: 2026-11-21

The market domain: the ticker universe and daily bars with indicators.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tickers",
        sa.Column("symbol", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("sector", sa.String(length=80), nullable=True),
        sa.Column("industry", sa.String(length=200), nullable=True),
        sa.Column("exchange", sa.String(length=20), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
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
        sa.CheckConstraint(
            "source IN ('seed', 'sample', 'watchlist', 'trending', 'import')", name=op.f("ck_tickers_source")
        ),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_tickers")),
    )
    op.create_table(
        "stock_prices",
        sa.Column("ticker", sa.String(length=10), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("adj_close", sa.Float(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("rsi_14", sa.Float(), nullable=True),
        sa.Column("macd", sa.Float(), nullable=True),
        sa.Column("macd_signal", sa.Float(), nullable=True),
        sa.Column("macd_hist", sa.Float(), nullable=True),
        sa.Column("bb_upper", sa.Float(), nullable=True),
        sa.Column("bb_middle", sa.Float(), nullable=True),
        sa.Column("bb_lower", sa.Float(), nullable=True),
        sa.Column("sma_50", sa.Float(), nullable=True),
        sa.Column("sma_200", sa.Float(), nullable=True),
        sa.Column("ema_12", sa.Float(), nullable=True),
        sa.Column("ema_26", sa.Float(), nullable=True),
        sa.Column("volume_ratio", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column(
            "updated_at",
            backend.db.base.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint("high >= low", name=op.f("ck_stock_prices_high_ge_low")),
        sa.CheckConstraint("low >= 0 AND volume >= 0", name=op.f("ck_stock_prices_non_negative")),
        sa.PrimaryKeyConstraint("ticker", "trade_date", name=op.f("pk_stock_prices")),
    )
    with op.batch_alter_table("stock_prices", schema=None) as batch_op:
        batch_op.create_index("ix_stock_prices_trade_date", ["trade_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stock_prices", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_prices_trade_date")

    op.drop_table("stock_prices")
    op.drop_table("tickers")
