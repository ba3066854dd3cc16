"""A real Celery worker on the real Redis delivering the outbox; a redelivered task sends nothing twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.schedules import crontab

from backend.tasks import notify as notify_tasks
from backend.tasks.app import celery_app
from tests.celery_config import reconfigure
from tests.integration.notify.conftest import add_webhook, emit_signal, signal
from tests.receivers import WebhookReceiver

REDIS_URL = "redis://127.0.0.1:6379/12"  # a database of our own: nothing else's queues


@pytest.fixture(scope="module")
def worker(notify_db: str) -> Iterator[None]:
    redis.Redis.from_url(REDIS_URL).flushdb()  # no leftover messages from an earlier, interrupted run
    previous = reconfigure(celery_app, {"broker_url": REDIS_URL, "result_backend": REDIS_URL})
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False):
            yield
    finally:  # later tests (the task worker's) get the app as it was
        reconfigure(celery_app, previous)


def test_worker_delivers_the_outbox_and_redelivery_sends_nothing_twice(
    worker: None, receiver: WebhookReceiver
) -> None:
    assert celery_app.connection().as_uri().endswith("/12")
    add_webhook(receiver.url("/ok"), ["signal.new"])
    emit_signal(signal("AAPL"))
    [outcome] = notify_tasks.deliver_outbox.delay().get(timeout=60)
    assert (outcome["status"], outcome["code"], outcome["event_type"]) == ("sent", 200, "signal.new")
    assert "target" not in outcome  # the URL (often with a token) is not copied into Redis
    assert len(receiver.hits("/ok")) == 1
    # The broker hands the same delivery out again (a lost ack): the claim makes the copy a no-op.
    assert notify_tasks.deliver.delay(outcome["delivery_id"]).get(timeout=60) is None
    emit_signal(signal("MSFT"))
    copies = [notify_tasks.deliver_outbox.delay() for _ in range(2)]
    attempts = [a for c in copies for a in c.get(timeout=60)]
    assert [a["status"] for a in attempts] == ["sent"]
    assert len(receiver.hits("/ok")) == 2


def test_the_sweep_is_scheduled() -> None:
    entry = celery_app.conf.beat_schedule["notify-deliver-outbox"]
    assert entry["task"] == "notify.deliver_outbox" and entry["schedule"] == crontab()  # every minute
    assert entry["options"]["expires"] <= 60
    assert celery_app.conf.broker_transport_options["visibility_timeout"] >= 3600
