"""Subscriptions: add, list, remove, re-enable, rotate the signing secret (`outbox.py` delivers to them).

Functions take the caller's session and flush; `delivery.py` (and the CLI, API, tasks) own transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import NotFound, ValidationFailed
from backend.core.settings import get_settings
from backend.notify import email as email_channel
from backend.notify import events
from backend.notify.models import NotificationSubscription
from backend.notify.schemas import (
    SubscriptionCreated,
    SubscriptionRead,
)
from backend.notify.ssrf import validate_webhook_url
from backend.notify.webhooks import new_secret


def parse_events(names: Sequence[str] | None) -> list[str]:
    """Event names (comma lists allowed); none means every event type."""
    if not names:
        return list(events.EVENT_TYPES)
    wanted = [n.strip() for name in names for n in name.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in events.EVENT_TYPES]
    if unknown:
        raise ValidationFailed(
            f"unknown event {', '.join(map(repr, unknown))}: choose from {', '.join(events.EVENT_TYPES)}"
        )
    return list(dict.fromkeys(wanted))


async def add_email(
    *, session: AsyncSession, address: str, event_names: Sequence[str] | None = None
) -> SubscriptionCreated:
    """Subscribe an email address (validated before anything is stored)."""
    target = email_channel.normalize_address(address)
    chosen = parse_events(event_names)
    row = NotificationSubscription(channel="email", target=target, events=chosen, active=True)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return SubscriptionCreated.model_validate(row)


async def add_webhook(
    *, session: AsyncSession, url: str, event_names: Sequence[str] | None = None
) -> SubscriptionCreated:
    """Subscribe a webhook URL: https (unless allowed otherwise), public address; returns its new secret."""
    chosen = parse_events(event_names)
    settings = get_settings().notify
    target = await validate_webhook_url(
        url, require_https=settings.require_https, allow_private=settings.allow_private_webhooks
    )
    secret = new_secret()
    row = NotificationSubscription(
        channel="webhook", target=target, events=chosen, active=True, secret=secret
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return SubscriptionCreated.model_validate(
        {**SubscriptionRead.model_validate(row).model_dump(), "secret": secret}
    )


async def list_subscriptions(
    *, session: AsyncSession, after_id: int | None = None, limit: int | None = None
) -> list[SubscriptionRead]:
    """Subscriptions oldest first, after the cursor id (never their secrets)."""
    query = select(NotificationSubscription).order_by(NotificationSubscription.id)
    if after_id is not None:
        query = query.where(NotificationSubscription.id > after_id)
    if limit is not None:
        query = query.limit(limit)
    return [SubscriptionRead.model_validate(r) for r in await session.scalars(query)]


async def get(*, session: AsyncSession, subscription_id: int) -> NotificationSubscription:
    """One subscription, or NotFound naming the id."""
    row = await session.get(NotificationSubscription, subscription_id)
    if row is None:
        raise NotFound(f"no notification subscription {subscription_id}: see `tft-trader notify list`")
    return row


async def remove(*, session: AsyncSession, subscription_id: int) -> SubscriptionRead:
    """Delete a subscription and its delivery log."""
    row = await get(session=session, subscription_id=subscription_id)
    shown = SubscriptionRead.model_validate(row)
    await session.execute(delete(NotificationSubscription).where(NotificationSubscription.id == row.id))
    await session.flush()
    return shown


async def enable(*, session: AsyncSession, subscription_id: int) -> SubscriptionRead:
    """Re-activate a subscription (e.g. after a 410 Gone): new events reach it again; the deliveries
    disabled meanwhile stay disabled, so a receiver that comes back is not flooded with stale news."""
    row = await get(session=session, subscription_id=subscription_id)
    row.active, row.disabled_reason = True, None
    await session.flush()
    await session.refresh(row)
    return SubscriptionRead.model_validate(row)


async def rotate_secret(
    *, session: AsyncSession, subscription_id: int, now: datetime
) -> tuple[str, datetime]:
    """A new signing secret; the old one keeps signing for the grace period. Returns (secret, old expires)."""
    row = await get(session=session, subscription_id=subscription_id)
    if row.channel != "webhook":
        raise ValidationFailed(
            f"subscription {subscription_id} is an email subscription: only webhooks have secrets"
        )
    expires = now + timedelta(hours=get_settings().notify.secret_grace_hours)
    row.previous_secret, row.previous_secret_expires_at = row.secret, expires
    row.secret = new_secret()
    await session.flush()
    assert row.secret is not None
    return row.secret, expires
