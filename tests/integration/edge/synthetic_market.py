"""Synthetic daily bars with or without something to learn, written as the CSV `prices import` reads.

- `noise`: each stock a martingale (no drift in price) with its own volatility and beta to a common,
  driftless market factor: a trade's outcome cannot be predicted from anything the features see.
- `planted`: the same, plus a hidden per-stock trend state (up / flat / down) that persists for weeks
  (switching with probability `switch` a day) and drifts the price by `drift` a day. The state shows in
  recent returns relative to the other stocks, so a cross-sectional model can learn it; nothing reads
  the future.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from backend.core.calendar import trading_days

SECTORS = ("Energy", "Financials", "Health Care", "Industrials", "Information Technology", "Utilities")


def synthetic_bars(
    *,
    planted: bool,
    seed: int,
    n_tickers: int = 36,
    start: date = date(2011, 1, 3),
    end: date = date(2015, 12, 31),
    drift: float = 0.006,
    switch: float = 0.03,
) -> pd.DataFrame:
    """ticker, date, open, high, low, close, volume for `n_tickers` stocks over the NYSE sessions."""
    rng = np.random.default_rng(seed)
    days = trading_days(start, end)
    n = len(days)
    market = rng.normal(0.0, 0.008, n)
    frames = []
    for i in range(n_tickers):
        vol = rng.uniform(0.010, 0.020)
        beta = rng.uniform(0.5, 1.5)
        # Minus half the variance: every price is a martingale, so no volatility or beta earns more.
        martingale = -0.5 * (vol**2 + (beta * 0.008) ** 2)
        state = np.zeros(n)
        if planted:
            current = rng.choice([-1.0, 0.0, 1.0])
            for t in range(n):
                if rng.random() < switch:
                    current = rng.choice([-1.0, 0.0, 1.0])
                state[t] = current
        log_ret = martingale + beta * market + drift * state + rng.normal(0, vol, n)
        close = rng.uniform(20, 200) * np.exp(np.cumsum(log_ret))
        previous = np.concatenate([[close[0]], close[:-1]])
        # The open gaps a little from the previous close, so stops can fill through (at the open).
        open_ = previous * np.exp(rng.normal(0, 0.3 * vol, n))
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.5 * vol, n)))
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.5 * vol, n)))
        frames.append(
            pd.DataFrame(
                {
                    "ticker": f"Z{chr(65 + i // 26)}{chr(65 + i % 26)}",
                    "date": [d.isoformat() for d in days],
                    "open": open_.round(4),
                    "high": high.round(4),
                    "low": low.round(4),
                    "close": close.round(4),
                    "volume": rng.integers(2_000_000, 6_000_000, n),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def write_csv(bars: pd.DataFrame, path: Path) -> Path:
    bars.to_csv(path, index=False)
    return path


def sectors(bars: pd.DataFrame) -> dict[str, str]:
    """A sector per ticker, spread evenly (so the sector cap works as on real data)."""
    tickers = sorted(bars["ticker"].unique())
    return {t: SECTORS[i % len(SECTORS)] for i, t in enumerate(tickers)}
