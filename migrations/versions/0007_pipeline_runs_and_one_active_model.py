"""pipeline_runs and at most one active model

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 22:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("trading_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column(
            "started_at",
            backend.db.base.UTCDateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("finished_at", backend.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", backend.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'failed', 'skipped')", name=op.f("ck_pipeline_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_runs")),
        sa.UniqueConstraint("task", "trading_date", name=op.f("uq_pipeline_runs_task_trading_date")),
    )
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_runs_trading_date"), ["trading_date"], unique=False)

    # At most one active model, enforced by the database: keep the newest active one if there are several.
    op.execute(
        "UPDATE model_versions SET is_active = false WHERE is_active AND id <> "
        "(SELECT max(id) FROM model_versions WHERE is_active)"
    )
    op.create_index(
        "ux_model_versions_one_active",
        "model_versions",
        ["is_active"],
        unique=True,
        postgresql_where=sa.text("is_active"),
        sqlite_where=sa.text("is_active"),
    )


def downgrade() -> None:
    op.drop_index("ux_model_versions_one_active", table_name="model_versions")
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_trading_date"))
    op.drop_table("pipeline_runs")
