"""At most one call per key in flight: callers that arrive while it runs await the same result."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class SingleFlight(Generic[K, T]):
    """Used where a burst of identical requests would each read the database (an API key's lookup when
    its remembered verification lapses, a cached answer right after a write)."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[T]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[T]]) -> T:
        running = self._running.get(key)
        if running is None or running.get_loop() is not asyncio.get_running_loop():
            running = self._running[key] = asyncio.ensure_future(call())
            running.add_done_callback(functools.partial(self._done, key))
        # shield: a caller that goes away (client disconnect) cancels its own wait, not the call the
        # others are waiting for.
        return await asyncio.shield(running)

    def _done(self, key: K, call: asyncio.Future[T]) -> None:
        if self._running.get(key) is call:
            del self._running[key]
        if not call.cancelled():
            call.exception()  # retrieved: no "never retrieved" warning when every caller went away
