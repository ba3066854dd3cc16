"""The `features` table: one row per (ticker, trading date, feature-set version)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, String, func
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime


class FeatureRow(Base):
    """Point-in-time features for a ticker at a session's close.

    Values are a JSON object keyed by feature name: a feature-set version can add or drop features
    without a schema migration, and the version in the key keeps old rows comparable.
    """

    __tablename__ = "features"

    ticker: Mapped[str] = mapped_column(String(10), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    version: Mapped[str] = mapped_column(String(16), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )
