"""The Celery application (Redis broker from REDIS_URL, Eastern time for the market schedule).

Minimal version for the notification tasks; the scheduling work owns the full configuration.
"""

from __future__ import annotations

from celery import Celery

from backend.core.settings import get_settings

_settings = get_settings()

celery_app = Celery(
    "tft_trader",
    broker=_settings.redis_url,
    backend=_settings.redis_url,
    include=["backend.tasks.notify"],
)
celery_app.conf.update(
    timezone="America/New_York",
    enable_utc=True,
    task_acks_late=True,  # a worker lost mid-task gets its task redelivered: the tasks are idempotent
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # Redelivery after this long without an ack; longer than any task (a notification sweep takes minutes).
    broker_transport_options={"visibility_timeout": 2 * 3600},
    result_expires=24 * 3600,
)
