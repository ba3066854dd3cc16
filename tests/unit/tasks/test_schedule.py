"""The beat schedule in New York time across both DST changes, and the calendar checks tasks make."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from backend.cli.tasks import next_run_times
from backend.core.errors import ValidationFailed
from backend.tasks.app import celery_app
from backend.tasks.jobs import _today_in_market_hours
from backend.tasks.runner import is_transient, parse_as_of, scheduled_day

NY = ZoneInfo("America/New_York")


def entry(name: str):
    schedule = celery_app.conf.beat_schedule[name]["schedule"]
    schedule.app = celery_app
    return schedule


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def test_app_settings_the_issue_depends_on() -> None:
    celery_app.loader.import_default_modules()  # what a worker does at start: the `include` list
    conf = celery_app.conf
    assert conf.timezone == "America/New_York"
    assert conf.beat_scheduler == "redbeat.RedBeatScheduler"
    assert conf.redbeat_lock_timeout == 60
    assert conf.beat_max_loop_interval < conf.redbeat_lock_timeout
    limits = [t.time_limit for name, t in celery_app.tasks.items() if name.startswith("tft.")]
    assert limits and all(limits)
    # Redis redelivers unacknowledged tasks after the visibility timeout: it must exceed every task.
    assert conf.broker_transport_options["visibility_timeout"] > max(limits)
    for name, item in conf.beat_schedule.items():
        assert item["options"]["expires"] > 0, name
        assert item["task"] in celery_app.tasks, name


@pytest.mark.parametrize(
    ("after", "expected_utc"),
    [
        # March 8, 2026: clocks go forward. 17:45 EST = 22:45 UTC before, 17:45 EDT = 21:45 UTC after.
        (ny(2026, 3, 5, 12), ["2026-03-05 22:45", "2026-03-06 22:45", "2026-03-09 21:45"]),
        (ny(2026, 3, 9, 18), ["2026-03-10 21:45", "2026-03-11 21:45", "2026-03-12 21:45"]),
        # November 1, 2026: clocks go back. 17:45 EDT = 21:45 UTC before, 17:45 EST = 22:45 UTC after.
        (ny(2026, 10, 29, 12), ["2026-10-29 21:45", "2026-10-30 21:45", "2026-11-02 22:45"]),
        (ny(2026, 11, 2, 18), ["2026-11-03 22:45", "2026-11-04 22:45", "2026-11-05 22:45"]),
    ],
)
def test_signals_run_at_1745_new_york_on_both_sides_of_dst(after: datetime, expected_utc: list[str]) -> None:
    times = next_run_times(entry("signals"), after.astimezone(UTC))
    assert [f"{t:%Y-%m-%d %H:%M}" for t in times] == expected_utc
    weekdays = {"Mon", "Tue", "Wed", "Thu", "Fri"}
    assert all(t.astimezone(NY).strftime("%H:%M") == "17:45" for t in times)
    assert all(t.astimezone(NY).strftime("%a") in weekdays for t in times)


def test_prices_first_run_after_the_march_change_is_not_an_hour_late() -> None:
    # celery #9653 (before 5.5.2): the first Mon-Fri run after the change fired at 17:30 EDT.
    (first,) = next_run_times(entry("prices-after-close"), ny(2026, 3, 6, 17).astimezone(UTC), count=1)
    assert first.astimezone(NY) == ny(2026, 3, 9, 16, 30)


def test_after_close_steps_skip_weekends_holidays_and_wait_for_the_close() -> None:
    assert scheduled_day(ny(2026, 11, 30, 16, 30).astimezone(UTC)) == date(2026, 11, 30)
    assert scheduled_day(ny(2026, 11, 30, 15, 59).astimezone(UTC)) is None  # not closed yet
    assert scheduled_day(ny(2026, 11, 28, 16, 30).astimezone(UTC)) is None  # Saturday
    assert scheduled_day(ny(2026, 11, 26, 17, 0).astimezone(UTC)) is None  # Thanksgiving
    assert scheduled_day(ny(2026, 7, 3, 17, 0).astimezone(UTC)) is None  # Independence Day observed
    # The day after Thanksgiving closes at 13:00: its after-close steps work on it at 16:30 as usual.
    assert scheduled_day(ny(2026, 11, 27, 16, 30).astimezone(UTC)) == date(2026, 11, 27)


def test_the_monitor_runs_only_in_market_hours_half_days_included() -> None:
    assert _today_in_market_hours(ny(2026, 11, 30, 9, 15).astimezone(UTC)) is None  # before the open
    assert _today_in_market_hours(ny(2026, 11, 30, 9, 30).astimezone(UTC)) == date(2026, 11, 30)
    assert _today_in_market_hours(ny(2026, 11, 30, 15, 45).astimezone(UTC)) == date(2026, 11, 30)
    assert _today_in_market_hours(ny(2026, 11, 30, 16, 0).astimezone(UTC)) is None  # closed at 16:00
    assert _today_in_market_hours(ny(2026, 11, 27, 12, 45).astimezone(UTC)) == date(2026, 11, 27)
    assert _today_in_market_hours(ny(2026, 11, 27, 13, 15).astimezone(UTC)) is None  # half day
    assert _today_in_market_hours(ny(2026, 11, 26, 10, 0).astimezone(UTC)) is None  # Thanksgiving


def test_bad_dates_and_transient_errors() -> None:
    with pytest.raises(ValidationFailed, match="'2026-13-01' is not a date"):
        parse_as_of("2026-13-01")
    from sqlalchemy.exc import OperationalError

    assert is_transient(OperationalError("SELECT 1", {}, ConnectionRefusedError("refused")))
    assert is_transient(ConnectionResetError())
    assert not is_transient(ValidationFailed("bad input"))
    assert not is_transient(ValueError("a bug"))
