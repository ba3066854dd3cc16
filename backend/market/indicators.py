"""Technical indicators with pandas-ta-classic (TA-Lib's C implementations when the wheel is present)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas_ta_classic as ta

from backend.market.models import INDICATOR_COLUMNS

# Indicators that are prices (and so must be rescaled from the adjusted series to the row's price scale);
# RSI and the volume ratio are scale-free.
_PRICE_LEVEL = frozenset(INDICATOR_COLUMNS) - {"rsi_14", "volume_ratio"}


def compute_indicators(bars: pd.DataFrame, *, use_talib: bool | None = None) -> pd.DataFrame:
    """Indicators for one ticker's bars (sorted by date; columns close, adj_close, volume).

    Computed on the split/dividend-adjusted close so corporate actions do not create fake signals, then
    scaled back to each row's as-traded price level. Every value at row t depends only on rows <= t.
    Undefined values (warm-up) are NaN; the storage layer writes them as NULL.

    Args:
        bars: one ticker's daily bars, oldest first.
        use_talib: force TA-Lib (True) or pandas-ta's pure-pandas path (False); None picks TA-Lib when
            installed.
    """
    index = pd.RangeIndex(len(bars))
    close = bars["close"].to_numpy(dtype="float64")
    adj_values = bars["adj_close"].to_numpy(dtype="float64")
    adj_values = np.where(np.isnan(adj_values), close, adj_values)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = adj_values / close
    factor = np.where(np.isfinite(factor), factor, 1.0)
    adj = pd.Series(adj_values, index=index)
    # Volume scales inversely with price on a split.
    volume = pd.Series(bars["volume"].to_numpy(dtype="float64") / factor, index=index)

    macd = ta.macd(adj, fast=12, slow=26, signal=9, talib=use_talib)
    bb = ta.bbands(adj, length=20, std=2.0, talib=use_talib)
    avg_volume = _values(ta.sma(volume, length=20, talib=use_talib), len(bars))
    with np.errstate(divide="ignore", invalid="ignore"):
        volume_ratio = volume.to_numpy() / np.where(avg_volume > 0, avg_volume, np.nan)
    columns = {
        "rsi_14": _values(ta.rsi(adj, length=14, talib=use_talib), len(bars)),
        "macd": _values(macd, len(bars), "MACD_"),
        "macd_signal": _values(macd, len(bars), "MACDs_"),
        "macd_hist": _values(macd, len(bars), "MACDh_"),
        "bb_upper": _values(bb, len(bars), "BBU_"),
        "bb_middle": _values(bb, len(bars), "BBM_"),
        "bb_lower": _values(bb, len(bars), "BBL_"),
        "sma_50": _values(ta.sma(adj, length=50, talib=use_talib), len(bars)),
        "sma_200": _values(ta.sma(adj, length=200, talib=use_talib), len(bars)),
        "ema_12": _values(ta.ema(adj, length=12, talib=use_talib), len(bars)),
        "ema_26": _values(ta.ema(adj, length=26, talib=use_talib), len(bars)),
        "volume_ratio": volume_ratio,
    }
    for name in _PRICE_LEVEL:
        columns[name] = columns[name] / factor
    matrix = np.column_stack([columns[name] for name in INDICATOR_COLUMNS])
    matrix[~np.isfinite(matrix)] = np.nan
    return pd.DataFrame(matrix, columns=list(INDICATOR_COLUMNS), index=bars.index)


def _values(result: pd.Series | pd.DataFrame | None, n: int, prefix: str | None = None) -> np.ndarray:
    """One pandas-ta output as a float array; all NaN when the input was shorter than the window
    (pandas-ta returns None then)."""
    if result is None:
        return np.full(n, np.nan)
    if prefix is not None:
        (name,) = [c for c in result.columns if c.startswith(prefix)]
        result = result[name]
    return result.to_numpy(dtype="float64", na_value=np.nan)
