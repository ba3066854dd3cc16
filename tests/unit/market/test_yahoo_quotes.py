"""Latest prices from Yahoo's 1-minute bars, against the (Price, Ticker) column frame yfinance returns."""

import numpy as np
import pandas as pd
import pytest

from backend.core.errors import DataSourceError
from backend.market.yahoo import YahooProvider

FIELDS = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]


def minute_frame(closes: dict[str, list[float]]) -> pd.DataFrame:
    """What `yf.download(..., period="1d", interval="1m", multi_level_index=True)` returns mid-session."""
    index = pd.date_range("2024-07-02 09:30", periods=3, freq="1min", tz="America/New_York", name="Datetime")
    frames = {
        symbol: pd.DataFrame({f: values if f != "Volume" else [1000.0] * 3 for f in FIELDS}, index=index)
        for symbol, values in closes.items()
    }
    data = pd.concat(frames.values(), axis=1, keys=frames.keys(), names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(axis=1)


def test_latest_price_is_the_last_valid_minute_close() -> None:
    calls: list[dict] = []

    def download(tickers: list[str], **kwargs: object) -> pd.DataFrame:
        calls.append({"tickers": tickers, **kwargs})
        # BRK-B's last minute has no trade yet (NaN): the minute before is its latest price.
        return minute_frame({"AAPL": [210.0, 210.5, 211.25], "BRK-B": [405.0, 406.0, np.nan]})

    prices = YahooProvider(download=download).latest_prices(["AAPL", "BRK.B", "ZZZZ"])
    assert prices == {"AAPL": 211.25, "BRK.B": 406.0}  # ZZZZ had no rows: left out, not 0
    assert calls[0]["tickers"] == ["AAPL", "BRK-B", "ZZZZ"]
    assert (calls[0]["period"], calls[0]["interval"]) == ("1d", "1m")


def test_a_failed_quotes_request_names_the_source() -> None:
    def download(tickers: list[str], **kwargs: object) -> pd.DataFrame:
        raise ConnectionError("Connection reset by peer")

    with pytest.raises(DataSourceError, match="Yahoo Finance quotes request failed: Connection reset"):
        YahooProvider(download=download).latest_prices(["AAPL"])
