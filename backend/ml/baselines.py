"""Baselines the ensemble must beat out of sample: the majority class and two textbook indicator rules.

Each returns class predictions and probabilities so `metrics.classification_metrics` applies unchanged. Rule
probabilities are "one-hot-ish": `confidence` on the called class, the rest split evenly, so log loss stays
finite. Rows whose indicators are missing (NaN during an indicator's warm-up) are HOLD.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backend.ml.members.base import N_CLASSES, check_labels

SELL, HOLD, BUY = 0, 1, 2
RSI_OVERSOLD = 30.0
RSI_OVERBOUGHT = 70.0
RULE_CONFIDENCE = 0.8


def majority_class(y_train: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Always the training set's most common class; probabilities are the training class frequencies."""
    labels = check_labels(y_train, len(np.asarray(y_train)))
    if len(labels) == 0:
        raise ValueError("majority baseline needs training labels")
    rates = np.bincount(labels, minlength=N_CLASSES) / len(labels)
    predicted = np.full(n, int(np.argmax(rates)), dtype=np.int64)
    return predicted, np.tile(rates, (n, 1))


def rsi_mean_reversion(
    indicators: pd.DataFrame, *, confidence: float = RULE_CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """BUY when RSI(14) < 30 (oversold), SELL when RSI(14) > 70 (overbought), else HOLD."""
    rsi = _column(indicators, "rsi_14")
    predicted = np.full(len(rsi), HOLD, dtype=np.int64)
    predicted[rsi < RSI_OVERSOLD] = BUY
    predicted[rsi > RSI_OVERBOUGHT] = SELL
    return predicted, rule_probabilities(predicted, confidence)


def macd_ema_momentum(
    indicators: pd.DataFrame, *, require_cross: bool = False, confidence: float = RULE_CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Momentum: BUY when MACD > its signal and EMA12 > EMA26, SELL when both point down, else HOLD.

    With `require_cross`, BUY/SELL only on the session the MACD line crosses its signal (per ticker, so the
    frame needs the (ticker, trade_date) MultiIndex sorted by date); the EMA trend must still agree.
    """
    macd = _column(indicators, "macd")
    signal = _column(indicators, "macd_signal")
    ema_fast = _column(indicators, "ema_12")
    ema_slow = _column(indicators, "ema_26")
    up = (macd > signal) & (ema_fast > ema_slow)
    down = (macd < signal) & (ema_fast < ema_slow)
    if require_cross:
        if not isinstance(indicators.index, pd.MultiIndex) or not indicators.index.is_monotonic_increasing:
            raise ValueError("require_cross needs indicators indexed by sorted (ticker, trade_date)")
        spread = pd.Series(macd - signal, index=indicators.index)
        previous = spread.groupby(level=0, sort=False).shift(1).to_numpy()
        # NaN previous spread (a ticker's first row) compares False: no cross without a previous session.
        up &= previous <= 0
        down &= previous >= 0
    predicted = np.full(len(macd), HOLD, dtype=np.int64)
    predicted[up] = BUY
    predicted[down] = SELL
    return predicted, rule_probabilities(predicted, confidence)


def rule_probabilities(predicted: np.ndarray, confidence: float = RULE_CONFIDENCE) -> np.ndarray:
    """`confidence` on each row's called class, the remainder split evenly over the other two."""
    if not 1 / N_CLASSES <= confidence <= 1:
        raise ValueError(f"rule confidence must be within [1/3, 1], got {confidence}")
    probs = np.full((len(predicted), N_CLASSES), (1 - confidence) / (N_CLASSES - 1))
    probs[np.arange(len(predicted)), predicted] = confidence
    return probs


def _column(indicators: pd.DataFrame, name: str) -> np.ndarray:
    if name not in indicators.columns:
        raise ValueError(f"baseline needs indicator column {name!r}; got {list(indicators.columns)}")
    return indicators[name].to_numpy(dtype=np.float64)
