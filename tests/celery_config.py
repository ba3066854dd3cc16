"""Pointing the one shared Celery app at a test's Redis.

The app caches its broker connection pool, its queues and producer pool and its result backend on first
use, so a later `conf.update` would leave the test thread publishing to the old Redis or queue while a new
worker listens on the new one. Tests that reconfigure the app go through `reconfigure`.
"""

from __future__ import annotations

from typing import Any

from celery import Celery


def reconfigure(app: Celery, conf: dict[str, Any]) -> dict[str, Any]:
    """Apply `conf` and drop the cached connections; returns the previous values (to restore later)."""
    previous = {key: app.conf.get(key) for key in conf}
    app.conf.update(conf)
    app._pool = None  # type: ignore[attr-defined]
    # Queues, routes and the producer pool are built once from the configuration: rebuild them.
    app.__dict__.pop("amqp", None)
    app._backend_cache = None  # type: ignore[attr-defined]
    app._local.__dict__.pop("backend", None)  # type: ignore[attr-defined]
    return previous
