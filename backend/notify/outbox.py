"""The outbox and the delivery log: fan events out to subscriptions, claim, record and prune deliveries.

Functions take the caller's session and flush; `delivery.py` (and the CLI, API, tasks) own transactions.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import NotFound
from backend.core.settings import NotifySettings, get_settings
from backend.db.base import table_of
from backend.db.upsert import dialect_insert
from backend.notify import events, service
from backend.notify.models import NotificationDelivery, NotificationEvent, NotificationSubscription
from backend.notify.schemas import ClaimedDelivery, DeliveryRead, SendResult


async def fan_out(*, session: AsyncSession, now: datetime) -> int:
    """Delivery rows for every new outbox event x active subscription that wants its type."""
    pending = (
        await session.scalars(
            select(NotificationEvent)
            .where(NotificationEvent.fanned_out_at.is_(None))
            .order_by(NotificationEvent.id)
        )
    ).all()
    if not pending:
        return 0
    subscriptions = (
        await session.scalars(
            select(NotificationSubscription).where(NotificationSubscription.active.is_(True))
        )
    ).all()
    rows = [
        {
            "event_id": e.id,
            "subscription_id": s.id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
        for e in pending
        for s in subscriptions
        if e.type in s.events
    ]
    if rows:
        # A concurrent sweep may fan out the same event: the unique (event, subscription) keeps one row.
        stmt = dialect_insert(session, table_of(NotificationDelivery)).on_conflict_do_nothing(
            index_elements=["event_id", "subscription_id"]
        )
        await session.execute(stmt, rows)
    await session.execute(
        update(NotificationEvent)
        .where(NotificationEvent.id.in_([e.id for e in pending]))
        .values(fanned_out_at=now)
    )
    await session.flush()
    return len(rows)


async def create_test_deliveries(
    *, session: AsyncSession, subscription_id: int | None, now: datetime
) -> list[int]:
    """A test event and its deliveries to one subscription (or every active one), due now."""
    if subscription_id is not None:
        targets = [await service.get(session=session, subscription_id=subscription_id)]
    else:
        query = select(NotificationSubscription).where(NotificationSubscription.active.is_(True))
        targets = list((await session.scalars(query.order_by(NotificationSubscription.id))).all())
    if not targets:
        raise NotFound(
            "no active notification subscriptions: add one with `tft-trader notify add-email` or add-webhook"
        )
    event = NotificationEvent(
        public_id=events.new_public_id(),
        type=events.TEST,
        version=events.PAYLOAD_VERSION,
        payload=events.probe_data(now),
        dedupe_key=f"{events.TEST}:{now.isoformat()}:{events.new_public_id()}",
        created_at=now,
        fanned_out_at=now,  # addressed directly, never fanned out to subscribers
    )
    session.add(event)
    await session.flush()
    deliveries = [
        NotificationDelivery(
            event_id=event.id, subscription_id=t.id, status="pending", attempts=0, next_attempt_at=now
        )
        for t in targets
    ]
    session.add_all(deliveries)
    await session.flush()
    return [d.id for d in deliveries]


async def due_ids(*, session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """Pending deliveries whose next attempt is due and that nobody holds, oldest first."""
    query = (
        select(NotificationDelivery.id)
        .where(
            NotificationDelivery.status == "pending",
            or_(NotificationDelivery.next_attempt_at.is_(None), NotificationDelivery.next_attempt_at <= now),
            or_(NotificationDelivery.claimed_until.is_(None), NotificationDelivery.claimed_until <= now),
        )
        .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def claim(*, session: AsyncSession, delivery_id: int, now: datetime) -> ClaimedDelivery | None:
    """Take a due delivery for one attempt, atomically; None when it is not due, done, or held elsewhere.

    The conditional UPDATE is the lock: of two workers (or a task and its redelivered copy) only one
    matches the row. Commit the claim before sending so the other sees it.
    """
    lease = now + timedelta(seconds=get_settings().notify.claim_seconds)
    table = NotificationDelivery
    result = await session.execute(
        update(table)
        .where(
            table.id == delivery_id,
            table.status == "pending",
            or_(table.next_attempt_at.is_(None), table.next_attempt_at <= now),
            or_(table.claimed_until.is_(None), table.claimed_until <= now),
        )
        .values(attempts=table.attempts + 1, claimed_until=lease, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = (
        await session.execute(
            select(NotificationDelivery, NotificationEvent, NotificationSubscription)
            .join(NotificationEvent, NotificationEvent.id == NotificationDelivery.event_id)
            .join(
                NotificationSubscription, NotificationSubscription.id == NotificationDelivery.subscription_id
            )
            .where(NotificationDelivery.id == delivery_id)
        )
    ).one()
    delivery, event, sub = row
    keys = [k for k in (sub.secret,) if k]
    if sub.previous_secret and sub.previous_secret_expires_at and sub.previous_secret_expires_at > now:
        keys.append(sub.previous_secret)
    await session.flush()
    return ClaimedDelivery(
        delivery_id=delivery.id,
        attempts=delivery.attempts,
        subscription_id=sub.id,
        channel=sub.channel,
        target=sub.target,
        active=sub.active,
        keys=tuple(keys),
        event_public_id=event.public_id,
        event_type=event.type,
        event_version=event.version,
        event_created_at=event.created_at,
        payload=event.payload,
    )


def backoff_seconds(attempt: int, settings: NotifySettings, rng: random.Random | None = None) -> float:
    """Delay before attempt `attempt + 1`: exponential, capped, with "equal jitter" (half fixed, half
    random) so a receiver that was down is not hit by every queued delivery at the same second."""
    ceiling = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** max(attempt - 1, 0))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


async def record_result(
    *, session: AsyncSession, claimed: ClaimedDelivery, result: SendResult, now: datetime
) -> tuple[str, datetime | None]:
    """Store an attempt's outcome and release the claim; returns (status, next attempt)."""
    settings = get_settings().notify
    next_at: datetime | None = None
    error = result.error
    if result.outcome == "sent":
        status = "sent"
    elif result.outcome == "gone":
        status = "disabled"
        await _disable(
            session, claimed.subscription_id, f"receiver answered 410 Gone at {now.isoformat()}", now
        )
    elif result.outcome == "retry" and claimed.attempts < _max_attempts(claimed, settings):
        status = "pending"
        next_at = now + timedelta(seconds=backoff_seconds(claimed.attempts, settings))
    else:
        status = "failed"
        if result.outcome == "retry":
            error = f"gave up after {claimed.attempts} attempts; last: {result.error}"
    await session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == claimed.delivery_id)
        .values(
            status=status,
            last_code=result.code,
            last_reply=result.reply,
            last_error=(error or None) and error[:500],
            next_attempt_at=next_at,
            claimed_until=None,
            sent_at=now if status == "sent" else None,
            updated_at=now,
        )
    )
    await session.flush()
    return status, next_at


def _max_attempts(claimed: ClaimedDelivery, settings: NotifySettings) -> int:
    # A test send answers "does it work now?": its one attempt is the answer, no retries hours later.
    return 1 if claimed.event_type == events.TEST else settings.max_attempts


async def mark_disabled(*, session: AsyncSession, claimed: ClaimedDelivery, now: datetime) -> None:
    """A claimed delivery whose subscription was disabled meanwhile: not sent, kept as `disabled`."""
    await session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == claimed.delivery_id)
        .values(status="disabled", claimed_until=None, last_error="subscription disabled", updated_at=now)
    )
    await session.flush()


async def _disable(session: AsyncSession, subscription_id: int, reason: str, now: datetime) -> None:
    await session.execute(
        update(NotificationSubscription)
        .where(NotificationSubscription.id == subscription_id)
        .values(active=False, disabled_reason=reason, updated_at=now)
    )
    # Its other queued deliveries would only knock on the same closed door.
    await session.execute(
        update(NotificationDelivery)
        .where(
            and_(
                NotificationDelivery.subscription_id == subscription_id,
                NotificationDelivery.status == "pending",
            )
        )
        .values(status="disabled", last_error="subscription disabled: " + reason, updated_at=now)
    )


async def list_deliveries(
    *, session: AsyncSession, failed_only: bool = False, limit: int = 50, before_id: int | None = None
) -> list[DeliveryRead]:
    """The newest deliveries (or only the failed ones), newest first, before the cursor id."""
    query = (
        select(NotificationDelivery, NotificationEvent.type, NotificationSubscription)
        .join(NotificationEvent, NotificationEvent.id == NotificationDelivery.event_id)
        .join(NotificationSubscription, NotificationSubscription.id == NotificationDelivery.subscription_id)
        .order_by(NotificationDelivery.id.desc())
        .limit(limit)
    )
    if failed_only:
        query = query.where(NotificationDelivery.status == "failed")
    if before_id is not None:
        query = query.where(NotificationDelivery.id < before_id)
    out = []
    for delivery, event_type, sub in (await session.execute(query)).all():
        fields = {c.key: getattr(delivery, c.key) for c in table_of(NotificationDelivery).c}
        out.append(
            DeliveryRead.model_validate(
                {**fields, "event_type": event_type, "channel": sub.channel, "target": sub.target}
            )
        )
    return out


async def count_by_status(*, session: AsyncSession) -> dict[str, int]:
    """How many deliveries are pending, sent, failed or disabled (the metrics endpoint's gauge)."""
    rows = await session.execute(
        select(NotificationDelivery.status, func.count()).group_by(NotificationDelivery.status)
    )
    return {status: count for status, count in rows.all()}


PRUNE_BATCH = 1000  # events deleted per sweep at most: a first prune of a long backlog stays a short write


async def prune(*, session: AsyncSession, now: datetime, days: int) -> int:
    """Delete outbox events older than `days` whose deliveries are all done (sent, or disabled with their
    subscription), with those deliveries; failed and pending ones stay visible. Returns the events deleted.

    Their dedupe keys go too: rerunning a day older than the retention would announce it again.
    """
    unfinished = exists().where(
        NotificationDelivery.event_id == NotificationEvent.id,
        NotificationDelivery.status.not_in(("sent", "disabled")),
    )
    query = (
        select(NotificationEvent.id)
        .where(
            NotificationEvent.created_at < now - timedelta(days=days),
            NotificationEvent.fanned_out_at.is_not(None),
            ~unfinished,
        )
        .order_by(NotificationEvent.id)
        .limit(PRUNE_BATCH)
    )
    old = list((await session.scalars(query)).all())
    if old:
        await session.execute(delete(NotificationDelivery).where(NotificationDelivery.event_id.in_(old)))
        await session.execute(delete(NotificationEvent).where(NotificationEvent.id.in_(old)))
        await session.flush()
    return len(old)
