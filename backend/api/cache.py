"""Answers of the hot read endpoints kept in memory until the database changes.

The data behind signals, candidates, the portfolio, models, backtests and prices changes a few times a
day (the after-close chain, the monitor's passes, a kill switch), while the dashboard and scripts ask for
it again and again. Each API process keeps the JSON it rendered, by path and query, and drops everything
when:
- PostgreSQL reports a committed write to any watched table (`backend.db.changes`, from any process);
- this process accepts a write request (before its response starts, so the client reads its own write
  from this process; other API processes of `serve --workers N` drop theirs when the database's notice
  reaches them, a few milliseconds later);
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

import functools
import hashlib
import inspect
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.dependencies.utils import get_dependant
from fastapi.responses import Response
from prometheus_client import Counter, Gauge
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api import deps
from backend.api.errors import ApiError, error_response
from backend.api.observability import ROUTE_LABEL, route_label
from backend.core.flight import SingleFlight
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
    """An LRU of rendered answers, bounded in entries and bytes, valid only while `live` (every change
    is heard)."""

    def __init__(self, *, max_entries: int, max_age_seconds: float, max_bytes: int = 64 * 2**20) -> None:
        self.max_entries, self.max_age, self.max_bytes = max_entries, max_age_seconds, max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._filling: SingleFlight[tuple[str, int], _Entry] = SingleFlight()
        self.generation = 0
        self.live = False

    def __len__(self) -> int:
        return len(self._entries)

    def _clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._bytes = 0

    def invalidate(self, table: str | None = None) -> None:
        """Drop everything: `table` was written (None: a write request of this process)."""
        self._clear()
        (_DROP_WRITE if table is None else _DROP_CHANGE).inc()

    def set_live(self, live: bool) -> None:
        # Going live: what was kept before may predate missed changes. Going dark: stop serving it.
        self._clear()
        self.live = live
        LIVE.set(1 if live else 0)

    def get(self, key: str) -> _Entry | None:
        entry = self._entries.get(key) if self.live else None
        if entry is None:
            return None
        if entry.expires < time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    async def fill(self, key: str, render: Callable[[], Awaitable[bytes]], route: str) -> _Entry:
        """`render()` kept under `key`; while it runs, other misses of `key` wait for it instead of each
        reading the database (50 dashboards asking again right after the evening's writes)."""
        generation = self.generation

        async def render_and_put() -> _Entry:
            return self.put(key, generation, await render(), route)

        return await self._filling.run((key, generation), render_and_put)

    def put(self, key: str, generation: int, body: bytes, route: str) -> _Entry:
        """Keep `body` unless the cache changed generation since the read that made it began (or it
        would take more than an eighth of the byte budget)."""
        if not (self.live and generation == self.generation) or len(body) > self.max_bytes // 8:
            return _rendered(body, route)
        self._drop(key)
        entry = self._entries[key] = _rendered(body, route, time.monotonic() + self.max_age)
        self._bytes += len(body)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return entry

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.body)


def _declared_query(route: Callable[..., Any]) -> frozenset[str]:
    """The query parameter names FastAPI reads for `route` (aliases included, dependencies too)."""
    names: set[str] = set()
    pending = [get_dependant(path="", call=route)]
    while pending:
        dependant = pending.pop()
        names.update(param.alias for param in dependant.query_params)
        pending.extend(dependant.dependencies)
    return frozenset(names)


async def respond(
    request: Request, build: Callable[[], Awaitable[BaseModel]], declared: frozenset[str] | None = None
) -> Response:
    """The cached JSON of this path and query, or `build()` rendered (and kept when still current).

    `build` must return the route's `response_model` type: its JSON is what FastAPI would have sent.
    A query with parameters outside `declared` is answered but not kept: FastAPI ignores unknown
    parameters, so `?x=1`, `?x=2`, ... would otherwise fill the cache with copies of one answer.
    """
    cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    route = route_label(request.scope)

    async def render() -> bytes:
        return (await build()).model_dump_json(by_alias=True).encode()

    if cache is None or (declared is not None and not set(request.query_params) <= declared):
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
    declared = functools.cache(functools.partial(_declared_query, route))  # after the module's imports

    @functools.wraps(route)
    async def wrapper(*args: Any, request: Request, **kwargs: Any) -> Response:
        async def build() -> BaseModel:
            if not wants_session:
                return await route(*args, **kwargs)
            async with session_factory(get_engine())() as session:
                return await route(*args, session=session, **kwargs)

        return await respond(request, build, declared())

    wrapper.__signature__ = signature.replace(parameters=[*kept, extra])  # type: ignore[attr-defined]
    return wrapper


class ServeCached:
    """Pure ASGI, before routing: a GET with a cached answer is served here, after `ReadDep`'s checks."""

    def __init__(self, app: ASGIApp, cache: ResponseCache) -> None:
        self.app, self.cache = app, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["method"] == "GET" and self.cache.live):
            await self.app(scope, receive, send)
            return
        key = cache_key(scope)
        if self.cache.get(key) is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            await deps.authorize_read(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, code=exc.code, details=exc.details)
            scope[ROUTE_LABEL] = "cached"
            await response(scope, receive, send)
            return
        except Exception:
            # Not decided here: the normal path checks again and reports it as it always does.
            await self.app(scope, receive, send)
            return
        entry = self.cache.get(key)  # again: a change may have dropped it while the key was checked
        if entry is None:
            await self.app(scope, receive, send)
            return
        _HIT.inc()
        scope[ROUTE_LABEL] = entry.route
        await entry.response(request.headers.get("if-none-match"))(scope, receive, send)


class DropOnWrite:
    """Pure ASGI: empty the cache when a write request's response starts (its transaction committed)."""

    def __init__(self, app: ASGIApp, cache: ResponseCache) -> None:
        self.app, self.cache = app, cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def dropping(message: Message) -> None:
            # Refused requests (401, 404, 422...) wrote nothing: an anonymous POST must not empty it.
            if message["type"] == "http.response.start" and message["status"] < 400:
                self.cache.invalidate()
            await send(message)

        await self.app(scope, receive, dropping)
