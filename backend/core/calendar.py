"""NYSE trading calendar and the clock: "the trading date" lives in America/New_York, storage in UTC.

Backed by `exchange_calendars` (XNYS): holidays, half days (13:00 closes) and historical closures. It and
pandas are imported on first use, not with this module: together they take 1-2 s to import, and quick CLI
commands (`runs list`, `models list`) import this module without asking the calendar anything.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from backend.core.settings import get_settings

if TYPE_CHECKING:
    import exchange_calendars as xcals

ET = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
_CALENDAR_START = "1990-01-02"
# Pure functions of a date on a fixed calendar, called per row and per candidate in replays (a 2-year,
# 500-stock replay asked exchange_calendars ~10^6 times: a third of its daily loop). Dates and datetimes
# are immutable, so cached answers are safe to share.
CACHE_SIZE = 1 << 16


@lru_cache(maxsize=1)
def nyse() -> xcals.ExchangeCalendar:
    """The NYSE calendar, built once per process (construction takes about a second)."""
    import exchange_calendars as xcals
    import pandas as pd

    end = pd.Timestamp.today().normalize() + pd.DateOffset(years=2)
    return xcals.get_calendar("XNYS", start=_CALENDAR_START, end=end.strftime("%Y-%m-%d"))


def utcnow() -> datetime:
    """Timezone-aware now in UTC."""
    return datetime.now(UTC)


@lru_cache(maxsize=CACHE_SIZE)
def is_trading_day(day: date) -> bool:
    """True when NYSE holds a session on `day`."""
    import pandas as pd

    return bool(nyse().is_session(pd.Timestamp(day)))


@lru_cache(maxsize=CACHE_SIZE)
def next_trading_day(day: date) -> date:
    """The first session strictly after `day`."""
    import pandas as pd

    return nyse().date_to_session(pd.Timestamp(day) + pd.Timedelta(days=1), direction="next").date()


@lru_cache(maxsize=CACHE_SIZE)
def previous_trading_day(day: date) -> date:
    """The last session strictly before `day`."""
    import pandas as pd

    return nyse().date_to_session(pd.Timestamp(day) - pd.Timedelta(days=1), direction="previous").date()


@lru_cache(maxsize=CACHE_SIZE)
def session_on_or_after(day: date) -> date:
    import pandas as pd

    return nyse().date_to_session(pd.Timestamp(day), direction="next").date()


@lru_cache(maxsize=CACHE_SIZE)
def session_on_or_before(day: date) -> date:
    import pandas as pd

    return nyse().date_to_session(pd.Timestamp(day), direction="previous").date()


def trading_days(start: date, end: date) -> list[date]:
    """Sessions from `start` to `end`, both inclusive (clipped to the calendar's range)."""
    import pandas as pd

    cal = nyse()
    first, last = max(pd.Timestamp(start), cal.first_session), min(pd.Timestamp(end), cal.last_session)
    if last < first:
        return []
    return [ts.date() for ts in cal.sessions_in_range(first, last)]


@lru_cache(maxsize=CACHE_SIZE)
def add_trading_days(day: date, count: int) -> date:
    """The session `count` sessions after (or before, if negative) the session on or before `day`."""
    import pandas as pd

    cal = nyse()
    session = cal.date_to_session(pd.Timestamp(day), direction="previous")
    return cal.session_offset(session, count).date()


@lru_cache(maxsize=CACHE_SIZE)
def session_close(day: date) -> datetime:
    """The actual close of the session on `day` in UTC (13:00 ET on half days)."""
    import pandas as pd

    return nyse().session_close(pd.Timestamp(day)).to_pydatetime().astimezone(UTC)


def is_market_open(moment: datetime) -> bool:
    """True while an NYSE session is trading (09:30 to the close, 13:00 on half days)."""
    day = moment.astimezone(ET).date()
    return is_trading_day(day) and session_open(day) <= moment < session_close(day)


@lru_cache(maxsize=CACHE_SIZE)
def session_open(day: date) -> datetime:
    """The open of the session on `day` in UTC (09:30 ET)."""
    import pandas as pd

    return nyse().session_open(pd.Timestamp(day)).to_pydatetime().astimezone(UTC)


def trading_date_for(moment: datetime) -> date:
    """The trading date whose close first follows `moment`.

    Anything that happens after a session's close (16:00 ET, 13:00 on half days), on a weekend or on a
    holiday belongs to the next session, so nothing published after a close leaks into that day.
    """
    if moment.tzinfo is None:
        raise ValueError("trading_date_for needs a timezone-aware datetime")
    local_day = moment.astimezone(ET).date()
    session = session_on_or_after(local_day)
    if session == local_day and moment >= session_close(session):
        session = next_trading_day(session)
    return session


def last_completed_session(now: datetime | None = None, settle: timedelta = timedelta(0)) -> date:
    """The most recent session whose close (plus `settle`) has passed: the date a daily after-close job
    works on. Today's session counts only from its close + `settle` (13:00 ET + settle on half days)."""
    now = now or utcnow()
    today = now.astimezone(ET).date()
    if is_trading_day(today) and now >= session_close(today) + settle:
        return today
    return previous_trading_day(today)


def last_settled_session(now: datetime | None = None) -> date:
    """The last session whose bar is final: closed at least `PRICES__SETTLE_MINUTES` ago. Fetches and
    every default date (train, predict, check) stop here, so an unfinished bar is never stored or used."""
    return last_completed_session(now, timedelta(minutes=get_settings().prices.settle_minutes))


def et_midnight_utc(day: date) -> datetime:
    """00:00 in New York on `day`, as UTC."""
    return datetime.combine(day, time(0), tzinfo=ET).astimezone(UTC)


def calendar_days_back(day: date, sessions: int) -> date:
    """A calendar date safely before the `sessions`-th previous session (for range queries)."""
    return day - timedelta(days=int(sessions * 7 / 5) + 10)
