"""PostgreSQL change notifications: NOTIFY tft_changes after every write to a table the API serves

Revision ID: 0012_changes
Revises: 0011_ops
Create Date: 2026-11-30

The API keeps answers in memory and drops them when the database says something changed (the listener in
`backend.db.changes`). A trigger, not the application, sends the notice, so every writer counts: a
worker, the CLI, the demo, a migration, an operator in psql. Statement-level: one notice per statement,
and PostgreSQL folds repeats within a transaction and delivers them at commit. SQLite has no NOTIFY; the
API does not cache there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_changes"
down_revision: str | None = "0011_ops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "tft_changes"
# Every table but `api_keys` (its last-used time is written by reads) and `pipeline_runs` (the heartbeat
# writes it every few minutes): no cached answer reads them. tests/integration/api/test_api_cache.py checks
# that each table of the models has the trigger, so a new table's migration must add it (`watch` below).
TABLES = (
    "backtest_runs", "daily_candidates", "equity_snapshots", "features", "model_artifacts",
    "model_versions", "notification_deliveries", "notification_events", "notification_subscriptions",
    "portfolios", "positions", "predictions", "price_flags", "reddit_posts", "sentiment_daily",
    "split_events", "stock_prices", "ticker_mentions", "tickers", "trades", "trading_signals", "watchlist",
)  # fmt: skip


def watch(table: str) -> None:
    op.execute(
        f"CREATE TRIGGER tft_changes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION tft_notify_change()"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION tft_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME); RETURN NULL; END $$"
    )
    for table in TABLES:
        watch(table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS tft_changes ON {table}")
    op.execute("DROP FUNCTION IF EXISTS tft_notify_change()")
