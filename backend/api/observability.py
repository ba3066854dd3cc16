"""The API's observability: Sentry when `SENTRY_DSN` is set, and Prometheus metrics at `GET /metrics`.

`/metrics` serves this process's request counters and latencies, plus gauges read from the database at
scrape time: each pipeline step's latest status, trading date and finish time (the `heartbeat` step's
finish time shows that beat is scheduling and a worker is running), and notification deliveries by
status. Reading them from the database, not from the workers' counters, means the API shows the same
numbers whichever worker ran a task and however often workers restart; the workers' own task durations and
failures are on their exporter (`TASKS__METRICS_PORT`).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.errors import ApiError
from backend.core.observability import init_sentry, metrics_registry
from backend.core.settings import get_settings
from backend.db.engine import get_engine, session_factory
from backend.notify import outbox
from backend.pipeline import runs as runs_service
from backend.pipeline.models import RUN_STATUSES, PipelineRun

log = logging.getLogger(__name__)
METRICS_PATH = "/metrics"

REQUESTS = Counter("tft_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "tft_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of the response)",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")),
)


class RequestMetrics:
    """Counts every HTTP request by method, route template and status (pure ASGI, outermost).

    The label is the matched route's template (`/api/v1/signals/{signal_id}`), never the raw path: a
    scanner trying thousands of URLs must not create thousands of time series.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler ends as a 500

        async def tracking(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        finally:
            route = route_label(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - started)


ROUTE_LABEL = "tft.route"  # set by a handler that answers before routing (the response cache)


def route_label(scope: Scope) -> str:
    if ROUTE_LABEL in scope:
        return str(scope[ROUTE_LABEL])
    # The routers write the matched route into the scope they were given (the same dict passed down).
    # FastAPI >= 0.16x keeps an included router's routes unprefixed and records the full template in its
    # effective route context; older versions copy each route with its full path.
    context = scope.get("fastapi", {}).get("effective_route_context")
    path = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
    if path is None:
        return "unmatched"
    return path or "/"


class _Families(Collector):
    """Metric families computed before rendering (the database reads are async; collectors are not)."""

    def __init__(self, families: Sequence[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self.families


def _day_seconds(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def _pipeline_families(runs: Sequence[PipelineRun]) -> list[GaugeMetricFamily]:
    status = GaugeMetricFamily(
        "tft_pipeline_step_status",
        "1 for the status of each step's latest run (by trading date), 0 for the others",
        labels=["task", "status"],
    )
    day = GaugeMetricFamily(
        "tft_pipeline_step_trading_date",
        "Trading date of each step's latest run, as Unix time of its midnight UTC",
        labels=["task"],
    )
    finished = GaugeMetricFamily(
        "tft_pipeline_step_finished_timestamp_seconds",
        "When each step's latest run finished (heartbeat: the last beat a worker ran)",
        labels=["task"],
    )
    for run in runs:
        for name in RUN_STATUSES:
            status.add_metric([run.task, name], 1.0 if run.status == name else 0.0)
        day.add_metric([run.task], _day_seconds(run.trading_date))
        if run.finished_at is not None:
            finished.add_metric([run.task], run.finished_at.timestamp())
    return [status, day, finished]


async def database_families() -> list[GaugeMetricFamily]:
    """Gauges read from the database now; `tft_database_up 0` alone when it cannot be reached."""
    up = GaugeMetricFamily("tft_database_up", "1 when the API reached the database for this scrape")
    try:
        async with session_factory(get_engine())() as session:
            runs = await runs_service.last_per_task(session=session)
            deliveries = await outbox.count_by_status(session=session)
    except (DBAPIError, OSError) as exc:
        log.warning("metrics: database unreachable: %s", exc)
        up.add_metric([], 0.0)
        return [up]
    up.add_metric([], 1.0)
    notify = GaugeMetricFamily(
        "tft_notification_deliveries",
        "Notification deliveries by status (failed: gave up after every retry)",
        labels=["status"],
    )
    for name in ("pending", "sent", "failed", "disabled"):
        notify.add_metric([name], float(deliveries.get(name, 0)))
    return [up, *_pipeline_families(runs), notify]


def _authorize(request: Request) -> None:
    token = get_settings().api.metrics_token.get_secret_value()
    if not token:
        return
    sent = request.headers.get("authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise ApiError(
            401,
            "/metrics needs `Authorization: Bearer <API__METRICS_TOKEN>` (Prometheus: `authorization` "
            "in the scrape config)",
            code="unauthorized",
        )


async def metrics(request: Request) -> Response:
    """Prometheus exposition: this process's request metrics, then the database gauges."""
    _authorize(request)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(await database_families()))
    body = generate_latest(metrics_registry()) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Sentry (when configured), the request counter and `GET /metrics`.

    Call after the other middleware (so this one is outermost and also counts their 413s and 401s) and
    before the dashboard's catch-all mount.
    """
    if get_settings().sentry_dsn:
        from sentry_sdk.integrations.fastapi import FastApiIntegration
        from sentry_sdk.integrations.starlette import StarletteIntegration

        init_sentry([StarletteIntegration(), FastApiIntegration()])
        log.info("reporting API errors to Sentry")
    app.add_middleware(RequestMetrics)
    app.add_api_route(METRICS_PATH, metrics, methods=["GET"], include_in_schema=False)
