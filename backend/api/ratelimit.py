"""A fixed-window rate limit in Redis, per API key or (without a valid key) per client IP.

One INCR + EXPIRE per request in a pipeline. Shared by every API process through Redis. The client IP is
`request.client.host`, which uvicorn rewrites from X-Forwarded-For only for the proxies in
`API__FORWARDED_ALLOW_IPS` (`tft-trader serve` passes it), so a client cannot pick its own bucket.
When Redis is down the limit is not enforced (logged; health reports `degraded`): refusing every request
because the limiter's store is gone would turn a Redis outage into an API outage.
"""

from __future__ import annotations

import logging
import time

from fastapi import Request
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from backend.api.errors import ApiError
from backend.core.settings import get_settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def redis_client(request: Request) -> aioredis.Redis:
    """The app's Redis client (created on first use, on the serving event loop)."""
    client = getattr(request.app.state, "redis", None)
    if client is None:
        settings = get_settings()
        timeout = settings.api.redis_timeout_seconds
        client = aioredis.from_url(settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
        request.app.state.redis = client
    return client


async def hit(request: Request, bucket: str, limit: int) -> None:
    """Count one request in `bucket`; a 429 with Retry-After once the window's `limit` is passed."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"tft:ratelimit:{bucket}:{window}"
    try:
        async with redis_client(request).pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 1)
            count, _ = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("rate limit not enforced, Redis unavailable: %s", exc)
        return
    request.state.rate_limit = (limit, max(0, limit - int(count)))
    if int(count) > limit:
        retry_after = int((window + 1) * WINDOW_SECONDS - now) + 1
        raise ApiError(
            429,
            f"rate limit of {limit} requests a minute reached; retry in {retry_after} s",
            details={"limit": limit, "retry_after_seconds": retry_after},
        )
