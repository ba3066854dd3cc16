"""Shared by the API and the workers: Sentry start-up and the Prometheus registry to expose.

Each process type passes its own Sentry integrations (FastAPI/Starlette for the API, Celery for the
workers and beat); everything else (DSN, environment, release, no tracing) is the same everywhere.
Heavy imports stay inside the functions: the CLI imports `backend.core` on every start.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from backend.core.settings import get_settings
from backend.core.version import app_version

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from sentry_sdk.integrations import Integration


def init_sentry(integrations: Sequence[Integration]) -> bool:
    """Report errors to Sentry with `integrations` when `SENTRY_DSN` is set; returns whether it did."""
    settings = get_settings()
    if not settings.sentry_dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        release=f"tft-trader@{app_version()}",
        integrations=list(integrations),
        # Errors only: performance tracing would send an event per request or task.
        traces_sample_rate=0.0,
    )
    return True


def metrics_registry() -> CollectorRegistry:
    """The registry to serve: every process's samples added up under a multi-process server or worker
    (`PROMETHEUS_MULTIPROC_DIR` set), else this process's own."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry
