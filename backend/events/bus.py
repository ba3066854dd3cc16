"""Publish and subscribe to live events over Redis pub/sub.

Any process (a pipeline step, a Celery worker, the API) calls `publish`; every API process streams what
it receives to its `GET /api/v1/events` clients. Pub/sub is fire-and-forget: a client that is not
connected misses the event (the REST endpoints hold the state; events only say "look again").
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from backend.core.calendar import utcnow
from backend.core.settings import get_settings

log = logging.getLogger(__name__)
CHANNEL = "tft:events"


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
    event = Event(type=event_type, data=data or {})
    client = _client(url)
    try:
        return int(await client.publish(CHANNEL, event.model_dump_json()))
    except (RedisError, OSError) as exc:
        log.warning("event %s not published: %s", event_type, exc)
        return 0
    finally:
        await client.aclose()


async def subscribe(*, url: str | None = None, poll_seconds: float = 1.0) -> AsyncGenerator[Event | None]:
    """Events as they arrive; yields None every `poll_seconds` without one, so callers can send heartbeats
    and notice disconnected clients. Raises RedisError/OSError when Redis cannot be reached at the start."""
    settings = get_settings()
    client = aioredis.from_url(
        url or settings.redis_url, socket_connect_timeout=settings.api.redis_timeout_seconds
    )
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        await pubsub.subscribe(CHANNEL)
        while True:
            message = await pubsub.get_message(timeout=poll_seconds)
            if message is None or message.get("type") != "message":
                yield None
                continue
            try:
                yield Event.model_validate(json.loads(message["data"]))
            except ValueError:
                log.warning("ignored a malformed event on %s", CHANNEL)
    finally:
        await pubsub.aclose()
        await client.aclose()
