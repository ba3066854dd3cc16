"""Worker and beat process set-up: logs (JSON with the task id when `TASKS__JSON_LOGS`), Sentry when
`SENTRY_DSN` is set, and the Prometheus exporter when `TASKS__METRICS_PORT` is set."""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from celery._state import get_current_task

from backend.core import observability
from backend.core.logging import configure_logging
from backend.core.settings import get_settings

log = logging.getLogger(__name__)


class TaskContext(logging.Filter):
    """Adds the running Celery task's id and name to every record (empty outside a task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = get_current_task()
        record.task_id = task.request.id if task is not None and task.request else ""
        record.task_name = task.name if task is not None else ""
        return True


def configure_process_logging(level: str | int | None = None) -> None:
    """Logging for a worker or beat process; `level` is Celery's --loglevel when given."""
    settings = get_settings()
    name = logging.getLevelName(level) if isinstance(level, int) else (level or settings.log_level)
    if not settings.tasks.json_logs:
        configure_logging(name)
        return
    from pythonjsonlogger.json import JsonFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(task_id)s %(task_name)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(TaskContext())
    logging.basicConfig(level=name.upper(), handlers=[handler], force=True)


def init_sentry() -> bool:
    """Report task errors (and beat's missed check-ins) to Sentry when `SENTRY_DSN` is set."""
    from sentry_sdk.integrations.celery import CeleryIntegration

    return observability.init_sentry([CeleryIntegration(monitor_beat_tasks=True)])


@signals.setup_logging.connect
def _setup_logging(loglevel: str | int | None = None, **_: Any) -> None:
    # Connected: Celery leaves the root logger to us (same format as the CLI, or JSON lines).
    configure_process_logging(loglevel)


@signals.worker_init.connect
def _worker_init(**_: Any) -> None:
    init_sentry()
    port = get_settings().tasks.metrics_port
    if port:
        from backend.tasks import metrics

        metrics.start_exporter(port)


@signals.worker_process_init.connect
def _worker_process_init(**_: Any) -> None:
    init_sentry()  # prefork children: the SDK's state does not survive the fork reliably


@signals.beat_init.connect
def _beat_init(**_: Any) -> None:
    init_sentry()
