"""The Yahoo provider against yfinance's recorded response shape (no network here).

`recorded_download` reproduces what `yfinance.download(..., group_by="column", auto_adjust=False)` returns
in yfinance 1.x: a frame with ('Price', 'Ticker') MultiIndex columns, a 'Date' index, all-NaN columns for
tickers that failed, and the failures reported only through the 'yfinance' logger.
"""

import logging
from datetime import date

import numpy as np
import pandas as pd
import pytest

from backend.core.errors import ValidationFailed
from backend.core.settings import MarketSettings
from backend.market.yahoo import YahooProvider
from tests.factories import make_bars

FIELDS = ["Adj Close", "Close", "High", "Low", "Open", "Volume"]


def recorded_download(good: dict[str, pd.DataFrame], failed: dict[str, str]):
    calls: list[dict] = []

    def download(tickers, **kwargs):
        calls.append({"tickers": list(tickers), **kwargs})
        frames = {}
        for sym in tickers:
            if sym in good:
                b = good[sym].set_index(
                    pd.DatetimeIndex(pd.to_datetime(good[sym]["trade_date"]), name="Date")
                )
                frames[sym] = pd.DataFrame(
                    {
                        "Adj Close": b["adj_close"],
                        "Close": b["close"],
                        "High": b["high"],
                        "Low": b["low"],
                        "Open": b["open"],
                        "Volume": b["volume"],
                    }
                )
            else:
                frames[sym] = pd.DataFrame(columns=FIELDS, dtype=float)
        failures = {s: failed[s] for s in tickers if s in failed}
        if failures:
            logger = logging.getLogger("yfinance")
            logger.error("\n%.f Failed download%s:", len(failures), "s" if len(failures) > 1 else "")
            for sym, why in failures.items():
                logger.error(f"{[sym]}: " + why)
        data = pd.concat(frames.values(), axis=1, sort=True, keys=frames.keys(), names=["Ticker", "Price"])
        data.columns = data.columns.swaplevel(0, 1)
        return data.sort_index(level=0, axis=1)

    download.calls = calls  # type: ignore[attr-defined]
    return download


def provider(download, **settings):
    return YahooProvider(
        download=download,
        settings=MarketSettings(yahoo_backoff_seconds=1, **settings),
        sleep=lambda s: sleeps.append(s),
    )


sleeps: list[float] = []


@pytest.fixture(autouse=True)
def _clear():
    sleeps.clear()


def test_batch_download_returns_long_bars_and_names_each_failure():
    aapl, brk = make_bars("AAPL", n=20, seed=1), make_bars("BRK.B", n=20, seed=2)
    download = recorded_download(
        {"AAPL": aapl, "BRK-B": brk},
        {
            "ZZZZ": "YFPricesMissingError('possibly delisted; no price data found  "
            "(1d 2024-01-01 -> 2024-02-01)')"
        },
    )
    batch = provider(download).fetch(["AAPL", "brk.b", "ZZZZ"], date(2020, 1, 1), date(2020, 2, 1))
    assert sorted(batch.bars["ticker"].unique()) == ["AAPL", "BRK.B"]
    got = batch.bars[batch.bars["ticker"] == "AAPL"].reset_index(drop=True)
    np.testing.assert_allclose(got["close"], aapl["close"])
    assert got["trade_date"].tolist() == aapl["trade_date"].tolist()
    assert "possibly delisted" in batch.errors["ZZZZ"]
    # Yahoo spells class shares with a dash; end is exclusive there, inclusive here.
    call = download.calls[0]
    assert sorted(call["tickers"]) == ["AAPL", "BRK-B", "ZZZZ"]
    # No end in the request (the later bars carry the splits that un-adjust the earlier ones); the bars
    # are cut at --end here instead, and the split/dividend actions are asked for.
    assert "end" not in call and call["auto_adjust"] is False and call["actions"] is True
    assert batch.bars["trade_date"].max() <= date(2020, 2, 1)
    assert sleeps == []


def test_empty_response_without_a_logged_reason_still_gets_a_clear_message():
    batch = provider(recorded_download({}, {})).fetch(["QQQQ"], date(2024, 1, 1), None)
    assert batch.bars.empty
    assert "returned no data" in batch.errors["QQQQ"]


def test_rate_limited_tickers_are_retried_with_backoff_then_stored():
    aapl, msft = make_bars("AAPL", n=5), make_bars("MSFT", n=5, seed=3)
    attempts = {"n": 0}
    inner_ok = recorded_download({"AAPL": aapl, "MSFT": msft}, {})
    inner_limited = recorded_download(
        {"AAPL": aapl}, {"MSFT": "YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"}
    )

    def download(tickers, **kw):
        attempts["n"] += 1
        return (inner_limited if attempts["n"] <= 2 else inner_ok)(tickers, **kw)

    batch = provider(download).fetch(["AAPL", "MSFT"], date(2020, 1, 1), None)
    assert batch.errors == {}
    assert sorted(batch.bars["ticker"].unique()) == ["AAPL", "MSFT"]
    assert len(batch.bars) == 10  # AAPL once, MSFT once: nothing duplicated by the retries
    assert sleeps == [1, 2]  # exponential backoff
    assert inner_ok.calls[0]["tickers"] == ["MSFT"]  # only the failed ticker is retried


def test_persistent_rate_limit_gives_up_with_a_message():
    download = recorded_download({}, {"MSFT": "YFRateLimitError('Too Many Requests. Rate limited.')"})
    batch = provider(download, yahoo_retries=2).fetch(["MSFT"], date(2020, 1, 1), None)
    assert "gave up after 3 attempts" in batch.errors["MSFT"]
    assert sleeps == [1, 2]


def test_request_failure_is_reported_per_ticker():
    def broken(tickers, **kw):
        raise ValueError("Yahoo returned HTML instead of JSON")

    batch = provider(broken).fetch(["AAPL", "MSFT"], date(2020, 1, 1), None)
    assert batch.bars.empty
    assert set(batch.errors) == {"AAPL", "MSFT"}
    assert "Yahoo returned HTML" in batch.errors["AAPL"]


def test_bad_symbols_are_rejected_before_any_request():
    download = recorded_download({}, {})
    with pytest.raises(ValidationFailed, match=r"'TOOLONG1', 'A\$B'"):
        provider(download).fetch(["AAPL", "TOOLONG1", "A$B"], None, None)
    assert download.calls == []


def test_batches_respect_the_batch_size():
    good = {s: make_bars(s, n=3, seed=i) for i, s in enumerate(["AA", "BB", "CC", "DD", "EE"])}
    download = recorded_download(good, {})
    batch = provider(download, yahoo_batch_size=2).fetch(list(good), date(2020, 1, 1), None)
    assert [len(c["tickers"]) for c in download.calls] == [2, 2, 1]
    assert len(batch.bars) == 15
