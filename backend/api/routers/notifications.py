"""Notifications: email and webhook subscriptions, a test send, and the delivery log."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import ReadDep, SessionDep, WriteDep
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, page
from backend.auth.schemas import Principal
from backend.core.calendar import utcnow
from backend.notify import delivery, outbox
from backend.notify import service as notify_service
from backend.notify.events import EVENT_TYPES
from backend.notify.schemas import AttemptRead, DeliveryRead, SubscriptionCreated, SubscriptionRead

router = APIRouter(prefix="/notifications", tags=["notifications"])
SubscriptionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EVENTS_TEXT = ", ".join(EVENT_TYPES)


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"channel": "email", "target": "me@example.com", "events": ["signal.new", "trade.closed"]},
                {"channel": "webhook", "target": "https://hooks.example.com/tft"},
            ]
        },
    )

    channel: Literal["email", "webhook"]
    target: str = Field(min_length=3, max_length=500, description="an email address or an https URL")
    events: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=20, description=f"default: every event type ({EVENTS_TEXT})"
    )


def _shown(row: SubscriptionRead, principal: Principal) -> SubscriptionRead:
    """A webhook URL often carries a token (Slack, Discord, Zapier): read keys see only its host."""
    if principal.scope == "write" or row.channel != "webhook":
        return row
    return row.model_copy(update={"target": redact_url(row.target)})


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/..." if parts.scheme else "..."


@router.get("/subscriptions", response_model=Page[SubscriptionRead], summary="Subscriptions")
async def list_subscriptions(
    session: SessionDep, principal: ReadDep, limit: Limit = 100, cursor: Cursor = None
) -> Page[SubscriptionRead]:
    """Every email and webhook subscription, oldest first; never a secret, and webhook URLs only in full
    for a write key."""
    after = decode_cursor(cursor, int)
    rows = await notify_service.list_subscriptions(
        session=session, after_id=after[0] if after else None, limit=limit + 1
    )
    rows, next_cursor = page(rows, limit, lambda r: (r.id,))
    return Page(items=[_shown(r, principal) for r in rows], next_cursor=next_cursor)


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionCreated,
    summary="Subscribe an email address or a webhook (write key)",
)
async def add_subscription(body: SubscriptionIn, session: SessionDep, _: WriteDep) -> SubscriptionCreated:
    """A webhook must be https on a public address; its signing secret (Standard Webhooks) is in this
    answer only. 422 names a bad address, URL or event type."""
    async with session.begin():
        if body.channel == "email":
            return await notify_service.add_email(
                session=session, address=body.target, event_names=body.events
            )
        return await notify_service.add_webhook(session=session, url=body.target, event_names=body.events)


@router.delete(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    summary="Remove a subscription (write key)",
)
async def remove_subscription(
    subscription_id: SubscriptionId, session: SessionDep, _: WriteDep
) -> SubscriptionRead:
    """Deletes it and its delivery log; returns what was removed (404 for an unknown id)."""
    async with session.begin():
        return await notify_service.remove(session=session, subscription_id=subscription_id)


@router.post(
    "/subscriptions/{subscription_id}/enable",
    response_model=SubscriptionRead,
    summary="Re-enable a subscription (write key)",
)
async def enable_subscription(
    subscription_id: SubscriptionId, session: SessionDep, _: WriteDep
) -> SubscriptionRead:
    """After a 410 Gone or too many failures: new events reach it again (old ones are not re-sent)."""
    async with session.begin():
        return await notify_service.enable(session=session, subscription_id=subscription_id)


@router.post(
    "/subscriptions/{subscription_id}/test",
    response_model=list[AttemptRead],
    summary="Send a test notification now (write key)",
)
async def test_subscription(
    subscription_id: SubscriptionId, session: SessionDep, _: WriteDep
) -> list[AttemptRead]:
    """A `notification.test` event sent at once to this subscription (like `tft-trader notify test ID`);
    the answer says whether it arrived and what the receiver replied. A failed send is a 200 whose
    `status` is not `sent`."""
    async with session.begin():
        ids = await outbox.create_test_deliveries(
            session=session, subscription_id=subscription_id, now=utcnow()
        )
    outcomes = await delivery.deliver(ids)
    return [AttemptRead.model_validate(o) for o in outcomes]


@router.get("/deliveries", response_model=Page[DeliveryRead], summary="The delivery log")
async def deliveries(
    session: SessionDep,
    principal: ReadDep,
    failed: Annotated[bool, Query(description="only deliveries that gave up")] = False,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[DeliveryRead]:
    """Deliveries newest first: status, attempts, the receiver's last reply and error."""
    before = decode_cursor(cursor, int)
    rows = await outbox.list_deliveries(
        session=session, failed_only=failed, limit=limit + 1, before_id=before[0] if before else None
    )
    rows, next_cursor = page(rows, limit, lambda r: (r.id,))
    if principal.scope != "write":
        rows = [
            r.model_copy(update={"target": redact_url(r.target)}) if r.channel == "webhook" else r
            for r in rows
        ]
    return Page(items=rows, next_cursor=next_cursor)
