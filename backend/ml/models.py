"""Model registry and predictions tables.

Artifacts live in the database so the API, the worker and the scheduler (separate hosts) all load the
same active model.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime


class ModelVersion(Base):
    """One trained ensemble: what it was trained on, how it scored out of sample, and whether it is active."""

    __tablename__ = "model_versions"
    __table_args__ = (
        Index("ix_model_versions_active", "is_active"),
        # At most one active model: a partial unique index (both databases support them).
        Index(
            "ux_model_versions_one_active",
            "is_active",
            unique=True,
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    members: Mapped[list[str]] = mapped_column(JSON)
    weights: Mapped[dict[str, float]] = mapped_column(JSON)
    feature_set_version: Mapped[str] = mapped_column(String(16))
    feature_columns: Mapped[list[str]] = mapped_column(JSON)
    tickers: Mapped[list[str]] = mapped_column(JSON)
    train_start: Mapped[date] = mapped_column(Date)
    train_end: Mapped[date] = mapped_column(Date)
    as_of: Mapped[date] = mapped_column(Date)
    n_samples: Mapped[int] = mapped_column(Integer)
    class_balance: Mapped[dict[str, float]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)  # per member, ensemble and baselines, out of sample
    calibration: Mapped[dict[str, Any]] = mapped_column(JSON)  # method, Brier / ECE before and after
    oos_score: Mapped[float] = mapped_column(Float)  # the promotion gate's score (higher is better)
    promotion: Mapped[dict[str, Any]] = mapped_column(JSON)  # decision, both scores, reason
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The edge test on pooled out-of-sample rows (rank IC, top bucket, log loss vs the prior, reliability)
    # and the outcome model (Platt map of P(win), payoffs per bin) that prices every prediction.
    trusted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class ModelArtifact(Base):
    """A serialized member (or calibrator) of a model version."""

    __tablename__ = "model_artifacts"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Prediction(Base):
    """The ensemble's call for a ticker at a session's close, with each member's view and the why."""

    __tablename__ = "predictions"

    ticker: Mapped[str] = mapped_column(String(10), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    model_version: Mapped[str] = mapped_column(String(40), primary_key=True)
    p_sell: Mapped[float] = mapped_column(Float)
    p_hold: Mapped[float] = mapped_column(Float)
    p_buy: Mapped[float] = mapped_column(Float)
    signal: Mapped[str] = mapped_column(String(4))
    confidence: Mapped[float] = mapped_column(Float)  # calibrated P(the trade wins after costs)
    expected_value: Mapped[float | None] = mapped_column(Float)  # expected net trade return
    member_probabilities: Mapped[dict[str, list[float]]] = mapped_column(JSON)
    contributions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # top 5: feature, value, contribution
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
