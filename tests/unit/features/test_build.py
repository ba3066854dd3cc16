"""Point-in-time features: no lookahead, hand-checked values, the as-of market join and the NaN guard."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from backend.core.errors import ValidationFailed
from backend.features.build import (
    FEATURE_COLUMNS,
    SENTIMENT_COLUMNS,
    build_features,
    check_finite,
    usable_rows,
)
from backend.features.market_index import load_sample_index
from backend.market.indicators import compute_indicators
from tests.factories import make_bars


def with_indicators(bars: pd.DataFrame) -> pd.DataFrame:
    """Bars plus the real stored indicators, computed per ticker on the rows given (as ingestion does)."""
    parts = []
    for _, one in bars.groupby("ticker", sort=True):
        one = one.sort_values("trade_date", ignore_index=True)
        parts.append(pd.concat([one, compute_indicators(one)], axis=1))
    return pd.concat(parts, ignore_index=True)


def split_two_for_one(bars: pd.DataFrame, at: int) -> pd.DataFrame:
    """As-traded prices twice as high before row `at` (a 2:1 split), adj_close on today's scale."""
    bars = bars.copy()
    before = bars.index < at
    for col in ("open", "high", "low", "close"):
        bars.loc[before, col] = bars.loc[before, col] * 2
    bars.loc[before, "volume"] = bars.loc[before, "volume"] // 2
    return bars


def raw_history() -> pd.DataFrame:
    return pd.concat(
        [
            make_bars("AAA", n=420, start=date(2010, 1, 4), seed=1),
            split_two_for_one(make_bars("BBB", n=420, start=date(2010, 1, 4), seed=2, price=40.0), at=300),
            make_bars("CCC", n=300, start=date(2010, 7, 1), seed=3, vol=0.03),
        ],
        ignore_index=True,
    )


def sentiment_for(bars: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = bars.loc[rng.random(len(bars)) < 0.4, ["ticker", "trade_date"]].reset_index(drop=True)
    rows["score"] = rng.uniform(-1, 1, len(rows))
    rows["score_ma5"] = rows.groupby("ticker")["score"].transform(
        lambda s: s.rolling(5, min_periods=1).mean()
    )
    rows["trend"] = rows["score"] - rows["score_ma5"]
    rows["mentions"] = rng.integers(1, 40, len(rows))
    rows["conviction"] = rows["mentions"] >= 10
    return rows


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    return load_sample_index()


def test_features_at_t_use_only_history_up_to_t(market: pd.DataFrame) -> None:
    raw = raw_history()
    sentiment = sentiment_for(raw)
    full = build_features(with_indicators(raw), sentiment, market).set_index(["ticker", "trade_date"])

    all_dates = sorted(raw["trade_date"].unique())
    picks = [all_dates[i] for i in np.linspace(5, len(all_dates) - 1, 25).astype(int)]
    compared = finite = 0
    for t in picks:
        history = raw[raw["trade_date"] <= t]
        truncated = build_features(
            with_indicators(history),
            sentiment[sentiment["trade_date"] <= t],
            market[market["trade_date"] <= t],
        )
        at_t = truncated[truncated["trade_date"] == t].set_index(["ticker", "trade_date"])
        assert len(at_t) == history.loc[history["trade_date"] == t, "ticker"].nunique()
        expected = full.loc[at_t.index, list(FEATURE_COLUMNS)].to_numpy()
        got = at_t[list(FEATURE_COLUMNS)].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9, equal_nan=True, err_msg=f"date {t}")
        compared += got.size
        finite += int(np.isfinite(got).all(axis=1).sum())
    # The comparison must cover complete feature rows (after SMA 200 warm-up), not just NaN warm-up.
    assert compared > 25 * 2 * len(FEATURE_COLUMNS)
    assert finite >= 15


def one_ticker(n: int = 60, seed: int = 5) -> pd.DataFrame:
    return with_indicators(make_bars("ONE", n=n, start=date(2012, 3, 1), seed=seed))


def row_of(features: pd.DataFrame, i: int) -> pd.Series:
    return features.sort_values("trade_date", ignore_index=True).iloc[i]


def test_price_features_match_an_independent_computation(market: pd.DataFrame) -> None:
    prices = one_ticker()
    features = build_features(prices, None, market)
    i = 55
    adj = prices["adj_close"].to_numpy()
    got = row_of(features, i)
    for days in (1, 5, 10, 20):
        assert got[f"ret_{days}d"] == pytest.approx(adj[i] / adj[i - days] - 1, abs=1e-12)
    log_returns = [np.log(adj[k] / adj[k - 1]) for k in range(i - 19, i + 1)]
    assert got["volatility_20d"] == pytest.approx(np.std(log_returns, ddof=1), abs=1e-12)

    log_volume = np.log1p(prices["volume"].to_numpy(dtype=float))
    baseline = log_volume[i - 20 : i]
    expected_z = (log_volume[i] - baseline.mean()) / baseline.std(ddof=1)
    assert got["volume_z"] == pytest.approx(expected_z, abs=1e-9)

    # Wilder's ATR as TA-Lib seeds it: the mean of the first 14 true ranges, then (13 * prev + TR) / 14.
    high, low, close = (prices[c].to_numpy() for c in ("high", "low", "close"))
    true_range = [
        max(high[k] - low[k], abs(high[k] - close[k - 1]), abs(low[k] - close[k - 1]))
        for k in range(1, len(prices))
    ]
    atr = float(np.mean(true_range[:14]))
    for k in range(15, i + 1):
        atr = (atr * 13 + true_range[k - 1]) / 14
    assert got["atr_pct"] == pytest.approx(atr / close[i], abs=1e-12)

    indicators = prices.iloc[i]
    assert got["rsi"] == pytest.approx(indicators["rsi_14"] / 100)
    assert got["close_sma50"] == pytest.approx(indicators["close"] / indicators["sma_50"] - 1)
    assert got["bb_pct_b"] == pytest.approx(
        (indicators["close"] - indicators["bb_lower"]) / (indicators["bb_upper"] - indicators["bb_lower"])
    )
    assert got["macd_hist_pct"] == pytest.approx(indicators["macd_hist"] / indicators["close"])
    # SMA 200 is still warming up on 60 bars: the features built on it stay undefined, not 0.
    assert np.isnan(got["close_sma200"]) and np.isnan(got["golden_cross"])


def test_a_split_is_not_a_crash(market: pd.DataFrame) -> None:
    bars = make_bars("SPL", n=80, start=date(2012, 3, 1), seed=9)
    bars["volume"] = bars["volume"] // 2 * 2  # even, so the pre-split volume halves exactly
    plain, split = with_indicators(bars), with_indicators(split_two_for_one(bars, at=50))
    a, b = build_features(plain, None, market), build_features(split, None, market)
    # As-traded close halves at row 50, yet every price feature equals the unsplit history's.
    assert split["close"].iloc[49] / split["close"].iloc[50] > 1.8
    cols = ["ret_1d", "ret_5d", "ret_20d", "volatility_20d", "atr_pct", "volume_z", "close_sma50", "bb_pct_b"]
    np.testing.assert_allclose(b[cols].to_numpy(), a[cols].to_numpy(), atol=1e-9, equal_nan=True)


def hand_made_indicators() -> pd.DataFrame:
    """Three days of one ticker with chosen indicator values, for the flags."""
    frame = make_bars("FLG", n=3, start=date(2012, 3, 1), seed=1)
    frame["close"] = [100.0, 100.0, 100.0]
    frame["adj_close"] = frame["close"]
    frame = frame.assign(
        rsi_14=[25.0, 50.0, 75.0],
        macd=[1.0, 0.5, 2.0],
        macd_signal=[0.5, 1.0, 1.0],
        macd_hist=[0.5, -0.5, 1.0],
        bb_upper=[105.0, 99.0, np.nan],
        bb_middle=[100.0, 97.0, np.nan],
        bb_lower=[95.0, 95.0, np.nan],
        sma_50=[90.0, 110.0, 100.0],
        sma_200=[80.0, 120.0, np.nan],
        ema_12=np.nan,
        ema_26=np.nan,
        volume_ratio=[2.5, 1.0, np.nan],
    )
    return frame


def test_flags_follow_their_rules_and_stay_undefined_without_input(market: pd.DataFrame) -> None:
    f = build_features(hand_made_indicators(), None, market)
    assert f["rsi_oversold"].tolist() == [1.0, 0.0, 0.0]
    assert f["rsi_overbought"].tolist() == [0.0, 0.0, 1.0]
    assert f["macd_above_signal"].tolist() == [1.0, 0.0, 1.0]
    # Day 1 has no yesterday; day 2 crossed down; day 3 crossed back up.
    np.testing.assert_array_equal(f["macd_bear_cross"], [np.nan, 1.0, 0.0])
    np.testing.assert_array_equal(f["macd_bull_cross"], [np.nan, 0.0, 1.0])
    np.testing.assert_array_equal(f["golden_cross"], [1.0, 0.0, np.nan])
    np.testing.assert_array_equal(f["bb_breakout"], [0.0, 1.0, np.nan])
    np.testing.assert_array_equal(f["bb_breakdown"], [0.0, 0.0, np.nan])
    np.testing.assert_array_equal(f["volume_spike"], [1.0, 0.0, np.nan])
    np.testing.assert_allclose(f["bb_pct_b"], [0.5, 1.25, np.nan])
    np.testing.assert_allclose(f["close_sma200"], [0.25, 100 / 120 - 1, np.nan])


def test_sentiment_is_joined_by_date_and_missing_days_are_flagged(market: pd.DataFrame) -> None:
    prices = hand_made_indicators()
    days = prices["trade_date"].tolist()
    sentiment = pd.DataFrame(
        {
            "ticker": ["FLG", "FLG", "OTHER"],
            "trade_date": [days[1], days[2], days[0]],
            "score": [0.4, -0.2, 0.9],
            "score_ma5": [0.4, 0.1, 0.9],
            "trend": [0.0, -0.3, 0.0],
            "mentions": [3, 12, 50],
            "conviction": [False, True, True],
        }
    )
    f = build_features(prices, sentiment, market)
    assert f["sentiment_missing"].tolist() == [1.0, 0.0, 0.0]
    assert f["sentiment_score"].tolist() == [0.0, 0.4, -0.2]
    assert f["sentiment_ma5"].tolist() == [0.0, 0.4, 0.1]
    assert f["sentiment_trend"].tolist() == [0.0, 0.0, -0.3]
    assert f["sentiment_log_mentions"].tolist() == pytest.approx([0.0, np.log(4), np.log(13)])
    assert f["sentiment_conviction"].tolist() == [0.0, 0.0, 1.0]

    without = build_features(prices, None, market)
    assert without["sentiment_missing"].tolist() == [1.0, 1.0, 1.0]
    assert (without[[c for c in SENTIMENT_COLUMNS if c != "sentiment_missing"]] == 0).all().all()


def test_market_value_for_t_is_the_last_index_close_on_or_before_t(market: pd.DataFrame) -> None:
    prices = one_ticker(n=30)
    day = prices["trade_date"].iloc[20]
    index = market[market["trade_date"] <= date(2013, 1, 1)].reset_index(drop=True)
    gappy = index[index["trade_date"] != day].reset_index(drop=True)
    previous = gappy[gappy["trade_date"] < day].iloc[-1]
    assert previous["trade_date"] == prices["trade_date"].iloc[19]

    got = row_of(build_features(prices, None, gappy), 20)
    closes = gappy.loc[gappy["trade_date"] <= previous["trade_date"], "close"].to_numpy()
    sma200 = closes[-200:].mean()
    assert got["market_ret_20d"] == pytest.approx(closes[-1] / closes[-21] - 1, abs=1e-12)
    assert got["market_sma200_gap"] == pytest.approx(closes[-1] / sma200 - 1, abs=1e-12)
    assert got["market_above_sma200"] == float(closes[-1] > sma200)
    # With the day present, its own close is used instead (so the gap above really mattered).
    own = row_of(build_features(prices, None, index), 20)
    assert own["market_ret_20d"] != pytest.approx(got["market_ret_20d"])


def test_a_stale_market_index_is_missing_not_reused(market: pd.DataFrame) -> None:
    prices = one_ticker(n=30)
    cutoff = prices["trade_date"].iloc[10]
    f = build_features(prices, None, market[market["trade_date"] <= cutoff])
    dates = f["trade_date"]
    assert f.loc[dates <= cutoff, "market_ret_20d"].notna().all()
    # More than a week without an index close: undefined, so those rows are not usable.
    far = dates > cutoff + pd.Timedelta(days=7)
    assert far.any() and f.loc[far, "market_ret_20d"].isna().all()


def clean_features(market: pd.DataFrame) -> pd.DataFrame:
    prices = with_indicators(
        pd.concat(
            [make_bars(t, n=260, start=date(2012, 1, 3), seed=s) for s, t in enumerate(("IBM", "MSFT"))],
            ignore_index=True,
        )
    )
    features = build_features(prices, None, market)
    return features[usable_rows(features)].reset_index(drop=True)


def test_check_finite_names_ticker_feature_and_date(market: pd.DataFrame) -> None:
    features = clean_features(market)
    assert len(features) > 50 and set(features["ticker"]) == {"IBM", "MSFT"}
    check_finite(features)  # a clean frame passes

    msft = features.index[features["ticker"] == "MSFT"]
    features.loc[msft[3], "rsi"] = np.nan
    features.loc[msft[7], "volume_z"] = np.inf
    with pytest.raises(ValidationFailed) as caught:
        check_finite(features)
    message = str(caught.value)
    assert "MSFT rsi" in message and str(features.loc[msft[3], "trade_date"]) in message
    assert "MSFT volume_z" in message and str(features.loc[msft[7], "trade_date"]) in message
    assert "IBM" not in message
    assert usable_rows(features).sum() == len(features) - 2


def test_usable_rows_excludes_the_warm_up(market: pd.DataFrame) -> None:
    features = build_features(one_ticker(n=260), None, market)
    usable = usable_rows(features)
    # SMA 200 is defined from row 199; the 20-day volume baseline and returns are defined long before.
    assert not usable.iloc[:199].any() and usable.iloc[199:].all()


def test_bad_input_is_rejected_with_the_problem_named(market: pd.DataFrame) -> None:
    prices = hand_made_indicators()
    with pytest.raises(ValidationFailed, match="sma_200"):
        build_features(prices.drop(columns="sma_200"), None, market)
    with pytest.raises(ValidationFailed, match="duplicate"):
        build_features(pd.concat([prices, prices.iloc[:1]]), None, market)
    with pytest.raises(ValidationFailed, match="market frame lacks column"):
        build_features(prices, None, market.rename(columns={"close": "price"}))


def test_a_ticker_with_an_undefined_return_stays_out_of_the_days_ranks_and_means(
    market: pd.DataFrame,
) -> None:
    bars = with_indicators(raw_history())
    ccc = bars.index[bars["ticker"] == "CCC"]
    # A broken bar (a zero close): CCC's 5-day return 5 sessions later divides by zero.
    bars.loc[ccc[100], ["close", "adj_close"]] = 0.0
    day = bars.loc[ccc[105], "trade_date"]
    features = build_features(bars, None, market)
    today = features[features["trade_date"] == day].set_index("ticker")
    assert np.isnan(today.loc["CCC", "ret_5d"])  # undefined, not infinite
    # The market's mean is that of the two defined returns, not poisoned by CCC's: by hand.
    mean = today.loc[["AAA", "BBB"], "ret_5d"].mean()
    assert today.loc["AAA", "ret_5d_vs_market"] == pytest.approx(today.loc["AAA", "ret_5d"] - mean)
    assert today.loc[["AAA", "BBB"], "xs_rank_ret_5d"].tolist() in ([0.25, 0.75], [0.75, 0.25])
    assert np.isnan(today.loc["CCC", "xs_rank_ret_5d"])


def test_a_ticker_gets_the_same_features_whichever_tickers_share_its_frame(market: pd.DataFrame) -> None:
    bars = with_indicators(raw_history())
    alone = build_features(bars[bars["ticker"] == "BBB"], None, market)
    together = build_features(bars, None, market)
    together = together[together["ticker"] == "BBB"].reset_index(drop=True)
    per_ticker = [c for c in FEATURE_COLUMNS if not c.startswith(("xs_", "ret_5d_vs", "ret_20d_vs"))]
    # To the last bit: the trailing windows roll over the ticker's own rows only.
    pd.testing.assert_frame_equal(
        alone[["trade_date", *per_ticker]], together[["trade_date", *per_ticker]], check_exact=True
    )
