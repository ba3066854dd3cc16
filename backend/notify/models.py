"""Subscriptions, the event outbox and the delivery log (one row per event x subscription)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, TimestampMixin, UTCDateTime


class NotificationSubscription(TimestampMixin, Base):
    """An email address or webhook URL and the event types it wants."""

    __tablename__ = "notification_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(10))  # "email" or "webhook"
    target: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    # Standard Webhooks signing keys (`whsec_<base64>`); the previous one keeps signing until it expires so
    # a receiver can switch over without dropping messages.
    secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationEvent(Base):
    """The outbox: written in the transaction of the change that caused it, delivered afterwards."""

    __tablename__ = "notification_events"
    __table_args__ = (Index("ix_notification_events_fanned_out_at", "fanned_out_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # "evt_...": the webhook-id
    type: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The natural key of what happened (e.g. the signal's ticker and date): a rerun adds nothing.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    trade_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    # Set once delivery rows exist for every matching subscription.
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotificationDelivery(TimestampMixin, Base):
    """One event to one subscription: its attempts, outcome and next try."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id"),
        Index("ix_notification_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("notification_events.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("notification_subscriptions.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10))  # pending, sent, failed, disabled
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_code: Mapped[int | None] = mapped_column(Integer)  # HTTP status or SMTP reply code
    last_reply: Mapped[str | None] = mapped_column(String(300))  # SMTP reply / HTTP reason, never a body
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A worker owns the row until then: a redelivered task or a second worker cannot send it again.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
