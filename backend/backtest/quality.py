"""What a replay says about its model and its data: the edge test on the replay's own predictions, and the
caveats every result on imported history carries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from backend.core.settings import RiskSettings
from backend.ml import training
from backend.ml.members.base import INDEX_NAMES

SPIKE = 0.20  # a one-day move this large that reverts the next day is more likely a bad print than news
REVERT = 0.05
QUALITY_KEYS = (
    "rank_ic",
    "rank_ic_t",
    "ic_periods",
    "trusted",
    "untrusted_reasons",
    "top_bucket_hit_rate",
    "top_bucket_net_return",
    "top_bucket_excess",
    "top_bucket_excess_t",
    "base_rate",
    "ece",
    "log_loss",
    "prior_log_loss",
    "top_bucket",
    "all_candidates",
    "rsi_rule",
    "macd_rule",
    "reliability",
    "n_rows",
    "n_days",
)


def model_quality(
    predictions: Sequence[pd.DataFrame], labels: pd.DataFrame, prices: pd.DataFrame, risk: RiskSettings
) -> dict[str, Any]:
    """The edge test (`ml.edge`) on every prediction the replay made whose trade had closed by its end.

    Each prediction was made by a model fitted before its date, so these rows are out of sample; the
    calibration map is refitted across the replay's retraining blocks (cross-fitted) for the log loss.
    """
    if not predictions:
        return {"trusted": False, "untrusted_reasons": ["the replay made no predictions"], "n_rows": 0}
    key = list(INDEX_NAMES)
    calls = pd.concat(predictions, ignore_index=True)
    closed = labels[labels["label_complete"].astype(bool)][[*key, "win", "net_return"]]
    frame = prices.sort_values(key, kind="stable").set_index(key)
    rsi, macd = training.rule_calls(frame)
    rules = pd.DataFrame(
        {**{k: frame.index.get_level_values(k) for k in key}, "rsi_buy": rsi, "macd_buy": macd}
    )
    oos = calls.merge(closed, on=key, how="inner").merge(rules, on=key, how="left")
    oos = oos.rename(columns={"raw_score": "raw"}).fillna({"rsi_buy": False, "macd_buy": False})
    if oos.empty or oos["win"].nunique() < 2:
        return {"trusted": False, "untrusted_reasons": ["too few closed trades to test"], "n_rows": len(oos)}
    assessment = training.assess(oos)
    quality = {k: assessment.quality.get(k) for k in QUALITY_KEYS}
    quality["trusted_at_retrains"] = int(calls.groupby("fold")["trusted"].first().sum())
    quality["retrains"] = int(calls["fold"].nunique())
    return quality


def bad_days(prices: pd.DataFrame, limit: int = 10) -> list[str]:
    """One-day spikes that revert the next session (likely bad prints), as 'TICKER DATE' strings."""
    frame = prices.sort_values(["ticker", "trade_date"], kind="stable")
    close = frame["close"].astype("float64")
    same = frame["ticker"].eq(frame["ticker"].shift(1)) & frame["ticker"].eq(frame["ticker"].shift(-1))
    before, after = close.shift(1), close.shift(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = (close / before - 1).abs()
        back = (after / before - 1).abs()
    flagged = frame[(same & (jump > SPIKE) & (back < REVERT)).to_numpy()]
    return [f"{t} {d}" for t, d in zip(flagged["ticker"], flagged["trade_date"], strict=True)][:limit]


def caveats(prices: pd.DataFrame) -> list[str]:
    """What the numbers do not account for."""
    found = bad_days(prices)
    notes = [
        "survivorship: the universe is the tickers stored today; stocks that were delisted or left the index "
        "during the period are missing, which flatters both the strategy and buy-and-hold",
        "dividends are not booked: prices are split-adjusted only, so buy-and-hold and held positions miss "
        "their dividend income (about 2% a year for large caps)",
        "bad data days: imported history can hold wrong closes on some days (one-day spikes, unadjusted "
        "splits); they are traded as if real",
    ]
    if found:
        notes.append(
            "one-day spikes that revert the next day (likely bad prints) found at: " + ", ".join(found)
        )
    return notes
