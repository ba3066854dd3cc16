"""The data-quality check on hand-made bars, including the shapes of the 505-stock history's known quirks."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from backend.core.calendar import trading_days
from backend.market.quality import check_bars
from backend.market.splits import detect_rescale, later_splits_factor, ratio_on_date

DAYS = trading_days(date(2015, 6, 1), date(2015, 6, 30))


def bars(closes: list[float], ticker: str = "T", **overrides: dict[int, float]) -> pd.DataFrame:
    n = len(closes)
    frame = pd.DataFrame(
        {
            "ticker": ticker,
            "trade_date": DAYS[:n],
            "open": closes,
            "high": [c * 1.01 for c in closes],
            "low": [c * 0.99 for c in closes],
            "close": closes,
            "volume": [1_000_000] * n,
        }
    )
    for column, values in overrides.items():
        for i, v in values.items():
            frame.loc[i, column] = v
    return frame


NO_SPLITS = pd.DataFrame({"ticker": [], "ex_date": [], "ratio": []})


def kinds(frame: pd.DataFrame, splits: pd.DataFrame = NO_SPLITS) -> list[tuple[date, str]]:
    found = check_bars(frame, splits, spike_pct=0.15)
    return sorted(zip(found["trade_date"], found["kind"], strict=True))


def test_a_one_day_bad_close_that_reverts_is_a_spike() -> None:
    # LNT 2016-05-19: 17.87 between closes of ~35.5 (also outside that day's range here).
    frame = bars([35.6, 35.5, 17.87, 35.6, 35.7], low={2: 35.0}, high={2: 36.0}, open={2: 35.2})
    assert kinds(frame) == [(DAYS[2], "ohlc_range"), (DAYS[2], "spike")]


def test_a_drop_by_a_split_ratio_that_stays_is_a_suspected_split_unless_recorded() -> None:
    # DISCA 2014-08-07: the 2:1 split is not adjusted, the close halves and stays there.
    frame = bars([80.0, 81.0, 40.98, 41.5, 41.2])
    assert kinds(frame) == [(DAYS[2], "unadjusted_split")]
    detail = check_bars(frame, NO_SPLITS, spike_pct=0.15)["detail"].iloc[0]
    assert detail == "close 40.98 after 81.00: looks like a 2:1 split"
    recorded = pd.DataFrame({"ticker": ["T"], "ex_date": [DAYS[2]], "ratio": [2.0]})
    assert kinds(frame, recorded) == []
    reverse = bars([2.0, 2.1, 21.0, 21.3])  # a 1:10 reverse split
    assert check_bars(reverse, NO_SPLITS, spike_pct=0.15)["detail"].iloc[0].endswith("a 1:10 split")


def test_a_spin_off_drop_is_a_price_not_a_finding() -> None:
    # BAX 2015-07-01 (-44%), EBAY 2015-07-20 (-57%), NI 2015-07-02 (-63%): real drops that stay.
    for before, after in ((69.9, 38.86), (66.1, 28.57), (45.6, 17.08)):
        assert kinds(bars([before, before, after, after * 1.01, after])) == []


def test_open_or_close_outside_the_range_and_zero_volume() -> None:
    # CHD 2014-05-19: open 18.77 against a ~33.9 range.
    frame = bars([33.8, 33.9, 33.9, 34.0], open={1: 18.77}, volume={3: 0})
    assert kinds(frame) == [(DAYS[1], "ohlc_range"), (DAYS[3], "zero_volume")]


def test_a_move_smaller_than_the_threshold_and_the_edges_are_not_spikes() -> None:
    assert kinds(bars([100.0, 110.0, 100.0, 100.0])) == []  # 10% < 15%
    assert kinds(bars([100.0, 130.0])) == []  # no next day to revert on
    two = pd.concat([bars([100.0, 100.0], "A"), bars([50.0, 50.0], "B")], ignore_index=True)
    assert kinds(two) == []  # a new ticker is not a move


def test_split_events_become_per_row_ratios_and_factors() -> None:
    prices = pd.DataFrame({"ticker": ["A", "A", "B"], "trade_date": [DAYS[0], DAYS[1], DAYS[1]]})
    events = pd.DataFrame({"ticker": ["A"], "ex_date": [DAYS[1]], "ratio": [4.0]})
    assert ratio_on_date(prices, events).tolist() == [1.0, 4.0, 1.0]
    dates = pd.Series(DAYS[:4]).to_numpy()
    factor = later_splits_factor(
        dates, pd.Series([DAYS[1], DAYS[3]]).to_numpy(), pd.Series([2.0, 3.0]).to_numpy()
    )
    assert factor.tolist() == [6.0, 3.0, 3.0, 1.0]


def test_rescale_is_detected_from_a_constant_overlap_factor_only() -> None:
    stored = bars([100.0, 101.0, 102.0, 103.0]).assign(adj_close=[99.0, 100.0, 101.0, 102.0])
    fresh = stored.iloc[2:].copy()
    fresh["adj_close"] = fresh["adj_close"] / 4  # Yahoo re-based Adj Close to a 4:1 split after these
    rescale = detect_rescale(stored, fresh, NO_SPLITS)
    assert (rescale.price, rescale.adj) == (1.0, pytest.approx(4.0))
    moved = rescale.apply(stored.iloc[:2])
    assert moved["adj_close"].tolist() == [24.75, 25.0] and moved["close"].tolist() == [100.0, 101.0]
    corrected = fresh.assign(adj_close=stored["adj_close"].iloc[2:].to_numpy(), close=[102.0, 99.0])
    assert not detect_rescale(stored, corrected, NO_SPLITS).needed  # one corrected bar is not a new scale


def test_a_vendor_adjusted_close_implies_a_split_but_not_a_bad_print() -> None:
    from backend.market.splits import events_from_adjusted

    closes = [100.0, 102.0, 51.5, 52.0, 26.0, 52.5, 53.0]  # 2:1 on row 2; a bad print on row 4
    adj = [50.0, 51.0, 51.5, 52.0, 52.2, 52.5, 53.0]  # the vendor's adjusted close has no bad print
    frame = bars(closes).assign(adj_close=adj)
    events = events_from_adjusted(frame)
    assert events[["ex_date", "ratio"]].values.tolist() == [[DAYS[2], 2.0]]
    three_for_two = bars([90.0, 90.0, 60.3, 60.0]).assign(adj_close=[60.0, 60.0, 60.3, 60.0])
    assert events_from_adjusted(three_for_two)["ratio"].tolist() == [1.5]


def universe(n: int, sessions: int = 12, seed: int = 7) -> pd.DataFrame:
    """`n` tickers of random walks with ordinary daily moves (about 1.5%), each with its own bars."""
    import numpy as np

    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        closes = list(50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, sessions))))
        frame = bars(closes, f"T{i:02d}")
        frame["volume"] = rng.integers(500_000, 2_000_000, sessions)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def day_glitches(frame: pd.DataFrame) -> dict[date, set[str]]:
    found = check_bars(frame, NO_SPLITS, spike_pct=0.15)
    glitch = found[found["kind"] == "day_glitch"]
    return {d: set(g["ticker"]) for d, g in glitch.groupby("trade_date")}


def test_a_session_scaled_wrong_for_the_whole_universe_is_a_day_glitch() -> None:
    frame = universe(30)
    bad = frame["trade_date"] == DAYS[6]
    frame.loc[bad, ["open", "high", "low", "close"]] *= 0.5  # the vendor's day in the wrong unit
    found = check_bars(frame, NO_SPLITS, spike_pct=0.15)
    glitch = found[found["kind"] == "day_glitch"]
    assert set(glitch["trade_date"]) == {DAYS[6]} and set(glitch["ticker"]) == set(frame["ticker"])
    assert glitch["detail"].iloc[0].startswith("whole-day glitch: 30 of 30 tickers jumped and reverted")
    # Each ticker's own spike is still reported too.
    assert len(found[(found["kind"] == "spike") & (found["trade_date"] == DAYS[6])]) == 30


def test_a_stale_session_repeating_every_bar_is_a_day_glitch_on_every_ticker() -> None:
    frame = universe(30)
    for ticker, rows in frame.groupby("ticker").groups.items():
        if ticker in ("T00", "T01"):
            continue  # two tickers did get a fresh bar: "nearly all" is enough
        previous, day = rows[4], rows[5]
        frame.loc[day, ["open", "high", "low", "close", "volume"]] = frame.loc[
            previous, ["open", "high", "low", "close", "volume"]
        ].to_numpy()
    # The stale bars are flagged (the two fresh ones are sound).
    assert day_glitches(frame) == {DAYS[5]: set(frame["ticker"]) - {"T00", "T01"}}
    found = check_bars(frame, NO_SPLITS, spike_pct=0.15)
    assert "28 of 30 tickers repeat the previous session's bar exactly" in found["detail"].iloc[-1]


def test_closes_wrong_for_part_of_the_universe_that_revert_are_a_day_glitch() -> None:
    # The 505-stock history's 2017-09-14: 10-15% off on a few % of the tickers, right again the next day;
    # each error alone is a move a real session makes, but not against the market in so many at once.
    frame = universe(40)
    wrong = [f"T{i:02d}" for i in range(0, 40, 5)]  # 8 of 40
    for k, ticker in enumerate(wrong):
        row = (frame["ticker"] == ticker) & (frame["trade_date"] == DAYS[6])
        frame.loc[row, "close"] *= 1.12 if k % 2 else 0.89
        frame.loc[row, "high"] = frame.loc[row, ["high", "close"]].max(axis=1)
        frame.loc[row, "low"] = frame.loc[row, ["low", "close"]].min(axis=1)
    found = check_bars(frame, NO_SPLITS, spike_pct=0.15)
    assert set(found["kind"]) == {"day_glitch"}  # no single one is a spike
    assert day_glitches(frame) == {DAYS[6]: set(wrong)}
    assert (
        found["detail"]
        .iloc[0]
        .startswith(
            "whole-day glitch: 8 of 40 tickers moved against the market and reverted the next session"
        )
    )


def test_real_market_days_are_not_day_glitches() -> None:
    crash = universe(30)
    # A crash: every ticker falls 12-25% and stays down (no reversion), with the usual dispersion.
    for k, (_, rows) in enumerate(crash.groupby("ticker").groups.items()):
        crash.loc[rows[6:], ["open", "high", "low", "close"]] *= 0.75 + 0.13 * (k % 10) / 9
    assert day_glitches(crash) == {}
    # A few bad prints on one day (4 of 30 tickers) are spikes, not a broken session.
    prints = universe(30)
    for ticker in ("T03", "T09", "T17", "T22"):
        prints.loc[(prints["ticker"] == ticker) & (prints["trade_date"] == DAYS[6]), "close"] *= 1.4
    found = check_bars(prints, NO_SPLITS, spike_pct=0.15)
    assert set(found[found["kind"] == "spike"]["ticker"]) == {"T03", "T09", "T17", "T22"}
    assert day_glitches(prints) == {}
    # Too few tickers to speak for the market: no day verdict, only the per-ticker spikes.
    few = universe(10)
    few.loc[few["trade_date"] == DAYS[6], ["open", "high", "low", "close"]] *= 0.5
    assert day_glitches(few) == {}
