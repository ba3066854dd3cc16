"""Publish and subscribe to live events over Redis pub/sub.

Any process (a pipeline step, a Celery worker, the API) calls `publish`; every API process streams what
it receives to its `GET /api/v1/events` clients. Pub/sub is fire-and-forget: a client that is not
connected misses the event (the REST endpoints hold the state; events only say "look again").
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from backend.core.calendar import utcnow
from backend.core.settings import get_settings

log = logging.getLogger(__name__)


def channel() -> str:
    """The pub/sub channel: named after the install's task queue (default `tft:events`), because Redis
    pub/sub ignores the database number: two installs (or parallel test runs) on one Redis must not hear
    each other's events."""
    return f"{get_settings().tasks.queue}:events"


# The event types the pipeline, the workers and the notifier publish (the `event:` field of the stream).
SIGNAL_CREATED = "signal.created"  # an approved entry for the next open
POSITION_EXITED = "position.exited"  # a closed round trip (stop, target, time, signal flip)
PORTFOLIO_HALTED = "portfolio.halted"  # the kill switch latched at a close
PIPELINE_STEP = "pipeline.step"  # a scheduled step (or a backtest) finished: success, skipped or failed
NOTIFICATION_FAILED = "notification.failed"  # a delivery gave up (failed) or its subscription was disabled
EVENT_TYPES = (SIGNAL_CREATED, POSITION_EXITED, PORTFOLIO_HALTED, PIPELINE_STEP, NOTIFICATION_FAILED)


class Event(BaseModel):
    """One live event: `type` such as `signal.created`, `position.exited`, `pipeline.step`."""

    type: str = Field(min_length=1, max_length=64, examples=["signal.created"])
    at: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict, examples=[{"ticker": "AAPL", "signal_id": 42}])


def _client(url: str | None = None) -> aioredis.Redis:
    settings = get_settings()
    timeout = settings.api.redis_timeout_seconds
    return aioredis.from_url(
        url or settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout
    )


async def publish(event_type: str, data: dict[str, Any] | None = None, *, url: str | None = None) -> int:
    """Publish an event; returns how many API processes received it (0 when none listen).

    Never raises for Redis trouble: an event is a courtesy and must not fail the pipeline step that sends
    it (the failure is logged).
    """
    return await publish_many([(event_type, data or {})], url=url)


async def publish_many(events: Sequence[tuple[str, dict[str, Any]]], *, url: str | None = None) -> int:
    """Publish events in order over one connection; returns the receipts summed (never raises, as
    `publish`). Redis down costs one connect timeout, not one per event."""
    if not events:
        return 0
    client = _client(url)
    received = 0
    try:
        for event_type, data in events:
            event = Event(type=event_type, data=data)
            received += int(await client.publish(channel(), event.model_dump_json()))
    except (RedisError, OSError) as exc:
        log.warning("events %s not published: %s", ", ".join(sorted({t for t, _ in events})), exc)
    finally:
        await client.aclose()
    return received


async def subscribe(*, url: str | None = None, poll_seconds: float = 1.0) -> AsyncGenerator[Event | None]:
    """Events as they arrive; yields None every `poll_seconds` without one, so callers can send heartbeats
    and notice disconnected clients. Raises RedisError/OSError when Redis cannot be reached at the start."""
    settings = get_settings()
    client = aioredis.from_url(
        url or settings.redis_url, socket_connect_timeout=settings.api.redis_timeout_seconds
    )
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(channel())
        while True:
            message = await pubsub.get_message(timeout=poll_seconds)
            if message is None or message.get("type") != "message":
                yield None
                continue
            try:
                yield Event.model_validate(json.loads(message["data"]))
            except ValueError:
                log.warning("ignored a malformed event on %s", channel())
    finally:
        await pubsub.aclose()
        await client.aclose()
