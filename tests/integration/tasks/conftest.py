"""A real Celery worker (solo pool, in a thread) on the real Redis, with its own Redis DB and a queue and
key prefix unique to this test session, so parallel test runs and a developer's worker never collide."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from backend.core.settings import Settings, override_settings
from backend.tasks.app import celery_app, celery_config
from tests.celery_config import reconfigure

TEST_REDIS_URL = os.environ.get("TFT_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
QUEUE = f"tft-test-{uuid.uuid4().hex[:10]}"
TASK_SETTINGS = {
    "queue": QUEUE,
    "price_provider": "sample",  # the bundled history: no network
    "step_poll_seconds": 1,
    "step_wait_seconds": 0,
    "max_retries": 2,
}


@pytest.fixture(scope="session")
def task_settings() -> Iterator[Settings]:
    with override_settings(redis_url=TEST_REDIS_URL, tasks=TASK_SETTINGS) as settings:
        reconfigure(celery_app, celery_config(settings))
        yield settings
    client: Any = redis.Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(f"{QUEUE}*")) + list(client.scan_iter(f"*{QUEUE}*"))
    if keys:
        client.delete(*set(keys))


@pytest.fixture(scope="session")
def worker(task_settings: Settings) -> Iterator[Any]:
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as w:
        yield w
