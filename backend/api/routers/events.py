"""`GET /api/v1/events`: server-sent events (new signals, exits, pipeline steps) with heartbeats."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from redis.exceptions import RedisError
from sse_starlette import EventSourceResponse

from backend.api.deps import ReadDep
from backend.api.errors import ApiError
from backend.core.settings import get_settings
from backend.events import bus

log = logging.getLogger(__name__)
router = APIRouter(tags=["events"])


@router.get(
    "/events",
    summary="Live events (server-sent events)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`text/event-stream`: `event: <type>` with a JSON `data:` line per event "
            f"(types: {', '.join(bus.EVENT_TYPES)}), and `event: heartbeat` every "
            "API__SSE_HEARTBEAT_SECONDS. Events say 'look again': a client that is not connected misses "
            "them; the REST endpoints hold the state",
            "content": {"text/event-stream": {"example": 'event: signal.created\ndata: {"type": ...}\n\n'}},
        }
    },
)
async def events(request: Request, _: ReadDep) -> EventSourceResponse:
    """A stream of events as they are published; 503 when Redis (the event bus) is unreachable."""
    heartbeat = get_settings().api.sse_heartbeat_seconds
    stream = bus.subscribe(poll_seconds=min(1.0, heartbeat))
    try:
        first = await anext(stream)  # subscribes now, so a failure is a 503 rather than a broken stream
    except (RedisError, OSError) as exc:
        await stream.aclose()
        raise ApiError(
            503, f"the event bus (Redis) is unreachable: {exc}", code="events_unavailable"
        ) from None

    async def send() -> AsyncIterator[dict[str, Any]]:
        last_beat = 0.0
        pending = first
        try:
            while True:
                if await request.is_disconnected():
                    return
                if pending is not None:
                    yield {"event": pending.type, "data": pending.model_dump_json()}
                now = time.monotonic()
                if now - last_beat >= heartbeat:
                    last_beat = now
                    yield {"event": "heartbeat", "data": "{}"}
                pending = await anext(stream)
        finally:
            await stream.aclose()

    return EventSourceResponse(send())
