"""Triple-barrier labels on hand-made price paths, and against a plain loop on random walks."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from backend.core.calendar import add_trading_days, trading_days
from backend.core.settings import RiskSettings
from backend.features.labels import BUY, CLASS_NAMES, HOLD, SELL, triple_barrier_labels
from tests.factories import make_bars

RISK = RiskSettings()
FLAT = (100.0, 101.0, 99.0, 100.0)  # open, high, low, close: true range 2 => ATR 2% => stop 4%, target 8%
WARM_UP = 20  # flat bars; the signal is the close of the last one
SIGNAL = WARM_UP - 1


def path(window: dict[int, tuple[float, float, float, float]], *, ticker: str = "PATH") -> pd.DataFrame:
    """Flat warm-up bars, then seven window days (1 = the entry day) that are flat unless given."""
    bars = [FLAT] * WARM_UP + [window.get(day, FLAT) for day in range(1, 8)]
    frame = pd.DataFrame(bars, columns=["open", "high", "low", "close"])
    frame.insert(0, "trade_date", trading_days(date(2015, 1, 2), date(2015, 3, 31))[: len(frame)])
    frame.insert(0, "ticker", ticker)
    frame["adj_close"] = frame["close"]
    frame["volume"] = 1_000_000
    return frame


CASES = {
    # name: (window days, label, realised return, exit day offset)
    "target first": ({2: (101, 108.5, 99.5, 108), 4: (100, 101, 90, 95)}, BUY, 0.08, 2),
    "stop first": ({3: (100, 101, 95, 96), 5: (100, 120, 99, 119)}, SELL, -0.04, 3),
    "both in one bar is the stop": ({2: (100, 109, 95, 100)}, SELL, -0.04, 2),
    "neither": ({3: (100, 107.9, 96.1, 101), 7: (100, 102.5, 99, 102)}, HOLD, 0.02, 7),
    "gap through the stop fills at the open": ({4: (94, 95, 93, 94.5)}, SELL, -0.06, 4),
    "stop on the entry day": ({1: (100, 100.5, 95.9, 97)}, SELL, -0.04, 1),
    "gap over the target fills at the open": ({3: (110, 112, 109, 111)}, BUY, 0.10, 3),
    # The open is the first print: the target filled there, before the later low touched the stop.
    "gap over the target then a stop touch": ({3: (110, 112, 95, 96)}, BUY, 0.10, 3),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hand_made_paths(name: str) -> None:
    window, label, realised, offset = CASES[name]
    got = triple_barrier_labels(path(window), RISK).iloc[SIGNAL]
    assert got["label_complete"]
    assert CLASS_NAMES[int(got["label"])] == CLASS_NAMES[label]
    assert got["stop_pct"] == pytest.approx(0.04) and got["target_pct"] == pytest.approx(0.08)
    assert got["realised_return"] == pytest.approx(realised, abs=1e-12)
    assert got["exit_day_offset"] == offset


def test_entry_is_the_next_open_not_the_signal_close() -> None:
    # Signal close 100 but the next day opens at 102: stop 102 * 0.96 = 97.92, target 102 * 1.08 = 110.16.
    # A 109 high would have been a win from the close, and a 97.5 low would not have been a loss.
    hold = path({1: (102, 103, 101, 102), 2: (102, 109, 98.5, 105), 7: (104, 106, 103, 105)})
    got = triple_barrier_labels(hold, RISK).iloc[SIGNAL]
    assert got["label"] == HOLD
    assert got["realised_return"] == pytest.approx(105 / 102 - 1, abs=1e-12)

    stopped = path({1: (102, 103, 101, 102), 3: (101, 102, 97.5, 98)})
    got = triple_barrier_labels(stopped, RISK).iloc[SIGNAL]
    assert got["label"] == SELL and got["exit_day_offset"] == 3
    assert got["realised_return"] == pytest.approx(97.92 / 102 - 1, abs=1e-12)


def test_the_last_seven_days_have_no_label() -> None:
    labels = triple_barrier_labels(path({}), RISK)
    assert labels["label_complete"].tolist() == [False] * 14 + [True] * 6 + [False] * 7  # 14 = ATR warm-up
    tail = labels.iloc[-7:]
    assert tail["label"].isna().all() and tail["realised_return"].isna().all()
    assert tail["exit_day_offset"].isna().all()


@pytest.mark.parametrize("missing_day", [1, 4, 7])
def test_a_missing_session_in_the_window_gives_no_label(missing_day: int) -> None:
    prices = path({}).drop(index=SIGNAL + missing_day)
    labels = triple_barrier_labels(prices, RISK)
    got = labels[labels["trade_date"] == prices["trade_date"].iloc[SIGNAL]].iloc[0]
    assert not got["label_complete"] and np.isnan(got["label"])


def test_a_split_inside_the_window_is_not_a_stop() -> None:
    prices = path({})
    before = prices.index < SIGNAL + 3  # a 2:1 split before the third window day
    prices.loc[before, ["open", "high", "low", "close"]] *= 2  # as traded; adj_close stays on today's scale
    got = triple_barrier_labels(prices, RISK).iloc[SIGNAL]
    assert got["label"] == HOLD and got["realised_return"] == pytest.approx(0.0, abs=1e-12)


def loop_labels(prices: pd.DataFrame, levels: pd.DataFrame, horizon: int) -> list[tuple[float, float, float]]:
    """The rule written as a plain loop, one row at a time: (label, realised return, exit offset)."""
    out = []
    factor = (prices["adj_close"] / prices["close"]).to_numpy()
    o, h, lo, c = (prices[k].to_numpy() * factor for k in ("open", "high", "low", "close"))
    dates = prices["trade_date"].tolist()
    for i in range(len(prices)):
        stop, target = levels["stop_pct"].iloc[i], levels["target_pct"].iloc[i]
        if (
            i + horizon >= len(prices)
            or np.isnan(stop)
            or add_trading_days(dates[i], horizon) != dates[i + horizon]
        ):
            out.append((np.nan, np.nan, np.nan))
            continue
        entry = o[i + 1]
        stop_price, target_price = entry * (1 - stop), entry * (1 + target)
        result = (float(HOLD), c[i + horizon] / entry - 1, float(horizon))
        for k in range(1, horizon + 1):
            if lo[i + k] <= stop_price:
                result = (float(SELL), min(o[i + k], stop_price) / entry - 1, float(k))
                break
            if h[i + k] >= target_price:
                result = (float(BUY), max(o[i + k], target_price) / entry - 1, float(k))
                break
        out.append(result)
    return out


def test_vectorised_labels_equal_a_plain_loop() -> None:
    volatile = make_bars("VOL", n=300, start=date(2016, 1, 4), seed=11, vol=0.03)
    volatile = volatile.drop(index=[150, 151]).reset_index(drop=True)  # a two-day halt
    quiet = make_bars("QUI", n=300, start=date(2016, 1, 4), seed=12, vol=0.008)
    quiet.loc[quiet.index < 120, ["open", "high", "low", "close"]] *= 3  # a 3:1 split at row 120
    labels = triple_barrier_labels(pd.concat([volatile, quiet], ignore_index=True), RISK)
    for ticker, prices in (("VOL", volatile), ("QUI", quiet)):
        mine = labels[labels["ticker"] == ticker].reset_index(drop=True)
        expected = np.array(loop_labels(prices, mine, RISK.max_hold_days))
        got = mine[["label", "realised_return", "exit_day_offset"]].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12, equal_nan=True, err_msg=ticker)
        counts = mine["label"].value_counts()
        assert {SELL, HOLD}.issubset(counts.index)  # the comparison covers more than one outcome
    assert labels.loc[labels["ticker"] == "VOL", "label"].eq(BUY).any()
