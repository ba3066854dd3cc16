"""Notification I/O: subscription input and output, delivery rows and the outcome of one send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Channel = Literal["email", "webhook"]
DeliveryStatus = Literal["pending", "sent", "failed", "disabled"]


class SubscriptionRead(BaseModel):
    """A subscription as shown back: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    channel: Channel
    target: str
    events: list[str]
    active: bool
    disabled_reason: str | None
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    """The answer to adding a webhook: the signing secret, shown this once."""

    secret: str | None = None


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int
    event_type: str
    subscription_id: int
    channel: Channel
    target: str
    status: DeliveryStatus
    attempts: int
    last_code: int | None
    last_reply: str | None
    last_error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SendResult:
    """What one attempt came to. `retry`: transient (4xx SMTP, 429/5xx HTTP, timeouts, network);
    `failed`: permanent (refused login, 5xx SMTP, other HTTP codes, a blocked address); `gone`: the
    receiver answered 410 and the subscription is disabled."""

    outcome: Literal["sent", "retry", "failed", "gone"]
    code: int | None = None
    reply: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ClaimedDelivery:
    """Everything one send needs, read while the delivery was claimed."""

    delivery_id: int
    attempts: int  # including this one
    subscription_id: int
    channel: str
    target: str
    active: bool
    keys: tuple[str, ...]  # webhook signing secrets: the current one, then one still in its grace period
    event_public_id: str
    event_type: str
    event_version: int
    event_created_at: datetime
    payload: dict


@dataclass(frozen=True)
class AttemptOutcome:
    """One delivery attempt as reported to the user (`notify test`, task logs)."""

    delivery_id: int
    subscription_id: int
    channel: str
    target: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    code: int | None
    reply: str | None
    error: str | None
    next_attempt_at: datetime | None


class AttemptRead(BaseModel):
    """One delivery attempt (a test send): its status and what the receiver answered."""

    model_config = ConfigDict(from_attributes=True)

    delivery_id: int
    subscription_id: int
    channel: str
    target: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    code: int | None
    reply: str | None
    error: str | None
    next_attempt_at: datetime | None
