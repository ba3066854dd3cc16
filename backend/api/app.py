"""The FastAPI application: `/api/v1` routers, errors, security middleware, and the dashboard at `/`."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware

from backend.api import errors, observability
from backend.api.cache import DropOnWrite, ResponseCache, ServeCached
from backend.api.errors import ERROR_RESPONSES, ApiError
from backend.api.middleware import BodySizeLimit, SecurityHeaders
from backend.api.routers import (
    backtests,
    candidates,
    events,
    health,
    models,
    notifications,
    pipeline,
    portfolio,
    prices,
    risk,
    sentiment,
    signals,
    tickers,
)
from backend.api.routers import settings as settings_router
from backend.api.static import mount_dashboard
from backend.core.settings import get_settings
from backend.core.version import app_version
from backend.db.changes import ChangeListener, supports_notify
from backend.db.engine import dispose_engines

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"

DESCRIPTION = """
Signals, the paper portfolio, prices, Reddit sentiment, models and backtests of a TFT Trader install.

**Auth**: `Authorization: Bearer <key>`; create keys with `tft-trader apikey create NAME --scope read|write`.
Writes need a write key; reads need a key unless the server runs with `API__PUBLIC_READ=true`.

**Conventions**: dates are ISO-8601 (`2013-03-01`), timestamps ISO-8601 UTC; money is a plain number in the
`currency` stated once per response; lists take `limit` (1-500) and an opaque `cursor` (the previous page's
`next_cursor`); every error is `{"error": {"code", "message", "details"}}`.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:

    if not gc.get_freeze_count():  # once per process (tests start many apps)
        gc.collect()
        gc.freeze()
    cache: ResponseCache | None = app.state.response_cache
    listener = None
    if cache is not None:
        listener = ChangeListener(
            get_settings().resolved_database_url, on_change=cache.invalidate, on_live=cache.set_live
        )
        listener.start()
    yield
    if listener is not None:
        await listener.stop()
    client = getattr(app.state, "redis", None)
    if client is not None:
        await client.aclose()
    await dispose_engines()


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document lists for `path` (templates like /signals/{signal_id})."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods |= {m.upper() for m in operations}
    return sorted(methods)


def create_app() -> FastAPI:
    """A new application configured from the current settings."""
    settings = get_settings()
    app = FastAPI(
        title="TFT Trader API",
        version=app_version(),
        description=DESCRIPTION,
        lifespan=_lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url="/redoc",
    )
    errors.install(app)
    app.state.response_cache = None
    if settings.api.response_cache and supports_notify(settings.resolved_database_url):
        app.state.response_cache = ResponseCache(
            max_entries=settings.api.response_cache_entries,
            max_age_seconds=settings.api.response_cache_max_age_seconds,
            max_bytes=settings.api.response_cache_max_bytes,
        )
    v1 = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES)
    routers = (
        health,
        tickers,
        prices,
        sentiment,
        signals,
        candidates,
        risk,
        portfolio,
        models,
        backtests,
        pipeline,
        notifications,
        settings_router,
        events,
    )
    for module in routers:
        v1.include_router(module.router)

    @v1.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def unknown(rest: str, request: Request) -> None:
        # This catch-all also matches a known path with a method it lacks: that is a 405, not a 404.
        allowed = _allowed_methods(request.app, request.url.path)
        if allowed:
            raise ApiError(
                405,
                f"{request.method} is not allowed on /api/v1/{rest}; use {', '.join(allowed)}",
                code="method_not_allowed",
            )
        raise ApiError(404, f"no API endpoint /api/v1/{rest}: see /docs for the endpoints")

    app.include_router(v1)

    @app.api_route(
        "/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    async def unknown_version(rest: str) -> None:
        raise ApiError(404, f"no API endpoint /api/{rest}: the API lives under {API_PREFIX} (see /docs)")

    # Middleware added first runs innermost: a cached answer still passes CORS and the security headers.
    if app.state.response_cache is not None:
        app.add_middleware(ServeCached, cache=app.state.response_cache)
        app.add_middleware(DropOnWrite, cache=app.state.response_cache)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    observability.install(app)  # outermost middleware; /metrics before the dashboard's catch-all
    # Last: the dashboard's catch-all must not shadow any API route.
    if not mount_dashboard(app, settings.api.static_dir):
        log.info("no dashboard build in %s: serving the API only", settings.api.static_dir)
    return app
