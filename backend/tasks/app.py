"""The Celery app: Redis broker and result backend from `REDIS_URL`, beat state and lock in Redis (redbeat).

Task modules are listed in `include`; the beat schedule lives in `backend/tasks/schedule.py`.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

# Process set-up (logging, Sentry, metrics exporter; the garbage collector and the exchange calendar)
# hooks into the worker's and beat's start signals.
import backend.tasks.observability
import backend.tasks.process  # noqa: F401
from backend.core.settings import Settings, get_settings

TASK_MODULES = ["backend.tasks.daily", "backend.tasks.jobs", "backend.tasks.scale", "backend.tasks.notify"]


def celery_config(settings: Settings) -> dict[str, Any]:
    """The app's configuration for `settings` (tests call it again with their Redis DB and queue)."""
    tasks = settings.tasks
    from backend.tasks.schedule import beat_schedule

    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        # Cron entries read in New York time; Celery >= 5.5.2 no longer shifts the first run after the
        # March change by an hour (celery #9653). `crontab(nowfun=...)` is lost on pickling before 5.7.
        "timezone": "America/New_York",
        "enable_utc": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": tasks.queue,
        "broker_connection_retry_on_startup": True,
        # Unacknowledged tasks come back after the visibility timeout: above the longest task.
        "broker_transport_options": {
            "visibility_timeout": tasks.visibility_timeout_seconds,
            "global_keyprefix": f"{tasks.queue}:",
        },
        "result_backend_transport_options": {"global_keyprefix": f"{tasks.queue}:"},
        "result_expires": 7 * 24 * 3600,
        "result_extended": True,
        # One task at a time per process: a long task does not sit on prefetched short ones.
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "worker_hijack_root_logger": False,
        # Beat: schedule state and a lock in Redis, so a redeploy keeps last-run times and a second beat
        # (deploy overlap) waits for the lock instead of sending every task twice.
        "beat_scheduler": "redbeat.RedBeatScheduler",
        "redbeat_redis_url": settings.redis_url,
        "redbeat_redis_options": {},
        "redbeat_key_prefix": f"{tasks.queue}:redbeat",
        "redbeat_lock_timeout": tasks.beat_lock_timeout_seconds,
        # The lock is extended every tick and a waiting beat polls at this interval: well under the lock.
        "beat_max_loop_interval": 5,
        "beat_cron_starting_deadline": tasks.beat_cron_starting_deadline_seconds,
        "beat_schedule": beat_schedule(),
    }


def create_app(settings: Settings | None = None) -> Celery:
    app = Celery("tft_trader", include=TASK_MODULES)
    app.conf.update(celery_config(settings or get_settings()))
    return app


celery_app = create_app()
