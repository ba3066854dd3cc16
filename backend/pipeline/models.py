"""`pipeline_runs`: one row per (task, trading date), the unattended chain's record and idempotency key."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime

RUN_STATUSES = ("running", "success", "failed", "skipped")


class PipelineRun(Base):
    """A scheduled step for one trading date: who ran it, when, what it counted, how it ended.

    The unique (task, trading_date) row is the lock that makes a step run once per date: a Redis lock
    with a TTL would expire under a long run, a database row does not.
    """

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        UniqueConstraint("task", "trading_date"),
        CheckConstraint(f"status IN {RUN_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(64))
    trading_date: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(12))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # started_at + the task's hard time limit: a row still `running` after it belongs to a killed worker.
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    # The Celery task id of the attempt that holds the row: a redelivered task with the same id means the
    # worker that held it died midway.
    task_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
