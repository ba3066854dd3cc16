"""A fixed-window rate limit in Redis, per API key or (without a valid key) per client IP.

Shared by every API process through Redis (`INCRBY` + `EXPIRE` on `tft:ratelimit:<bucket>:<window>`).
Far from the limit a process adds its hits up locally and sends them in one `INCRBY` at least every
`SYNC_SECONDS`, or sooner once a tenth of what is left of the budget is pending: a Redis round trip on
every request cost more than answering a cached read. Near the limit every hit goes to Redis, so the
count is exact where it matters (several processes may overshoot by at most their pending tenths).

The client IP is `request.client.host`, which uvicorn rewrites from X-Forwarded-For only for the proxies
in `API__FORWARDED_ALLOW_IPS` (`tft-trader serve` passes it), so a client cannot pick its own bucket.
When Redis is down the limit is not enforced (logged; health reports `degraded`): refusing every request
because the limiter's store is gone would turn a Redis outage into an API outage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from fastapi import Request
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from backend.api.errors import ApiError
from backend.core.settings import get_settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
SYNC_SECONDS = 0.25
MAX_BUCKETS = 10_000  # per window and process; beyond, hits go straight to Redis


@dataclass
class _Bucket:
    known: int = 0  # the window's count in Redis at the last sync (this process's hits included)
    pending: int = 0  # hits counted here and not yet sent
    synced_at: float = float("-inf")
    syncing: bool = False


def redis_client(request: Request) -> aioredis.Redis:
    """The app's Redis client (created on first use, on the serving event loop)."""
    client = getattr(request.app.state, "redis", None)
    if client is None:
        settings = get_settings()
        timeout = settings.api.redis_timeout_seconds
        client = aioredis.from_url(settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
        request.app.state.redis = client
    return client


def _bucket(request: Request, name: str, window: int) -> _Bucket:
    """This process's count of `name` in `window`. The buckets of a window are one dict, replaced when
    the window ends; past MAX_BUCKETS in one window (many client IPs) a new bucket is not kept, so each
    of its hits goes to Redis at once."""
    held: tuple[int, dict[str, _Bucket]] | None = getattr(request.app.state, "rate_buckets", None)
    if held is None or held[0] != window:
        held = request.app.state.rate_buckets = (window, {})
    buckets = held[1]
    state = buckets.get(name)
    if state is None:
        state = _Bucket()
        if len(buckets) < MAX_BUCKETS:
            buckets[name] = state
    return state


async def _sync(request: Request, key: str, state: _Bucket) -> None:
    """Send the pending hits; `known` becomes the window's total in Redis."""
    sending = state.pending
    state.syncing = True
    try:
        async with redis_client(request).pipeline(transaction=False) as pipe:
            pipe.incrby(key, sending)
            pipe.expire(key, WINDOW_SECONDS + 1)
            count, _ = await pipe.execute()
    except (RedisError, OSError) as exc:
        log.warning("rate limit not enforced, Redis unavailable: %s", exc)
        state.pending -= sending  # not kept for later: the limit is off while Redis is down
        state.synced_at = time.monotonic()
        return
    finally:
        state.syncing = False
    state.pending -= sending
    state.known = int(count)
    state.synced_at = time.monotonic()


async def hit(request: Request, bucket: str, limit: int) -> None:
    """Count one request in `bucket`; a 429 with Retry-After once the window's `limit` is passed."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    state = _bucket(request, bucket, window)
    state.pending += 1
    due = state.pending > (limit - state.known) // 10 or time.monotonic() - state.synced_at >= SYNC_SECONDS
    if due and not state.syncing:
        await _sync(request, f"tft:ratelimit:{bucket}:{window}", state)
    count = state.known + state.pending
    request.state.rate_limit = (limit, max(0, limit - count))
    if count > limit:
        retry_after = int((window + 1) * WINDOW_SECONDS - now) + 1
        raise ApiError(
            429,
            f"rate limit of {limit} requests a minute reached; retry in {retry_after} s",
            details={"limit": limit, "retry_after_seconds": retry_after},
        )
