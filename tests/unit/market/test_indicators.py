"""Indicators against textbook definitions computed here in plain numpy, not with the code under test."""

import numpy as np
import pandas as pd
import pytest

from backend.market.indicators import compute_indicators
from tests.factories import make_bars


def sma(x: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    for i in range(n - 1, len(x)):
        out[i] = x[i - n + 1 : i + 1].mean()
    return out


def ema(x: np.ndarray, n: int) -> np.ndarray:
    """EMA seeded with the SMA of the first n values (Appel / TA-Lib convention)."""
    out = np.full(len(x), np.nan)
    start = np.argmax(~np.isnan(x))
    alpha = 2 / (n + 1)
    out[start + n - 1] = x[start : start + n].mean()
    for i in range(start + n, len(x)):
        out[i] = alpha * x[i] + (1 - alpha) * out[i - 1]
    return out


def wilder_rsi(x: np.ndarray, n: int = 14) -> np.ndarray:
    delta = np.diff(x)
    gain, loss = np.clip(delta, 0, None), np.clip(-delta, 0, None)
    out = np.full(len(x), np.nan)
    avg_g, avg_l = gain[:n].mean(), loss[:n].mean()
    out[n] = 100 - 100 / (1 + avg_g / avg_l)
    for i in range(n, len(delta)):
        avg_g = (avg_g * (n - 1) + gain[i]) / n
        avg_l = (avg_l * (n - 1) + loss[i]) / n
        out[i + 1] = 100 - 100 / (1 + avg_g / avg_l)
    return out


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return make_bars(n=500, seed=42)


@pytest.fixture(scope="module")
def result(bars) -> pd.DataFrame:
    return compute_indicators(bars)


def test_moving_averages_and_bollinger(bars, result):
    close = bars["close"].to_numpy()
    np.testing.assert_allclose(result["sma_50"], sma(close, 50), rtol=1e-10)
    np.testing.assert_allclose(result["sma_200"], sma(close, 200), rtol=1e-10)
    mid = sma(close, 20)
    std = np.array([np.nan] * 19 + [close[i - 19 : i + 1].std(ddof=0) for i in range(19, len(close))])
    np.testing.assert_allclose(result["bb_middle"], mid, rtol=1e-10)
    np.testing.assert_allclose(result["bb_upper"], mid + 2 * std, rtol=1e-9)
    np.testing.assert_allclose(result["bb_lower"], mid - 2 * std, rtol=1e-9)


def test_emas_rsi_and_macd(bars, result):
    close = bars["close"].to_numpy()
    np.testing.assert_allclose(result["ema_12"], ema(close, 12), rtol=1e-10)
    np.testing.assert_allclose(result["ema_26"], ema(close, 26), rtol=1e-10)
    np.testing.assert_allclose(result["rsi_14"], wilder_rsi(close), rtol=1e-9)
    # MACD warm-up conventions differ between libraries; after 150 bars the seed has decayed away.
    line = ema(close, 12) - ema(close, 26)
    signal = ema(line, 9)
    tail = slice(150, None)
    np.testing.assert_allclose(result["macd"][tail], line[tail], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(result["macd_signal"][tail], signal[tail], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(result["macd_hist"][tail], (line - signal)[tail], rtol=1e-5, atol=1e-8)


def test_volume_ratio_is_volume_over_its_20_day_average(bars, result):
    volume = bars["volume"].to_numpy(float)
    np.testing.assert_allclose(result["volume_ratio"], volume / sma(volume, 20), rtol=1e-10)


def test_undefined_values_are_nan_never_zero(result):
    assert result["sma_200"].iloc[:199].isna().all()
    assert result["sma_200"].iloc[199:].notna().all()
    assert result["rsi_14"].iloc[:14].isna().all()
    assert result["sma_50"].iloc[:49].isna().all()
    assert (result.fillna(1.0) != 0).all().all()


def test_short_history_gives_nan_not_a_crash():
    out = compute_indicators(make_bars(n=30, seed=1))
    assert out["sma_200"].isna().all() and out["sma_50"].isna().all()
    assert out["rsi_14"].notna().sum() == 16


def test_talib_and_pure_pandas_paths_agree(bars):
    fast = compute_indicators(bars, use_talib=True)
    slow = compute_indicators(bars, use_talib=False)
    tail = slice(150, None)  # MACD seeding differs by library during the warm-up
    pd.testing.assert_frame_equal(fast.iloc[tail], slow.iloc[tail], rtol=1e-6)
    for col in ("sma_50", "sma_200", "rsi_14", "bb_upper", "ema_26", "volume_ratio"):
        np.testing.assert_allclose(fast[col], slow[col], rtol=1e-8, err_msg=col)


def test_a_split_does_not_look_like_a_crash():
    bars = make_bars(n=300, seed=3)
    bars["volume"] = bars["volume"] // 2 * 2  # even, so the pre-split halving is exact
    split_at = 250
    raw = bars.copy()
    # 2:1 split: as-traded prices halve, adjusted history is the post-split scale, volume doubles.
    raw.loc[: split_at - 1, ["open", "high", "low", "close"]] *= 2
    raw.loc[: split_at - 1, "volume"] //= 2
    out = compute_indicators(raw)
    clean = compute_indicators(bars)
    # After the split the indicators equal those of the never-split series...
    pd.testing.assert_frame_equal(out.iloc[split_at:], clean.iloc[split_at:], rtol=1e-9)
    # ...and before it they are on the as-traded (doubled) scale.
    np.testing.assert_allclose(out["sma_50"].iloc[100:split_at], 2 * clean["sma_50"].iloc[100:split_at])
    np.testing.assert_allclose(out["rsi_14"], clean["rsi_14"], rtol=1e-9)
