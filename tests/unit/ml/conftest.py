"""Synthetic multi-ticker feature frames and small model sizes for the ML unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from backend.core.settings import Settings, override_settings

HORIZON = 5  # label horizon of the synthetic random walk (sessions)


@dataclass
class Synthetic:
    X: pd.DataFrame
    y: np.ndarray
    indicators: pd.DataFrame
    horizon: int = 0  # sessions a label looks ahead (0: labels do not depend on later rows)


def _index(n_tickers: int, n_days: int) -> pd.MultiIndex:
    dates = pd.bdate_range("2020-01-02", periods=n_days)
    tickers = [f"T{i:03d}" for i in range(n_tickers)]
    return pd.MultiIndex.from_product([tickers, dates], names=["ticker", "trade_date"])


def random_walk(n_tickers: int = 30, n_days: int = 400, seed: int = 0) -> Synthetic:
    """Prices follow a pure random walk: features (from the past) carry no information about labels
    (from the future). Labels: 5-session forward return beyond +-0.52 sd (~30% SELL, 40% HOLD, 30% BUY)."""
    rng = np.random.default_rng(seed)
    frames, labels, indicator_frames = [], [], []
    sd = 0.02
    threshold = 0.524 * sd * np.sqrt(HORIZON)
    dates = pd.bdate_range("2020-01-02", periods=n_days)
    for t in range(n_tickers):
        r = rng.normal(0.0, sd, n_days)
        s = pd.Series(r)
        close = 100 * np.exp(np.cumsum(r))
        features = pd.DataFrame(
            {
                "ret_1": s,
                "ret_2": s.shift(1),
                "ret_3": s.shift(2),
                "mom_5": s.rolling(5).sum(),
                "mom_20": s.rolling(20).sum(),
                "vol_20": s.rolling(20).std(),
                "noise_a": rng.normal(size=n_days),
                "noise_b": rng.normal(size=n_days),
            }
        )
        forward = s[::-1].rolling(HORIZON).sum()[::-1].shift(-1)  # r[t+1] + ... + r[t+HORIZON]
        label = np.where(forward > threshold, 2, np.where(forward < -threshold, 0, 1))
        ema12 = pd.Series(close).ewm(span=12).mean()
        ema26 = pd.Series(close).ewm(span=26).mean()
        macd = ema12 - ema26
        gain = s.clip(lower=0).ewm(alpha=1 / 14).mean()
        loss = (-s.clip(upper=0)).ewm(alpha=1 / 14).mean()
        indicators = pd.DataFrame(
            {
                "rsi_14": 100 - 100 / (1 + gain / loss),
                "macd": macd,
                "macd_signal": macd.ewm(span=9).mean(),
                "ema_12": ema12,
                "ema_26": ema26,
            }
        )
        keep = slice(20, n_days - HORIZON)  # warm-up rows and rows without a full label horizon dropped
        idx = pd.MultiIndex.from_arrays(
            [[f"T{t:03d}"] * (n_days - 20 - HORIZON), dates[keep]], names=["ticker", "trade_date"]
        )
        frames.append(features.iloc[keep].set_axis(idx))
        indicator_frames.append(indicators.iloc[keep].set_axis(idx))
        labels.append(label[keep])
    y = np.concatenate(labels).astype(np.int64)
    return Synthetic(pd.concat(frames), y, pd.concat(indicator_frames), horizon=HORIZON)


def planted(n_tickers: int = 30, n_days: int = 300, seed: int = 1, strength: float = 1.5) -> Synthetic:
    """Feature `signal` shifts the label distribution (softmax of strength * signal * [-1, 0, 1]);
    the other features and the indicators are noise."""
    rng = np.random.default_rng(seed)
    index = _index(n_tickers, n_days)
    n = len(index)
    X = pd.DataFrame(
        {
            "signal": rng.normal(size=n),
            **{f"noise_{i}": rng.normal(size=n) for i in range(7)},
        },
        index=index,
    )
    logits = strength * X["signal"].to_numpy()[:, None] * np.array([-1.0, 0.0, 1.0]) + np.array(
        [0.0, 0.3, 0.0]
    )
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).astype(np.int64)
    ema26 = 100 + rng.normal(size=n)
    indicators = pd.DataFrame(
        {
            "rsi_14": rng.uniform(0, 100, n),
            "macd": rng.normal(size=n),
            "macd_signal": rng.normal(size=n),
            "ema_12": ema26 + rng.normal(size=n),
            "ema_26": ema26,
        },
        index=index,
    )
    return Synthetic(X, y, indicators)


def small_settings() -> dict[str, object]:
    """Model sizes small enough for unit tests; the logic under test does not depend on them."""
    base = Settings()
    return {
        "ml": base.ml.model_copy(
            update={
                "xgb_n_estimators": 30,
                "lgbm_n_estimators": 30,
                "lstm_hidden": (16, 8),
                "lstm_epochs": 3,
                "lstm_batch_size": 128,
                "lstm_max_train_samples": 3000,
                "embargo_days": 6,
            }
        ),
        "features": base.features.model_copy(update={"sequence_length": 10, "version": "v1"}),
    }


@pytest.fixture
def small_models() -> Iterator[Settings]:
    with override_settings(**small_settings()) as settings:
        yield settings


@pytest.fixture(scope="session")
def walk() -> Synthetic:
    return random_walk()


@pytest.fixture(scope="session")
def plant() -> Synthetic:
    return planted()


@pytest.fixture(scope="session")
def tiny() -> Synthetic:
    """A few tickers with a planted effect: enough for fitting, saving and explaining quickly."""
    return planted(n_tickers=6, n_days=80, seed=7, strength=2.0)
