from datetime import date, datetime, timedelta

import pytest

from backend.core.calendar import (
    ET,
    UTC,
    add_trading_days,
    is_market_open,
    is_trading_day,
    last_completed_session,
    next_trading_day,
    previous_trading_day,
    session_close,
    trading_date_for,
    trading_days,
)


def et(*args: int) -> datetime:
    return datetime(*args, tzinfo=ET)


def test_nyse_holidays_are_not_sessions():
    assert not is_trading_day(date(2024, 7, 4))  # Independence Day
    assert not is_trading_day(date(2024, 11, 28))  # Thanksgiving
    assert not is_trading_day(date(2024, 3, 29))  # Good Friday
    assert not is_trading_day(date(2024, 11, 23))  # Saturday
    assert is_trading_day(date(2024, 11, 29))  # half day, still a session


def test_half_day_closes_at_one_pm_new_york():
    assert session_close(date(2024, 11, 29)) == et(2024, 11, 29, 13, 0).astimezone(UTC)
    assert session_close(date(2024, 11, 27)) == et(2024, 11, 27, 16, 0).astimezone(UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (et(2024, 11, 22, 15, 59), date(2024, 11, 22)),  # Friday before the close
        (et(2024, 11, 22, 16, 0), date(2024, 11, 25)),  # at the close: next session (Monday)
        (et(2024, 11, 23, 12, 0), date(2024, 11, 25)),  # Saturday
        (et(2024, 11, 27, 20, 0), date(2024, 11, 29)),  # evening before Thanksgiving -> Friday half day
        (et(2024, 11, 29, 13, 30), date(2024, 12, 2)),  # after the 13:00 half-day close
        (et(2024, 7, 3, 9, 0), date(2024, 7, 3)),
        (et(2024, 7, 4, 10, 0), date(2024, 7, 5)),  # holiday rolls forward
        (et(2024, 11, 25, 0, 30), date(2024, 11, 25)),  # early Monday
    ],
)
def test_trading_date_for_rolls_after_close_weekends_and_holidays(moment, expected):
    assert trading_date_for(moment) == expected
    assert trading_date_for(moment.astimezone(UTC)) == expected


def test_trading_date_for_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        trading_date_for(datetime(2024, 1, 2, 12))


def test_session_arithmetic_skips_holidays():
    assert next_trading_day(date(2024, 7, 3)) == date(2024, 7, 5)
    assert previous_trading_day(date(2024, 7, 5)) == date(2024, 7, 3)
    assert add_trading_days(date(2024, 7, 1), 3) == date(2024, 7, 5)
    assert add_trading_days(date(2024, 7, 5), -2) == date(2024, 7, 2)
    assert trading_days(date(2024, 7, 1), date(2024, 7, 8)) == [date(2024, 7, d) for d in (1, 2, 3, 5, 8)]
    # 2024 had 252 sessions.
    assert len(trading_days(date(2024, 1, 1), date(2024, 12, 31))) == 252


def test_last_completed_session():
    assert last_completed_session(et(2024, 11, 22, 15, 0)) == date(2024, 11, 21)
    assert last_completed_session(et(2024, 11, 22, 16, 5)) == date(2024, 11, 22)
    assert last_completed_session(et(2024, 11, 24, 9, 0)) == date(2024, 11, 22)
    assert last_completed_session(et(2024, 11, 22, 16, 5) + timedelta(days=2)) == date(2024, 11, 22)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (datetime(2012, 7, 5, 13, 29, tzinfo=UTC), False),  # 09:29 New York
        (datetime(2012, 7, 5, 13, 30, tzinfo=UTC), True),  # the open
        (datetime(2012, 7, 5, 19, 59, tzinfo=UTC), True),
        (datetime(2012, 7, 5, 20, 0, tzinfo=UTC), False),  # the close
        (datetime(2012, 7, 3, 17, 30, tzinfo=UTC), False),  # 13:30 on a half day (closed at 13:00)
        (datetime(2012, 7, 4, 15, 0, tzinfo=UTC), False),  # Independence Day
    ],
)
def test_market_hours(moment: datetime, is_open: bool) -> None:
    assert is_market_open(moment) is is_open


def test_the_settled_session_waits_for_the_close_plus_the_settle_delay_and_half_days_close_at_13() -> None:
    from backend.core.calendar import ET, last_completed_session, last_settled_session

    half_day = date(2024, 7, 3)  # 13:00 close before Independence Day
    at = lambda h, m: datetime(2024, 7, 3, h, m, tzinfo=ET)  # noqa: E731
    assert last_completed_session(at(12, 59)) == date(2024, 7, 2)
    assert last_completed_session(at(13, 0)) == half_day
    assert last_completed_session(at(13, 29), timedelta(minutes=30)) == date(2024, 7, 2)
    assert last_settled_session(at(13, 30)) == half_day  # PRICES__SETTLE_MINUTES defaults to 30
    assert last_settled_session(datetime(2024, 7, 4, 20, tzinfo=ET)) == half_day  # a holiday
