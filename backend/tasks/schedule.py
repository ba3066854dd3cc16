"""The beat schedule, in America/New_York (the app's timezone).

The crontabs are simple on purpose: every task checks the exchange calendar itself (weekends, holidays,
13:00 half days), so a holiday needs no schedule change. Every entry has an `expires`: a message that sat in
the queue while the workers were down is dropped instead of running hours late next to the fresh one.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

WEEKDAYS = "mon-fri"
MINUTE = 60


def _entry(task: str, schedule: crontab, expires_minutes: int) -> dict[str, Any]:
    return {"task": task, "schedule": schedule, "options": {"expires": expires_minutes * MINUTE}}


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Name -> entry, the order being the day's order."""
    return {
        "monitor": _entry("tft.monitor", crontab(minute="0,15,30,45", hour="9-16", day_of_week=WEEKDAYS), 14),
        "reddit-scrape": _entry("tft.reddit", crontab(minute=5), 55),
        "prices-after-close": _entry("tft.prices", crontab(minute=30, hour=16, day_of_week=WEEKDAYS), 180),
        "features": _entry("tft.features", crontab(minute=0, hour=17, day_of_week=WEEKDAYS), 180),
        "predictions": _entry("tft.predictions", crontab(minute=30, hour=17, day_of_week=WEEKDAYS), 180),
        "signals": _entry("tft.signals", crontab(minute=45, hour=17, day_of_week=WEEKDAYS), 180),
        "sentiment-nightly": _entry("tft.sentiment", crontab(minute=30, hour=23), 120),
        "retrain-weekly": _entry("tft.retrain", crontab(minute=0, hour=6, day_of_week="sat"), 12 * 60),
        "heartbeat": _entry("tft.heartbeat", crontab(minute="*/5"), 4),
        # Every minute: new outbox events fan out, due retries go out (backoff lives in the database).
        "notify-deliver-outbox": _entry("notify.deliver_outbox", crontab(), 1),
    }
