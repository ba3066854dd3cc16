"""Point-in-time features: the ONE implementation used by training, live inference and backtests.

Every feature for (ticker, t) uses only data at or before the close of t: trailing windows, lags within
the ticker's own rows, and an as-of join of the market index. Nothing is normalised with full-sample
statistics; continuous values are made comparable across tickers by dividing by the ticker's own price
or by trailing statistics. A feature whose input is not yet defined (indicator warm-up, too little
history, no index close) is NaN, never 0; `usable_rows` / `check_finite` keep such rows from a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pandas_ta_classic as ta

from backend.core.errors import ValidationFailed
from backend.features.cross_section import (
    CROSS_SECTION_COLUMNS,
    CROSS_SECTION_INPUTS,
    cross_section_features,
)
from backend.market.models import BAR_COLUMNS

FEATURE_SET_VERSION = "v2"  # v2: cross-sectional ranks and relative returns

FLAG_COLUMNS = (
    "rsi_oversold",  # RSI(14) < 30
    "rsi_overbought",  # RSI(14) > 70
    "macd_above_signal",
    "macd_bull_cross",  # MACD crossed above its signal today (was at or below yesterday)
    "macd_bear_cross",  # MACD crossed below its signal today (was at or above yesterday)
    "golden_cross",  # SMA 50 > SMA 200
    "bb_breakout",  # close > upper Bollinger band
    "bb_breakdown",  # close < lower Bollinger band
    "volume_spike",  # volume_ratio > 2
)
INDICATOR_VALUE_COLUMNS = (
    "rsi",  # RSI(14) / 100
    "macd_hist_pct",  # MACD histogram / close
    "close_sma50",  # close / SMA 50 - 1
    "close_sma200",  # close / SMA 200 - 1
    "bb_pct_b",  # (close - lower) / (upper - lower)
    "volume_z",  # z-score of log volume against the previous 20 sessions
)
PRICE_COLUMNS = (
    "ret_1d",
    "ret_5d",
    "ret_10d",
    "ret_20d",
    "volatility_20d",  # daily standard deviation of log returns over 20 sessions (not annualised)
    "atr_pct",  # ATR(14) / close, on split-adjusted prices
)
SENTIMENT_COLUMNS = (
    "sentiment_score",
    "sentiment_ma5",
    "sentiment_trend",
    "sentiment_log_mentions",
    "sentiment_conviction",
    "sentiment_missing",  # 1.0 where Reddit had nothing for (ticker, t); the others are then 0
)
MARKET_COLUMNS = (
    "market_above_sma200",
    "market_ret_20d",
    "market_sma200_gap",  # index close / its SMA 200 - 1
)
# Each row's values from its own ticker's history (and the market index).
PER_TICKER_COLUMNS: tuple[str, ...] = (
    FLAG_COLUMNS + INDICATOR_VALUE_COLUMNS + PRICE_COLUMNS + SENTIMENT_COLUMNS + MARKET_COLUMNS
)
FEATURE_COLUMNS: tuple[str, ...] = PER_TICKER_COLUMNS + CROSS_SECTION_COLUMNS

INDICATOR_INPUTS = (
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "bb_upper",
    "bb_lower",
    "sma_50",
    "sma_200",
    "volume_ratio",
)
REQUIRED_PRICE_COLUMNS = ("ticker", "trade_date", *BAR_COLUMNS, *INDICATOR_INPUTS)
REQUIRED_SENTIMENT_COLUMNS = ("ticker", "trade_date", "score", "score_ma5", "trend", "mentions", "conviction")
REQUIRED_MARKET_COLUMNS = ("trade_date", "close")

RETURN_HORIZONS = (1, 5, 10, 20)
VOLATILITY_WINDOW = 20
VOLUME_Z_WINDOW = 20
ATR_LENGTH = 14
MARKET_SMA_LENGTH = 200
MARKET_RETURN_DAYS = 20
# An index close older than this (calendar days) is treated as missing rather than silently reused: a
# week covers any exchange holiday run, while a broken index feed shows up as NaN (unusable rows).
MARKET_MAX_STALENESS = pd.Timedelta(days=7)


def build_features(
    prices: pd.DataFrame,
    sentiment: pd.DataFrame | None,
    market: pd.DataFrame,
    sectors: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """Features for every (ticker, trade_date) row of `prices`: `per_ticker_features`, then
    `add_cross_section` among the rows of each date.

    Args:
        prices: daily bars with stored indicators for one or many tickers (as `market.service.load_bars`
            returns them); indicator NaN means not yet defined.
        sentiment: daily Reddit aggregates per (ticker, trade_date) with score, score_ma5, trend,
            mentions, conviction; None or missing rows mean Reddit had nothing.
        market: the market index, trade_date and close; joined as of each date (the last close on or
            before it).
        sectors: ticker -> sector for the sector-relative returns (unknown: relative to the market).

    Returns:
        ticker, trade_date and the float columns FEATURE_COLUMNS, sorted by ticker then date.
    """
    features = per_ticker_features(prices, sentiment, market)
    add_cross_section(features, sectors)
    return features


def per_ticker_features(
    prices: pd.DataFrame, sentiment: pd.DataFrame | None, market: pd.DataFrame
) -> pd.DataFrame:
    """`build_features` with the cross-sectional columns left undefined (NaN).

    Every value of a row comes from its own ticker's rows and the market index, so a ticker gives the
    same rows, to the last bit, whichever other tickers `prices` holds. The features step's ticker batches
    compute these; the step then completes each day with `add_cross_section` over all of that day's rows.
    An infinite value (a zero divisor) is undefined (NaN) here already, so it stays out of the day's ranks
    and means instead of making the market's mean infinite.
    """
    frame = _validated_prices(prices)
    out = pd.DataFrame({"ticker": frame["ticker"], "trade_date": frame["trade_date"]})
    groups = _GroupLayout(frame["ticker"].to_numpy())

    adjusted = split_adjusted_ohlc(frame)
    close = frame["close"].to_numpy(dtype="float64")
    ind = {c: frame[c].to_numpy(dtype="float64") for c in INDICATOR_INPUTS}

    with np.errstate(divide="ignore", invalid="ignore"):
        # Momentum flags: NaN where the indicator is not defined yet, so "false" never means "unknown".
        above = _flag(ind["macd"] > ind["macd_signal"], ind["macd"], ind["macd_signal"])
        above_before = groups.lag(above, 1)
        features: dict[str, np.ndarray] = {
            "rsi_oversold": _flag(ind["rsi_14"] < 30, ind["rsi_14"]),
            "rsi_overbought": _flag(ind["rsi_14"] > 70, ind["rsi_14"]),
            "macd_above_signal": above,
            "macd_bull_cross": _flag((above == 1) & (above_before == 0), above, above_before),
            "macd_bear_cross": _flag((above == 0) & (above_before == 1), above, above_before),
            "golden_cross": _flag(ind["sma_50"] > ind["sma_200"], ind["sma_50"], ind["sma_200"]),
            "bb_breakout": _flag(close > ind["bb_upper"], ind["bb_upper"]),
            "bb_breakdown": _flag(close < ind["bb_lower"], ind["bb_lower"]),
            "volume_spike": _flag(ind["volume_ratio"] > 2, ind["volume_ratio"]),
        }
        # The stored indicators are on each row's as-traded price scale, so they compare with `close`.
        width = ind["bb_upper"] - ind["bb_lower"]
        features.update(
            rsi=ind["rsi_14"] / 100.0,
            macd_hist_pct=ind["macd_hist"] / close,
            close_sma50=close / ind["sma_50"] - 1.0,
            close_sma200=close / ind["sma_200"] - 1.0,
            bb_pct_b=np.where(width > 0, (close - ind["bb_lower"]) / width, np.nan),
            volume_z=_volume_z(adjusted["volume"], groups),
        )

        adj_close = adjusted["close"]
        for days in RETURN_HORIZONS:
            features[f"ret_{days}d"] = adj_close / groups.lag(adj_close, days) - 1.0
        log_ret = np.log(adj_close / groups.lag(adj_close, 1))
        features["volatility_20d"] = groups.rolling(log_ret, VOLATILITY_WINDOW, "std", first_valid=1)
        features["atr_pct"] = atr_pct(frame, groups=groups)

    features.update(_sentiment_features(frame, sentiment))
    features.update(_market_features(frame["trade_date"], market))
    for name in PER_TICKER_COLUMNS:
        out[name] = _defined(features[name])
    for name in CROSS_SECTION_COLUMNS:
        out[name] = np.nan
    return out


def add_cross_section(features: pd.DataFrame, sectors: Mapping[str, str | None] | None) -> None:
    """Fill the CROSS_SECTION_COLUMNS of `features` (in place) from its per-ticker columns, each row placed
    among the rows of its trade date (see `cross_section`).

    Only rows of the same date are combined, so a frame of one day's rows gives the same values as the
    frame of many days it was cut from; a day's sums run in row order, so keep rows sorted by ticker
    within a day for results equal to the last bit. Undefined inputs (NaN) stay out of a day's ranks
    and means.
    """
    inputs = {name: features[name].to_numpy(dtype="float64") for name in CROSS_SECTION_INPUTS}
    cross = cross_section_features(inputs, features["ticker"].to_numpy(), features["trade_date"], sectors)
    for name in CROSS_SECTION_COLUMNS:
        features[name] = _defined(cross[name])


def _defined(values: np.ndarray) -> np.ndarray:
    out = np.array(values, dtype="float64")  # a copy: some inputs are read-only views
    out[np.isinf(out)] = np.nan  # a zero divisor means "undefined", like the warm-up
    return out


def usable_rows(features: pd.DataFrame) -> pd.Series:
    """True where every FEATURE_COLUMNS value is finite: the rows a model may see."""
    values = features.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype="float64")
    return pd.Series(np.isfinite(values).all(axis=1), index=features.index, name="usable")


def check_finite(features: pd.DataFrame, *, max_listed: int = 10) -> None:
    """Raise ValidationFailed naming the ticker, feature and dates of every NaN/inf value.

    The ML code calls this on the rows it is about to train on or predict for, so a NaN or inf never
    reaches a model silently.
    """
    missing = [c for c in ("ticker", "trade_date", *FEATURE_COLUMNS) if c not in features.columns]
    if missing:
        raise ValidationFailed(f"feature frame lacks column(s) {', '.join(missing)}")
    values = features.loc[:, list(FEATURE_COLUMNS)].to_numpy(dtype="float64")
    bad_row, bad_col = np.nonzero(~np.isfinite(values))
    if bad_row.size == 0:
        return
    found = pd.DataFrame(
        {
            "ticker": features["ticker"].to_numpy()[bad_row],
            "feature": np.asarray(FEATURE_COLUMNS)[bad_col],
            "trade_date": features["trade_date"].to_numpy()[bad_row],
        }
    )
    summary = found.groupby(["ticker", "feature"], sort=True)["trade_date"].agg(["min", "max", "count"])
    lines = [
        f"  {ticker} {feature}: {n} date(s) " + (f"{first}" if n == 1 else f"{first} .. {last}")
        for ticker, feature, first, last, n in summary.reset_index().itertuples(index=False)
    ]
    more = f"\n  ... and {len(lines) - max_listed} more" if len(lines) > max_listed else ""
    raise ValidationFailed(
        f"{bad_row.size} NaN/inf feature value(s) in {len(set(bad_row))} row(s) "
        f"(tickers {', '.join(sorted(found['ticker'].unique()))}):\n" + "\n".join(lines[:max_listed]) + more
    )


def split_adjusted_ohlc(prices: pd.DataFrame) -> dict[str, np.ndarray]:
    """Open, high, low, close and volume on the split/dividend-adjusted scale of `adj_close`.

    Every price is multiplied by the row's adj_close / close (volume divided), so a split is not a crash
    and a ratio of two adjusted prices is the investor's real return. A missing adj_close means no
    adjustment; a frame without volume gets NaN volume.
    """
    close = prices["close"].to_numpy(dtype="float64")
    adj = prices["adj_close"].to_numpy(dtype="float64")
    adj = np.where(np.isnan(adj), close, adj)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = adj / close
    factor = np.where(np.isfinite(factor) & (factor > 0), factor, 1.0)
    return {
        "open": prices["open"].to_numpy(dtype="float64") * factor,
        "high": prices["high"].to_numpy(dtype="float64") * factor,
        "low": prices["low"].to_numpy(dtype="float64") * factor,
        "close": close * factor,
        # Volume scales inversely with price on a split.
        "volume": (
            prices["volume"].to_numpy(dtype="float64") / factor
            if "volume" in prices.columns
            else np.full(len(prices), np.nan)
        ),
    }


def atr_pct(prices: pd.DataFrame, *, groups: _GroupLayout | None = None) -> np.ndarray:
    """ATR(14) / close per row, on split-adjusted prices; `prices` sorted by ticker then date.

    ATR is Wilder-smoothed (recursive), so it runs per ticker; the value at row t uses rows <= t only.
    The barriers of the labels and the risk manager are set from this number.
    """
    groups = groups or _GroupLayout(prices["ticker"].to_numpy())
    adjusted = split_adjusted_ohlc(prices)
    out = np.full(len(prices), np.nan)
    for start, stop in groups.slices():
        high, low, close = (pd.Series(adjusted[k][start:stop]) for k in ("high", "low", "close"))
        atr = ta.atr(high, low, close, length=ATR_LENGTH)
        if atr is not None:
            out[start:stop] = atr.to_numpy(dtype="float64", na_value=np.nan) / close.to_numpy()
    return out


class _GroupLayout:
    """Row positions of a frame sorted by ticker, so lags run over the whole array at once and are then
    masked where they would reach into the previous ticker."""

    def __init__(self, tickers: np.ndarray) -> None:
        n = len(tickers)
        change = np.flatnonzero(tickers[1:] != tickers[:-1]) + 1 if n else np.array([], dtype=int)
        self.starts = np.concatenate(([0], change)).astype(np.int64) if n else np.array([], dtype=np.int64)
        self.ends = np.concatenate((self.starts[1:], [n])).astype(np.int64) if n else self.starts
        self.position = np.arange(n) - np.repeat(self.starts, self.ends - self.starts)
        self.group = np.repeat(np.arange(len(self.starts)), self.ends - self.starts)

    def slices(self) -> list[tuple[int, int]]:
        return list(zip(self.starts.tolist(), self.ends.tolist(), strict=True))

    def lag(self, values: np.ndarray, days: int) -> np.ndarray:
        """values[t - days] within the same ticker (NaN for the ticker's first `days` rows)."""
        out = np.full(len(values), np.nan)
        if days < len(values):
            out[days:] = values[: len(values) - days]
        out[self.position < days] = np.nan
        return out

    def rolling(self, values: np.ndarray, window: int, how: str, *, first_valid: int = 0) -> np.ndarray:
        """A trailing `window` statistic within the ticker; NaN until the window holds `window` values
        from rows >= `first_valid` of the ticker (rows before it are undefined inputs, e.g. row 0's
        return).

        Rolled per ticker, not over the concatenated array: a rolling sum carries rounding from the rows
        before, so a ticker's last bits would depend on which tickers precede it in the frame. Per ticker,
        a batch of tickers gives the same values as the whole universe, and two tickers with the same
        history tie in the day's ranks.
        """
        rolled = pd.Series(values).groupby(self.group, sort=False).rolling(window, min_periods=window)
        stat = rolled.std(ddof=1) if how == "std" else rolled.mean()
        out = stat.to_numpy(dtype="float64", copy=True)
        out[self.position < first_valid + window - 1] = np.nan
        return out


def _flag(condition: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
    undefined = np.zeros(len(condition), dtype=bool)
    for values in inputs:
        undefined |= np.isnan(values)
    return np.where(undefined, np.nan, condition.astype("float64"))


def _volume_z(volume: np.ndarray, groups: _GroupLayout) -> np.ndarray:
    """Today's log volume against the mean/std of the previous 20 sessions' (today excluded, so a spike
    does not inflate its own baseline)."""
    log_volume = np.log1p(np.where(volume >= 0, volume, np.nan))
    previous = groups.lag(log_volume, 1)
    mean = groups.rolling(previous, VOLUME_Z_WINDOW, "mean", first_valid=1)
    std = groups.rolling(previous, VOLUME_Z_WINDOW, "std", first_valid=1)
    return np.where(std > 0, (log_volume - mean) / std, np.nan)


def _sentiment_features(frame: pd.DataFrame, sentiment: pd.DataFrame | None) -> dict[str, np.ndarray]:
    n = len(frame)
    if sentiment is None or sentiment.empty:
        zeros = np.zeros(n)
        return {c: (np.ones(n) if c == "sentiment_missing" else zeros.copy()) for c in SENTIMENT_COLUMNS}
    _require_columns(sentiment, REQUIRED_SENTIMENT_COLUMNS, "sentiment")
    _reject_duplicates(sentiment, ["ticker", "trade_date"], "sentiment")
    daily = sentiment.loc[:, list(REQUIRED_SENTIMENT_COLUMNS)].copy()
    daily["conviction"] = daily["conviction"].astype("float64")
    joined = frame[["ticker", "trade_date"]].merge(daily, on=["ticker", "trade_date"], how="left")
    score = joined["score"].to_numpy(dtype="float64")
    missing = np.isnan(score)
    with np.errstate(invalid="ignore"):
        mentions = np.log1p(joined["mentions"].to_numpy(dtype="float64"))
    values = {
        "sentiment_score": score,
        "sentiment_ma5": joined["score_ma5"].to_numpy(dtype="float64"),
        "sentiment_trend": joined["trend"].to_numpy(dtype="float64"),
        "sentiment_log_mentions": mentions,
        "sentiment_conviction": joined["conviction"].to_numpy(dtype="float64"),
    }
    # No Reddit row is information ("nobody talked about it"), not an unknown: zero-fill and flag it.
    out = {name: np.where(missing | np.isnan(v), 0.0, v) for name, v in values.items()}
    out["sentiment_missing"] = missing.astype("float64")
    return out


def _market_features(trade_dates: pd.Series, market: pd.DataFrame) -> dict[str, np.ndarray]:
    """Index regime features, computed on the index's own sessions, joined as of each trade date."""
    _require_columns(market, REQUIRED_MARKET_COLUMNS, "market")
    _reject_duplicates(market, ["trade_date"], "market")
    index = pd.DataFrame(
        {
            "when": pd.to_datetime(market["trade_date"]),
            "close": market["close"].to_numpy(dtype="float64"),
        }
    ).sort_values("when", kind="stable", ignore_index=True)
    close = index["close"]
    sma = close.rolling(MARKET_SMA_LENGTH, min_periods=MARKET_SMA_LENGTH).mean()
    index["market_above_sma200"] = _flag((close > sma).to_numpy(), sma.to_numpy())
    index["market_ret_20d"] = close / close.shift(MARKET_RETURN_DAYS) - 1.0
    index["market_sma200_gap"] = close / sma - 1.0

    # Join on the distinct dates only, then spread back: far cheaper than an as-of join of every row.
    codes, dates = pd.factorize(trade_dates, sort=True)
    left = pd.DataFrame({"when": pd.to_datetime(pd.Series(dates))})
    joined = pd.merge_asof(
        left, index.drop(columns="close"), on="when", direction="backward", tolerance=MARKET_MAX_STALENESS
    )
    return {c: joined[c].to_numpy(dtype="float64")[codes] for c in MARKET_COLUMNS}


def _validated_prices(prices: pd.DataFrame) -> pd.DataFrame:
    _require_columns(prices, REQUIRED_PRICE_COLUMNS, "prices")
    _reject_duplicates(prices, ["ticker", "trade_date"], "prices")
    return prices.sort_values(["ticker", "trade_date"], kind="stable", ignore_index=True)


def _require_columns(frame: pd.DataFrame, required: Sequence[str], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValidationFailed(
            f"{what} frame lacks column(s) {', '.join(missing)}; expected {', '.join(required)}"
        )


def _reject_duplicates(frame: pd.DataFrame, key: list[str], what: str) -> None:
    dupes = frame.duplicated(key, keep=False)
    if dupes.any():
        shown = frame.loc[dupes, key].drop_duplicates().head(5).to_records(index=False).tolist()
        raise ValidationFailed(
            f"{what} has {int(dupes.sum())} rows with a duplicate {'/'.join(key)}: {shown}"
        )
