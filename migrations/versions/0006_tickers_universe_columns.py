"""tickers: market cap and asset type for the full US universe

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

`tickers seed` now loads the whole US listing (NASDAQ, NYSE, NYSE American) plus the widely traded ETFs;
extraction and the refresh need each symbol's market cap and whether it is a stock or an ETF.
(`industry`, `exchange` and `active` exist since 0001.)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("market_cap", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("asset_type", sa.String(length=8), nullable=True))
        batch_op.create_check_constraint("asset_type", "asset_type IN ('stock', 'etf')")


def downgrade() -> None:
    with op.batch_alter_table("tickers", schema=None) as batch_op:
        batch_op.drop_constraint("asset_type", type_="check")
        batch_op.drop_column("asset_type")
        batch_op.drop_column("market_cap")
