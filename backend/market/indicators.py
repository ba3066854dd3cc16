"""Technical indicators with pandas-ta-classic (TA-Lib's C implementations when the wheel is present)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas_ta_classic as ta

from backend.market.models import INDICATOR_COLUMNS

# Indicators that are prices (and so must be rescaled from the adjusted series to the row's price scale).
_PRICE_LEVEL = (
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "sma_50",
    "sma_200",
    "ema_12",
    "ema_26",
)


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
    close = bars["close"].astype("float64")
    adj = bars["adj_close"].astype("float64").fillna(close)
    factor = (adj / close).replace([np.inf, -np.inf], np.nan).fillna(1.0)
    # Volume scales inversely with price on a split.
    volume = bars["volume"].astype("float64") / factor

    def series(result: pd.Series | None) -> pd.Series:
        # pandas-ta returns None when the input is shorter than the window.
        return pd.Series(np.nan, index=bars.index) if result is None else result

    macd = ta.macd(adj, fast=12, slow=26, signal=9, talib=use_talib)
    bb = ta.bbands(adj, length=20, std=2.0, talib=use_talib)
    avg_volume = series(ta.sma(volume, length=20, talib=use_talib))
    out = pd.DataFrame(
        {
            "rsi_14": series(ta.rsi(adj, length=14, talib=use_talib)),
            "macd": _col(macd, "MACD_"),
            "macd_signal": _col(macd, "MACDs_"),
            "macd_hist": _col(macd, "MACDh_"),
            "bb_upper": _col(bb, "BBU_"),
            "bb_middle": _col(bb, "BBM_"),
            "bb_lower": _col(bb, "BBL_"),
            "sma_50": series(ta.sma(adj, length=50, talib=use_talib)),
            "sma_200": series(ta.sma(adj, length=200, talib=use_talib)),
            "ema_12": series(ta.ema(adj, length=12, talib=use_talib)),
            "ema_26": series(ta.ema(adj, length=26, talib=use_talib)),
            "volume_ratio": volume / avg_volume.where(avg_volume > 0),
        },
        index=bars.index,
    )
    for name in _PRICE_LEVEL:
        out[name] = out[name] / factor
    out = out.astype("float64").replace([np.inf, -np.inf], np.nan)
    return out[list(INDICATOR_COLUMNS)]


def _col(frame: pd.DataFrame | None, prefix: str) -> pd.Series:
    """One column of a pandas-ta result, or all-NaN when the series was too short to compute it."""
    if frame is None:
        return pd.Series(np.nan, dtype="float64")  # aligned (all NaN) by the DataFrame constructor
    (name,) = [c for c in frame.columns if c.startswith(prefix)]
    return frame[name]
