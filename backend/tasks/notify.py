"""Notification tasks: deliver the outbox now, and the periodic sweep that retries what is due.

Retries are not Celery countdowns (an ETA beyond the broker's visibility timeout is redelivered in a loop):
each failed attempt stores its `next_attempt_at` and the sweep, every minute, picks up what is due. A task
delivered twice is harmless: a delivery is claimed atomically in the database before it is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from backend.db.engine import run_on_new_loop
from backend.notify import delivery
from backend.notify.schemas import AttemptOutcome
from backend.tasks import metrics
from backend.tasks.app import celery_app


def _counted(outcomes: Sequence[AttemptOutcome]) -> Sequence[AttemptOutcome]:
    for outcome in outcomes:
        metrics.notification_attempt(outcome.channel, outcome.status)
    return outcomes


@celery_app.task(name="notify.deliver_outbox")
def deliver_outbox() -> list[dict[str, Any]]:
    """Fan out new outbox events and attempt every due delivery; returns the attempts made."""
    outcomes = _counted(run_on_new_loop(lambda: delivery.deliver_due()))
    return [_result(o) for o in outcomes]


@celery_app.task(name="notify.deliver")
def deliver(delivery_id: int) -> dict[str, Any] | None:
    """Attempt one delivery by id (nothing happens if it is not due or another worker holds it)."""
    outcome = run_on_new_loop(lambda: delivery.deliver_one(delivery_id))
    if outcome is None:
        return None
    _counted([outcome])
    return _result(outcome)


def _result(outcome: AttemptOutcome) -> dict[str, Any]:
    # JSON for the result backend, without the target: a webhook URL often carries a token, and results
    # stay in Redis for a day.
    data = asdict(outcome)
    del data["target"]
    data["next_attempt_at"] = outcome.next_attempt_at and outcome.next_attempt_at.isoformat()
    return data
