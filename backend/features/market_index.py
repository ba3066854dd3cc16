"""The market-regime input: daily closes of a broad index.

Live use fetches `settings.features.market_index` (SPY) through the market domain like any other ticker.
Without it, two stand-ins, in this order:
- the S&P 500 history that ships with the `arch` package (daily bars 1999-01-04 .. 2018-12-31), which covers
  the bundled histories and backtests on them;
- an equal-weight index of the stored universe: the mean daily return across the stored tickers, chained.
  It is point in time (the level at t uses returns up to t) but carries the universe's survivorship bias,
  so the feature service says in the log which index it used.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from arch.data import sp500

# One glitch or unadjusted split should not move a 500-stock index by 10%: daily returns are clipped.
MAX_ABS_RETURN = 0.5
# With fewer tickers reporting a day, the "market" is a handful of stocks: leave that day out.
MIN_TICKERS_PER_DAY = 5


def load_sample_index() -> pd.DataFrame:
    """The bundled S&P 500 history: columns trade_date (datetime.date) and close, oldest first.

    `close` is the adjusted close, so index dividends/rebasings never look like market moves.
    """
    return _sample_index().copy()  # a copy: callers may change their frame


@lru_cache(maxsize=1)
def _sample_index() -> pd.DataFrame:
    # Parsed once per process: every features batch of a worker reads it (~30 ms a time).
    raw = sp500.load()
    return pd.DataFrame(
        {
            "trade_date": [ts.date() for ts in pd.DatetimeIndex(raw.index)],
            "close": raw["Adj Close"].to_numpy(dtype="float64"),
        }
    )


def equal_weight_index(prices: pd.DataFrame) -> pd.DataFrame:
    """An index level (starting at 100) from (ticker, trade_date, adj_close) rows: trade_date and close.

    Each day's return is the mean of the tickers' returns from their previous stored bar; days where fewer
    than `MIN_TICKERS_PER_DAY` tickers report are dropped.
    """
    if prices.empty:
        return pd.DataFrame({"trade_date": pd.Series(dtype="object"), "close": pd.Series(dtype="float64")})
    frame = prices.sort_values(["ticker", "trade_date"], kind="stable")
    close = frame["adj_close"].astype("float64")
    returns = (close / close.groupby(frame["ticker"]).shift(1) - 1.0).clip(-MAX_ABS_RETURN, MAX_ABS_RETURN)
    daily = returns.groupby(frame["trade_date"]).agg(["mean", "count"])
    daily = daily[daily["count"] >= MIN_TICKERS_PER_DAY].sort_index()
    level = 100.0 * np.cumprod(1.0 + daily["mean"].fillna(0.0).to_numpy())
    return pd.DataFrame({"trade_date": list(daily.index), "close": level})
