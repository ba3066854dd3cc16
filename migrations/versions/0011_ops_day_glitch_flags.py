"""price_flags kind day_glitch: a session wrong for the whole universe at once

Revision ID: 0011_ops
Revises: 0010
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_ops"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "kind IN ('spike', 'unadjusted_split', 'ohlc_range', 'zero_volume', 'manual')"
NEW = "kind IN ('spike', 'unadjusted_split', 'ohlc_range', 'zero_volume', 'day_glitch', 'manual')"


def upgrade() -> None:
    with op.batch_alter_table("price_flags", schema=None) as batch_op:
        batch_op.drop_constraint("kind", type_="check")
        batch_op.create_check_constraint("kind", NEW)


def downgrade() -> None:
    op.execute("DELETE FROM price_flags WHERE kind = 'day_glitch'")
    with op.batch_alter_table("price_flags", schema=None) as batch_op:
        batch_op.drop_constraint("kind", type_="check")
        batch_op.create_check_constraint("kind", OLD)
