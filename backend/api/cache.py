"""Answers of the hot read endpoints kept in memory until the database changes.

The data behind signals, candidates, the portfolio, models, backtests and prices changes a few times a
day (the after-close chain, the monitor's passes, a kill switch), while the dashboard and scripts ask for
it again and again. Each API process keeps the JSON it rendered, by path and query, and drops everything
when:
- PostgreSQL reports a committed write to any watched table (`backend.db.changes`, from any process);
- this process answers a write request (before the response starts, so its client cannot read stale);
- an entry is older than `api.response_cache_max_age_seconds` (a safety net, not the mechanism).
While the change listener is not connected (SQLite, PostgreSQL down or restarting, start-up) nothing is
kept: every request reads the database, as without the cache.

A read that started before a change must not store what it read after the drop: each entry is stored
only if the generation it started under is still the current one.

Routes opt in with `@cached`; all of them need `ReadDep`. A hit is answered by `ServeCached` before
FastAPI routes the request (matching the path against every route and resolving dependencies cost more
than the rest of a cached answer), after the same checks `ReadDep` makes (`deps.authorize_read`: key,
rate limit, read access); their refusals are the same error responses. The answer has an ETag;
`If-None-Match` gets a 304.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from prometheus_client import Counter, Gauge
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api import deps
from backend.api.errors import ApiError, error_response
from backend.api.observability import ROUTE_LABEL, route_label
from backend.db.engine import get_engine, session_factory

LOOKUPS = Counter("tft_api_response_cache_lookups_total", "Requests to cached routes by outcome", ["result"])
_HIT, _MISS = LOOKUPS.labels("hit"), LOOKUPS.labels("miss")
DROPS = Counter("tft_api_response_cache_drops_total", "Times the response cache was emptied", ["cause"])
_DROP_CHANGE, _DROP_WRITE = DROPS.labels("database_change"), DROPS.labels("write_request")
LIVE = Gauge("tft_api_response_cache_live", "1 while the cache hears every database change and serves")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The browser may store the answer but must ask again each time (a 304 when the ETag still matches).
CACHE_CONTROL = "private, no-cache"


@dataclass(frozen=True, slots=True)
class _Entry:
    body: bytes
    etag: str
    route: str  # the route template, for the request metrics of a hit
    expires: float = 0.0

    def response(self, if_none_match: str | None) -> Response:
        headers = {"etag": self.etag, "cache-control": CACHE_CONTROL}
        if if_none_match == self.etag:
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type="application/json", headers=headers)


def _rendered(body: bytes, route: str, expires: float = 0.0) -> _Entry:
    return _Entry(body, f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"', route, expires)


def cache_key(scope: Scope) -> str:
    return f"{scope['path']}?{scope['query_string'].decode('latin-1')}"


class ResponseCache:
    """An LRU of rendered answers, valid only while `live` (every change is heard)."""

    def __init__(self, *, max_entries: int, max_age_seconds: float) -> None:
        self.max_entries, self.max_age = max_entries, max_age_seconds
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._filling: dict[str, tuple[int, asyncio.Future[_Entry]]] = {}
        self.generation = 0
        self.live = False

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate(self, table: str | None = None) -> None:
        """Drop everything: `table` was written (None: a write request of this process)."""
        self.generation += 1
        self._entries.clear()
        (_DROP_WRITE if table is None else _DROP_CHANGE).inc()

    def set_live(self, live: bool) -> None:
        # Going live: what was kept before may predate missed changes. Going dark: stop serving it.
        self.generation += 1
        self._entries.clear()
        self.live = live
        LIVE.set(1 if live else 0)

    def get(self, key: str) -> _Entry | None:
        entry = self._entries.get(key) if self.live else None
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    async def fill(self, key: str, render: Callable[[], Awaitable[bytes]], route: str) -> _Entry:
        """`render()` kept under `key`; while it runs, other misses of `key` wait for it instead of each
        reading the database (50 dashboards asking again right after the evening's writes)."""
        running = self._filling.get(key)
        if running is None or running[0] != self.generation:
            generation = self.generation
            task = asyncio.ensure_future(self._render_and_put(key, generation, render, route))
            running = self._filling[key] = (generation, task)
            task.add_done_callback(functools.partial(self._filled, key))
        # shield: a client that goes away cancels its own wait, not the read the others wait for.
        return await asyncio.shield(running[1])

    async def _render_and_put(
        self, key: str, generation: int, render: Callable[[], Awaitable[bytes]], route: str
    ) -> _Entry:
        return self.put(key, generation, await render(), route)

    def _filled(self, key: str, task: asyncio.Future[_Entry]) -> None:
        running = self._filling.get(key)
        if running is not None and running[1] is task:
            del self._filling[key]

    def put(self, key: str, generation: int, body: bytes, route: str) -> _Entry:
        """Keep `body` unless the cache changed generation since the read that made it began."""
        if not (self.live and generation == self.generation):
            return _rendered(body, route)
        entry = self._entries[key] = _rendered(body, route, time.monotonic() + self.max_age)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return entry


async def respond(request: Request, build: Callable[[], Awaitable[BaseModel]]) -> Response:
    """The cached JSON of this path and query, or `build()` rendered (and kept when still current).

    `build` must return the route's `response_model` type: its JSON is what FastAPI would have sent.
    """
    cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    route = route_label(request.scope)

    async def render() -> bytes:
        return (await build()).model_dump_json(by_alias=True).encode()

    if cache is None:
        return _rendered(await render(), route).response(request.headers.get("if-none-match"))
    key = cache_key(request.scope)
    kept = cache.get(key)
    (_MISS if kept is None else _HIT).inc()
    entry = kept if kept is not None else await cache.fill(key, render, route)
    return entry.response(request.headers.get("if-none-match"))


def cached(route: Callable[..., Awaitable[BaseModel]]) -> Callable[..., Awaitable[Response]]:
    """A read route answered through `respond`: put it under `@router.get(...)`, which keeps documenting
    the route's `response_model`. The route itself is unchanged: on a miss FastAPI resolves its
    parameters and dependencies as before and hands the wrapper the request as an extra parameter. Its
    `session` parameter is opened only then: a hit never touches the database."""
    signature = inspect.signature(route)
    if "request" in signature.parameters:
        raise TypeError(f"{route.__name__}: @cached adds the `request` parameter itself")
    if not any(p.annotation in ("ReadDep", deps.ReadDep) for p in signature.parameters.values()):
        # A hit is served after `deps.authorize_read`, which is what ReadDep checks: nothing else.
        raise TypeError(f"{route.__name__}: @cached routes must depend on ReadDep")
    wants_session = "session" in signature.parameters
    kept = [p for name, p in signature.parameters.items() if name != "session"]
    extra = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)

    @functools.wraps(route)
    async def wrapper(*args: Any, request: Request, **kwargs: Any) -> Response:
        async def build() -> BaseModel:
            if not wants_session:
                return await route(*args, **kwargs)
            async with session_factory(get_engine())() as session:
                return await route(*args, session=session, **kwargs)

        return await respond(request, build)

    wrapper.__signature__ = signature.replace(parameters=[*kept, extra])  # type: ignore[attr-defined]
    return wrapper


class ServeCached:
    """Pure ASGI, before routing: a GET with a cached answer is served here, after `ReadDep`'s checks."""

    def __init__(self, app: ASGIApp, cache: ResponseCache) -> None:
        self.app, self.cache = app, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = None
        if scope["type"] == "http" and scope["method"] == "GET" and self.cache.live:
            entry = self.cache.get(cache_key(scope))
        if entry is None:
            await self.app(scope, receive, send)
            return
        _HIT.inc()
        request = Request(scope, receive)
        response: Response
        try:
            await deps.authorize_read(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, code=exc.code, details=exc.details)
        except Exception:
            # Not decided here: the normal path checks again and reports it as it always does.
            await self.app(scope, receive, send)
            return
        else:
            response = entry.response(request.headers.get("if-none-match"))
        scope[ROUTE_LABEL] = entry.route
        await response(scope, receive, send)


class DropOnWrite:
    """Pure ASGI: empty the cache when a write request's response starts (its transaction committed)."""

    def __init__(self, app: ASGIApp, cache: ResponseCache) -> None:
        self.app, self.cache = app, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def dropping(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.cache.invalidate()
            await send(message)

        await self.app(scope, receive, dropping)
