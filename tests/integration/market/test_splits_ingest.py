"""Splits end to end on both databases: Yahoo's re-based history after a split, declared splits for CSV
imports, the data-quality flags and exclusions, the settled-session default date."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from backend.core.calendar import ET, UTC
from backend.core.errors import ValidationFailed
from backend.core.settings import MarketSettings
from backend.market import curation, quality, splits
from backend.market import service as market_service
from backend.market.indicators import compute_indicators
from backend.market.providers import PriceBatch, SampleProvider
from backend.market.yahoo import YahooProvider
from tests.factories import make_bars
from tests.fakes.yahoo import recorded_download

N, SPLIT_AT, RATIO = 400, 300, 4.0
NOW = datetime(2026, 11, 27, 20, tzinfo=UTC)


def as_traded() -> pd.DataFrame:
    """A stock that splits 4:1 at row SPLIT_AT, as it really traded (the close drops to a quarter)."""
    bars = make_bars("SPLT", n=N, seed=11, price=100.0)
    after = bars.index >= SPLIT_AT
    for column in ("open", "high", "low", "close"):
        bars.loc[after, column] = bars.loc[after, column] / RATIO
    bars.loc[after, "volume"] = bars.loc[after, "volume"] * int(RATIO)
    return bars


def yahoo_frame(bars: pd.DataFrame, *, through: int, div_factor: float) -> pd.DataFrame:
    """What Yahoo serves on the evening of row `through`: split-adjusted to the splits so far."""
    seen = bars.iloc[: through + 1]
    split_known = through >= SPLIT_AT
    k = np.where((seen.index < SPLIT_AT) & split_known, RATIO, 1.0)
    frame = pd.DataFrame(
        {
            "Open": seen["open"] / k,
            "High": seen["high"] / k,
            "Low": seen["low"] / k,
            "Close": seen["close"] / k,
            "Adj Close": seen["close"] / k * div_factor,
            "Volume": seen["volume"] * k,
            "Dividends": 0.0,
            "Stock Splits": np.where(seen.index == SPLIT_AT, RATIO, 0.0) if split_known else 0.0,
        }
    )
    frame.index = pd.DatetimeIndex(pd.to_datetime(seen["trade_date"]), name="Date")
    return frame


def yahoo_fetch(bars: pd.DataFrame, *, through: int, start: date, div_factor: float) -> PriceBatch:
    frame = yahoo_frame(bars, through=through, div_factor=div_factor)
    provider = YahooProvider(
        download=recorded_download({"SPLT": frame}),
        settings=MarketSettings(),
        sleep=lambda s: None,
        now=lambda: NOW,
    )
    return provider.fetch(["SPLT"], start, None)


@pytest.mark.parametrize("overlap", [True, False], ids=["overlapping", "from-the-split"])
async def test_a_short_fetch_after_a_split_rescales_history_instead_of_showing_a_crash(session, overlap):
    bars = as_traded()
    days = bars["trade_date"].tolist()
    # Before the split: the full history, Yahoo's Adj Close 2% under Close (dividends so far).
    first = yahoo_fetch(bars, through=SPLIT_AT - 1, start=days[0], div_factor=0.98)
    await market_service.ingest(session=session, batch=first)
    # After it: a short fetch. Yahoo has re-based everything to the split and paid one more dividend.
    start = days[SPLIT_AT - 10] if overlap else days[SPLIT_AT]
    second = yahoo_fetch(bars, through=N - 1, start=start, div_factor=0.975)
    result = await market_service.ingest(session=session, batch=second)

    assert "SPLT" in result.rescaled and result.new_splits == 1
    events = await splits.load_splits(session=session, tickers=["SPLT"])
    assert events[["ex_date", "ratio", "source"]].values.tolist() == [[days[SPLIT_AT], RATIO, "yahoo"]]
    stored = await market_service.load_bars(session=session, tickers=["SPLT"])
    assert len(stored) == N
    # Prices stay as traded; adj_close is one continuous series on the newest scale.
    np.testing.assert_allclose(stored["close"], bars["close"], rtol=1e-12)
    assert stored["volume"].tolist() == bars["volume"].tolist()
    adj_moves = np.abs(np.diff(np.log(stored["adj_close"].to_numpy())))
    assert adj_moves.max() < 0.1  # a random walk of 1.5% a day; a split seam would be log 4 = 1.39
    expected_adj = np.where(np.arange(N) < SPLIT_AT, bars["close"] / RATIO, bars["close"]) * 0.975
    if not overlap:
        # Without overlap only the split is known: the older rows keep their dividend scale (0.98).
        expected_adj = np.where(np.arange(N) < SPLIT_AT, bars["close"] / RATIO * 0.98, expected_adj)
    np.testing.assert_allclose(stored["adj_close"], expected_adj, rtol=1e-9)
    # Indicators equal a from-scratch computation on the right history: no crash after the split.
    truth = compute_indicators(bars.assign(adj_close=expected_adj))  # on each row's own price scale
    for column in ("rsi_14", "sma_50", "sma_200", "macd", "bb_lower", "volume_ratio"):
        np.testing.assert_allclose(
            stored[column].iloc[210:], truth[column].iloc[210:], rtol=1e-6, err_msg=column
        )
    assert stored["rsi_14"].iloc[SPLIT_AT : SPLIT_AT + 5].min() > 15
    flags = await quality.list_flags(session=session, tickers=["SPLT"])
    assert flags[flags["trade_date"] == days[SPLIT_AT]].empty  # the split is an event, not a finding


async def test_a_fetch_that_misses_the_split_is_flagged_and_the_user_declares_it(session):
    bars = as_traded()
    bars["adj_close"] = bars["close"]  # a CSV without adj_close: the importer copies close
    days = bars["trade_date"].tolist()
    # An as-traded CSV without corporate actions: the 4:1 drop is in the file, nothing says it is a split.
    result = await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    assert result.flags == {"unadjusted_split": 1}
    flags = await quality.list_flags(session=session, tickers=["SPLT"])
    assert flags[["trade_date", "kind"]].values.tolist() == [[days[SPLIT_AT], "unadjusted_split"]]
    assert "looks like a 4:1 split" in flags["detail"].iloc[0]
    before = await market_service.load_bars(session=session, tickers=["SPLT"])
    assert before["rsi_14"].iloc[SPLIT_AT] < 10  # the crash the indicators see until it is declared

    with pytest.raises(ValidationFailed, match="no 2:1 split"):
        await curation.declare_split(session=session, ticker="SPLT", ex_date=days[SPLIT_AT], ratio=2.0)
    message = await curation.declare_split(session=session, ticker="SPLT", ex_date=days[SPLIT_AT], ratio=4.0)
    assert "recorded" in message
    after = await market_service.load_bars(session=session, tickers=["SPLT"])
    np.testing.assert_allclose(after["close"], bars["close"])  # prices untouched
    truth = compute_indicators(
        bars.assign(adj_close=np.where(np.arange(N) < SPLIT_AT, bars["close"] / 4, bars["close"]))
    )
    np.testing.assert_allclose(after["rsi_14"].iloc[20:], truth["rsi_14"].iloc[20:], rtol=1e-6)
    assert (await quality.list_flags(session=session, tickers=["SPLT"])).empty
    usable = await market_service.load_usable_bars(session=session, tickers=["SPLT"])
    assert usable.loc[usable["split_ratio"] != 1.0, ["trade_date", "split_ratio"]].values.tolist() == [
        [days[SPLIT_AT], 4.0]
    ]
    again = await curation.declare_split(session=session, ticker="SPLT", ex_date=days[SPLIT_AT], ratio=4.0)
    assert "already recorded" in again


async def test_a_spike_is_flagged_excluded_and_left_out_of_indicators_and_features(session):
    bars = make_bars("SPK", n=260, seed=5)
    days = bars["trade_date"].tolist()
    bad = 230
    bars.loc[bad, ["open", "close", "low"]] = bars.loc[bad, ["open", "close", "low"]] / 2  # a bad print
    bars.loc[240, "volume"] = 0
    bars.loc[245, "open"] = bars.loc[245, "high"] * 1.3
    result = await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    assert result.flags == {"ohlc_range": 1, "spike": 1, "zero_volume": 1}
    flags = await curation.run_check(session=session, tickers=["SPK"])
    assert sorted(zip(flags["trade_date"], flags["kind"], strict=True)) == [
        (days[bad], "spike"),
        (days[240], "zero_volume"),
        (days[245], "ohlc_range"),
    ]
    spiky = await market_service.load_bars(session=session, tickers=["SPK"])
    assert await curation.set_exclusion(session=session, ticker="SPK", days=[days[bad]], excluded=True) == 1
    usable = await market_service.load_usable_bars(session=session, tickers=["SPK"])
    assert days[bad] not in set(usable["trade_date"]) and len(usable) == 259
    stored = await market_service.load_bars(session=session, tickers=["SPK"])
    assert np.isnan(stored["rsi_14"].iloc[bad])
    truth = compute_indicators(bars.drop(index=bad).reset_index(drop=True))
    np.testing.assert_allclose(
        stored["bb_middle"].drop(index=bad).to_numpy()[-5:], truth["bb_middle"].to_numpy()[-5:], rtol=1e-9
    )
    assert spiky["bb_middle"].iloc[-5:].tolist() != stored["bb_middle"].iloc[-5:].tolist()
    flags = await curation.run_check(session=session, tickers=["SPK"])  # a re-check keeps the exclusion
    assert flags.loc[flags["trade_date"] == days[bad], "excluded"].tolist() == [True]
    # An unflagged day can be excluded too; including both again restores everything.
    assert await curation.set_exclusion(session=session, ticker="SPK", days=[days[100]], excluded=True) == 1
    assert (
        await curation.set_exclusion(
            session=session, ticker="SPK", days=[days[bad], days[100]], excluded=False
        )
        == 2
    )
    restored = await market_service.load_bars(session=session, tickers=["SPK"])
    np.testing.assert_allclose(restored["bb_middle"].iloc[-5:], spiky["bb_middle"].iloc[-5:], rtol=1e-12)
    with pytest.raises(ValidationFailed, match="no stored SPK bar on 2030-01-02"):
        await curation.set_exclusion(session=session, ticker="SPK", days=[date(2030, 1, 2)], excluded=True)


async def test_the_default_date_is_the_newest_settled_session(session):
    bars = make_bars("DFLT", n=30, start=date(2024, 6, 3))
    await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    newest = bars["trade_date"].iloc[-1]
    late = datetime(2026, 11, 27, 18, tzinfo=ET)
    assert await market_service.default_as_of(session=session, now=late.astimezone(UTC)) == newest
    # A bar stored for a session that has not closed yet is never the default.
    during = datetime.combine(newest, datetime.min.time(), tzinfo=ET).replace(hour=14).astimezone(UTC)
    assert await market_service.default_as_of(session=session, now=during) == bars["trade_date"].iloc[-2]


async def test_a_vendor_adjusted_close_without_actions_implies_the_split_events(session):
    # The bundled sample is as traded with an adjusted close: AAPL's 2:1 splits of 2000-06-21 and
    # 2005-02-28 show as halvings of adj_close / close. They become events (not price-jump guesses at use).
    batch = SampleProvider().fetch(["AAPL"])
    result = await market_service.ingest(session=session, batch=batch, ticker_source="sample")
    events = await splits.load_splits(session=session, tickers=["AAPL"])
    assert events[["ex_date", "ratio", "source"]].values.tolist() == [
        [date(2000, 6, 21), 2.0, "adj_close"],
        [date(2005, 2, 28), 2.0, "adj_close"],
    ]
    assert result.new_splits == 2 and "unadjusted_split" not in result.flags
    usable = await market_service.load_usable_bars(session=session, tickers=["AAPL"], end=date(2000, 12, 31))
    assert usable.loc[usable["split_ratio"] != 1.0, "trade_date"].tolist() == [date(2000, 6, 21)]


async def test_a_stale_day_across_an_imported_universe_is_flagged_on_import_and_by_the_check(session):
    frames = [make_bars(f"U{i:02d}", n=40, seed=100 + i) for i in range(25)]
    stale = 30
    for bars in frames[:20]:  # 20 of 25 tickers got the previous session's bar again
        bars.loc[stale, ["open", "high", "low", "close", "volume"]] = bars.loc[
            stale - 1, ["open", "high", "low", "close", "volume"]
        ].to_numpy()
    universe = pd.concat(frames, ignore_index=True)
    day = frames[0]["trade_date"].iloc[stale]
    result = await market_service.ingest(session=session, batch=PriceBatch("csv", universe))
    assert result.flags == {"day_glitch": 20}
    flags = await curation.run_check(session=session, tickers=[])
    glitch = flags[flags["kind"] == "day_glitch"]
    assert set(glitch["trade_date"]) == {day}
    assert sorted(glitch["ticker"]) == [f"U{i:02d}" for i in range(20)]
    assert glitch["detail"].iloc[0].startswith("whole-day glitch: 20 of 25 tickers repeat the previous")
    # Excluded like any finding: the stale bars leave the indicators.
    assert await curation.set_exclusion(session=session, ticker="U00", days=[day], excluded=True) == 1
    usable = await market_service.load_usable_bars(session=session, tickers=["U00"])
    assert day not in set(usable["trade_date"])
