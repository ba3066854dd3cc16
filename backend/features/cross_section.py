"""Cross-sectional features: each (ticker, t) value placed among the universe's values on the same day t.

A pooled model learns one rule across hundreds of tickers. Raw returns and volatilities differ by stock and
by regime (a 3% week means little in a crash), so the model also sees where a stock stands among its peers
on that day: its percentile rank, and its return relative to the universe's and its sector's average.
Only values of day t are combined, so nothing reads a later price. The universe is whatever tickers the
frame holds on a day; a day with one ticker ranks it in the middle (0.5) and its relative returns are 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

# Per-ticker features whose daily percentile rank is a feature of its own.
RANKED = {
    "xs_rank_ret_1d": "ret_1d",
    "xs_rank_ret_5d": "ret_5d",
    "xs_rank_ret_20d": "ret_20d",
    "xs_rank_volatility": "volatility_20d",
    "xs_rank_volume_z": "volume_z",
    "xs_rank_rsi": "rsi",
}
RELATIVE = {
    "ret_5d_vs_market": "ret_5d",
    "ret_20d_vs_market": "ret_20d",
}
SECTOR_RELATIVE = {
    "ret_5d_vs_sector": "ret_5d",
    "ret_20d_vs_sector": "ret_20d",
}
CROSS_SECTION_COLUMNS: tuple[str, ...] = (*RANKED, *RELATIVE, *SECTOR_RELATIVE)
# The per-ticker features they are computed from.
CROSS_SECTION_INPUTS: tuple[str, ...] = tuple(
    sorted(set(RANKED.values()) | set(RELATIVE.values()) | set(SECTOR_RELATIVE.values()))
)
MIN_SECTOR_PEERS = 3  # below this a sector's mean is one or two stocks' noise: compare with the market


def cross_section_features(
    features: Mapping[str, np.ndarray],
    tickers: np.ndarray,
    trade_dates: pd.Series,
    sectors: Mapping[str, str | None] | None = None,
) -> dict[str, np.ndarray]:
    """Daily percentile ranks and market-/sector-relative returns of the per-ticker `features`.

    Ranks are centred ((rank - 0.5) / n, in (0, 1)); a NaN input stays NaN and is left out of the day's
    ranks and means. A ticker of unknown sector (or a sector with fewer than MIN_SECTOR_PEERS stocks that
    day) gets its return relative to the market instead.
    """
    day = pd.Series(pd.factorize(trade_dates.to_numpy())[0])
    frame = pd.DataFrame({name: np.asarray(features[name], dtype="float64") for name in CROSS_SECTION_INPUTS})
    frame["day"] = day.to_numpy()
    by_day = frame.groupby("day", sort=False)
    out: dict[str, np.ndarray] = {}
    for name, source in RANKED.items():
        rank = by_day[source].rank(method="average")
        count = by_day[source].transform("count")
        out[name] = ((rank - 0.5) / count).to_numpy(dtype="float64")
    market_mean = {source: by_day[source].transform("mean") for source in set(RELATIVE.values())}
    for name, source in RELATIVE.items():
        out[name] = (frame[source] - market_mean[source]).to_numpy(dtype="float64")
    sector = pd.Series([(sectors or {}).get(str(t)) for t in tickers], dtype="object").fillna("")
    frame["sector"] = sector.to_numpy()
    by_sector = frame.groupby(["day", "sector"], sort=False)
    for name, source in SECTOR_RELATIVE.items():
        peers = by_sector[source].transform("count")
        mean = by_sector[source].transform("mean")
        use_sector = (frame["sector"] != "") & (peers >= MIN_SECTOR_PEERS)
        baseline = np.where(use_sector, mean, market_mean[source])
        out[name] = (frame[source] - baseline).to_numpy(dtype="float64")
    return out
