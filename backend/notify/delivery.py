"""Delivering the outbox: fan out new events, then claim, send and record each due delivery.

Each step is its own short transaction: the claim commits before anything is sent (so a second worker or a
redelivered task finds the row taken), nothing is held open while a remote server takes its time, and the
outcome commits after. A worker dying mid-send leaves the claim to expire (`NOTIFY__CLAIM_SECONDS`), after
which the delivery is tried again: at least once, never twice for a recorded success.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from backend.core.calendar import utcnow
from backend.core.settings import get_settings
from backend.db.engine import transaction
from backend.events import bus
from backend.notify import email as email_channel
from backend.notify import outbox
from backend.notify import webhooks as webhook_channel
from backend.notify.render import dashboard_link, render
from backend.notify.schemas import AttemptOutcome, ClaimedDelivery, SendResult

log = logging.getLogger(__name__)
CONCURRENCY = 4  # sends in flight per sweep: one hanging receiver does not hold up the rest


async def deliver_due(*, now: datetime | None = None, limit: int | None = None) -> list[AttemptOutcome]:
    """Fan out new outbox events, prune old delivered ones, and attempt every due delivery (up to `limit`,
    default the batch size)."""
    sweep_at = now or utcnow()
    settings = get_settings().notify
    async with transaction() as session:
        created = await outbox.fan_out(session=session, now=sweep_at)
        pruned = await outbox.prune(session=session, now=sweep_at, days=settings.retention_days)
    if created or pruned:
        log.info("outbox: %d new deliveries, %d old events pruned", created, pruned)
    async with transaction() as session:
        batch = limit or settings.batch_size
        ids = await outbox.due_ids(session=session, now=sweep_at, limit=batch)
    # Not `sweep_at`: each claim must read the clock when it is taken. A lease counted from the start of a
    # long sweep (100 deliveries, 4 at a time, a receiver hanging 15 s each) would already have run out for
    # the last ones, and the next sweep would claim and send them a second time.
    return await deliver(ids, now=now)


async def deliver(delivery_ids: Sequence[int], *, now: datetime | None = None) -> list[AttemptOutcome]:
    """Attempt these deliveries (those still due and unclaimed); outcomes in the given order."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(delivery_id: int) -> AttemptOutcome | None:
        async with gate:
            return await deliver_one(delivery_id, now=now)

    results = await asyncio.gather(*(one(i) for i in delivery_ids))
    return [r for r in results if r is not None]


async def deliver_one(delivery_id: int, *, now: datetime | None = None) -> AttemptOutcome | None:
    """Claim, send and record one delivery; None when another worker has it or it is not due.

    `now` fixes the clock (tests travel in time with it); by default the claim and the outcome each read it.
    """
    fixed = now
    now = fixed or utcnow()
    async with transaction() as session:
        claimed = await outbox.claim(session=session, delivery_id=delivery_id, now=now)
    if claimed is None:
        return None
    if not claimed.active:
        async with transaction() as session:
            await outbox.mark_disabled(session=session, claimed=claimed, now=now)
        outcome = _outcome(claimed, "disabled", SendResult("failed", error="subscription disabled"), None)
        await _publish_failure(outcome)
        return outcome
    budget = get_settings().notify.claim_seconds / 2
    try:
        # Whatever the channel's own timeouts (SMTP's are per command), the attempt ends well inside the
        # claim: past it another worker could take the row and send the message a second time.
        async with asyncio.timeout(budget):
            result = await send(claimed)
    except TimeoutError:
        result = SendResult(
            "retry", error=f"attempt cut off after {budget:g} s (half of NOTIFY__CLAIM_SECONDS)"
        )
    except Exception as exc:  # a bug must not leave the claim to expire silently: record it, retry later
        log.exception("delivery %d crashed", delivery_id)
        result = SendResult("retry", error=f"internal error: {type(exc).__name__}: {exc}"[:500])
    done_at = fixed or utcnow()  # the send may have taken its full timeout: back-off counts from its end
    async with transaction() as session:
        status, next_at = await outbox.record_result(
            session=session, claimed=claimed, result=result, now=done_at
        )
    # The subscription's id, not its target: a webhook URL often carries a token (Discord, Slack, Zapier).
    log.info(
        "delivery %d (%s %s -> subscription %d): %s %s", delivery_id, claimed.event_type, claimed.channel,
        claimed.subscription_id, status, result.error or result.reply or "",
    )  # fmt: skip
    outcome = _outcome(claimed, status, result, next_at)
    if status in ("failed", "disabled"):
        await _publish_failure(outcome)
    return outcome


async def _publish_failure(outcome: AttemptOutcome) -> None:
    """A delivery that gave up, on the live event bus; the subscription's id, never its target (a webhook
    URL may carry a token)."""
    await bus.publish(
        bus.NOTIFICATION_FAILED,
        {
            "delivery_id": outcome.delivery_id,
            "subscription_id": outcome.subscription_id,
            "channel": outcome.channel,
            "event_type": outcome.event_type,
            "status": outcome.status,
            "code": outcome.code,
            "error": outcome.error,
        },
    )


async def send(claimed: ClaimedDelivery) -> SendResult:
    """One attempt over the subscription's channel."""
    settings = get_settings()
    if claimed.channel == "email":
        message = render(claimed.event_type, claimed.payload, public_url=settings.public_url)
        return await email_channel.send(claimed.target, message, settings.notify)
    payload = webhook_channel.body(
        public_id=claimed.event_public_id,
        type=claimed.event_type,
        version=claimed.event_version,
        created_at=claimed.event_created_at,
        data=_with_link(claimed, settings.public_url),
    )
    # Signed at send time: receivers reject timestamps older than ~5 minutes, and retries come hours later.
    return await webhook_channel.send(
        claimed.target,
        msg_id=claimed.event_public_id,
        payload=payload,
        keys=claimed.keys,
        now=utcnow(),
        settings=settings.notify,
    )


def _with_link(claimed: ClaimedDelivery, public_url: str) -> dict:
    link = dashboard_link(public_url, claimed.event_type, claimed.payload)
    return {**claimed.payload, "dashboard_url": link} if link else dict(claimed.payload)


def _outcome(
    claimed: ClaimedDelivery, status: str, result: SendResult, next_at: datetime | None
) -> AttemptOutcome:
    return AttemptOutcome(
        delivery_id=claimed.delivery_id,
        subscription_id=claimed.subscription_id,
        channel=claimed.channel,
        target=claimed.target,
        event_type=claimed.event_type,
        status=status,  # type: ignore[arg-type]
        attempts=claimed.attempts,
        code=result.code,
        reply=result.reply,
        error=result.error,
        next_attempt_at=next_at,
    )
