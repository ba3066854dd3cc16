"""Feature inputs from the database, storage round trip, and the market-index fallback."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import case, delete, update

from backend.core.errors import DataSourceError
from backend.features import service as feature_service
from backend.features.build import FEATURE_COLUMNS, PER_TICKER_COLUMNS
from backend.features.cross_section import CROSS_SECTION_COLUMNS
from backend.features.models import FeatureRow
from backend.market import service as market_service
from backend.market.models import Ticker
from backend.market.providers import PriceBatch
from backend.pipeline import ml as ml_pipeline
from tests.factories import make_bars


async def test_short_histories_are_skipped_with_a_reason(session):
    await market_service.ingest(
        session=session, batch=PriceBatch("csv", make_bars("LONG", n=400, start=date(2010, 1, 4)))
    )
    await market_service.ingest(
        session=session, batch=PriceBatch("csv", make_bars("NEWB", n=100, start=date(2011, 1, 3)))
    )
    inputs = await feature_service.load_inputs(
        session=session, tickers=["LONG", "NEWB"], start=date(2011, 6, 1), end=date(2011, 7, 29)
    )
    assert set(inputs.prices["ticker"]) == {"LONG"}
    assert "NEWB" in inputs.skipped and "needs at least 230" in inputs.skipped["NEWB"]
    assert inputs.prices["trade_date"].max() <= date(2011, 7, 29)  # nothing after the as-of date
    feats = feature_service.features_between(inputs, date(2011, 6, 1), date(2011, 7, 29))
    assert feats["trade_date"].min() >= date(2011, 6, 1) and len(feats) == 42  # 22 June + 20 July sessions


async def test_store_and_load_round_trip_keeps_nulls(session):
    frame = pd.DataFrame({"ticker": ["AAA", "AAA"], "trade_date": [date(2012, 1, 3), date(2012, 1, 4)]})
    for i, name in enumerate(FEATURE_COLUMNS):
        frame[name] = [float(i), np.nan if i % 5 == 0 else i + 0.5]
    assert await feature_service.store(session=session, features=frame) == 2
    assert await feature_service.store(session=session, features=frame) == 2  # idempotent upsert
    back = await feature_service.load(
        session=session, tickers=["AAA"], start=date(2012, 1, 1), end=date(2012, 12, 31)
    )
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


async def test_market_index_prefers_stored_spy_and_falls_back_to_the_bundled_sp500(session):
    bundled = await feature_service.market_index(
        session=session, start=date(2012, 1, 3), end=date(2012, 3, 1)
    )
    assert bundled["trade_date"].iloc[0] == date(2012, 1, 3) and len(bundled) == 41
    spy = make_bars("SPY", n=50, start=date(2012, 1, 3))
    await market_service.ingest(session=session, batch=PriceBatch("yahoo", spy))
    stored = await feature_service.market_index(session=session, start=date(2012, 1, 3), end=date(2012, 3, 1))
    np.testing.assert_allclose(stored["close"].to_numpy(), spy["adj_close"].iloc[:41].to_numpy())
    with pytest.raises(DataSourceError, match="prices fetch SPY"):
        await feature_service.market_index(session=session, start=date(2025, 1, 2), end=date(2025, 3, 3))


async def test_market_index_without_spy_after_the_bundled_history_is_the_equal_weight_universe(session):
    tickers = [f"EW{i}" for i in range(6)]
    bars = {t: make_bars(t, n=60, start=date(2025, 1, 2), seed=i) for i, t in enumerate(tickers)}
    for frame in bars.values():
        await market_service.ingest(session=session, batch=PriceBatch("csv", frame))
    index = await feature_service.market_index(session=session, start=date(2025, 1, 2), end=date(2025, 3, 3))
    assert index.attrs["source"] == "equal-weight index of 6 stored tickers"
    # By hand: the mean of the six tickers' daily returns, chained from 100.
    closes = pd.DataFrame({t: f.set_index("trade_date")["adj_close"] for t, f in bars.items()})
    closes = closes[closes.index <= date(2025, 3, 3)]
    expected = 100.0 * (1.0 + closes.pct_change().iloc[1:].mean(axis=1)).cumprod()
    assert list(index["trade_date"]) == list(expected.index)
    np.testing.assert_allclose(index["close"].to_numpy(), expected.to_numpy(), rtol=1e-9)

    inputs = await feature_service.load_inputs(
        session=session, tickers=[], start=date(2025, 3, 3), end=date(2025, 3, 3)
    )
    assert inputs.market_source == "equal-weight index of 6 stored tickers"


async def test_ticker_batches_completed_over_the_day_equal_one_pass_over_every_ticker(session):
    """The fanned-out features step: batches store the per-ticker columns, then `complete_day` ranks the
    day's rows; the values equal one `store_features` over all tickers."""
    sectors = {"TA": "Tech", "TB": "Tech", "TC": "Tech", "TD": "Tech", "EA": "Energy", "EB": "Energy",
               "EC": "Energy", "UA": None, "UB": None}  # fmt: skip
    for seed, ticker in enumerate(sectors):
        bars = make_bars(ticker, n=300, start=date(2011, 1, 3), seed=seed % 8)  # UB walks like TA
        await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    short = make_bars("NEWB", n=100, start=date(2011, 10, 3), seed=20)
    await market_service.ingest(session=session, batch=PriceBatch("csv", short))
    await session.execute(
        update(Ticker)
        .where(Ticker.symbol.in_(list(sectors)))
        .values(sector=case(sectors, value=Ticker.symbol, else_=None))
    )
    tickers = [*sectors, "NEWB"]
    day = short["trade_date"].iloc[-1]

    whole = await ml_pipeline.store_features(session=session, as_of=day, tickers=tickers)
    expected = await feature_service.load(session=session, tickers=tickers, start=day, end=day)
    assert whole.rows == 9 and set(whole.skipped) == {"NEWB"}
    await session.execute(delete(FeatureRow).where(FeatureRow.trade_date == day))

    # A row of this day from an earlier run for a ticker outside this universe: not ranked in, not touched.
    stale = expected[expected["ticker"] == "UA"].assign(ticker="OLD")
    await feature_service.store(session=session, features=stale)
    stored: list[str] = []
    for part in (["EA", "EB", "NEWB"], ["EC", "TA", "TB", "TC"], ["TD", "UA", "UB"]):
        out = await ml_pipeline.store_features(session=session, as_of=day, tickers=part, cross_section=False)
        stored += sorted(set(part) - set(out.skipped))
    partial = await feature_service.load(session=session, tickers=stored, start=day, end=day)
    assert partial[list(CROSS_SECTION_COLUMNS)].isna().all().all()  # the day's ranks need every ticker
    assert partial[list(PER_TICKER_COLUMNS)].notna().all().all()

    assert await feature_service.complete_day(session=session, day=day, tickers=stored) == 9
    got = await feature_service.load(session=session, tickers=stored, start=day, end=day)
    assert list(got["ticker"]) == list(expected["ticker"])
    # Equal to the last bit: the same inputs, rolled per ticker, ranked over the same rows in the same order.
    np.testing.assert_array_equal(
        got[list(FEATURE_COLUMNS)].to_numpy(), expected[list(FEATURE_COLUMNS)].to_numpy()
    )
    assert frame_ties(got, "TA", "UB")  # two tickers with the same history tie in every rank
    # By hand: ranks among the 9 tickers, returns against the day's mean and the sector's (Tech: 4 stocks;
    # Energy: 3; no sector: the market).
    frame = got.set_index("ticker")
    ret = frame["ret_1d"]
    assert frame["xs_rank_ret_1d"].to_dict() == pytest.approx(((ret.rank() - 0.5) / 9).to_dict(), abs=0)
    market = frame["ret_20d"].mean()
    assert frame["ret_20d_vs_market"].to_numpy() == pytest.approx((frame["ret_20d"] - market).to_numpy())
    tech = frame.loc[["TA", "TB", "TC", "TD"], "ret_5d"]
    assert frame.loc["TB", "ret_5d_vs_sector"] == pytest.approx(tech["TB"] - tech.mean())
    assert frame.loc["UB", "ret_5d_vs_sector"] == pytest.approx(frame.loc["UB", "ret_5d_vs_market"])
    old = await feature_service.load(session=session, tickers=["OLD"], start=day, end=day)
    pd.testing.assert_frame_equal(old, stale.reset_index(drop=True))


def frame_ties(features: pd.DataFrame, a: str, b: str) -> bool:
    rows = features.set_index("ticker").loc[[a, b], ["xs_rank_volatility", "xs_rank_volume_z", "xs_rank_rsi"]]
    return bool((rows.iloc[0] == rows.iloc[1]).all())
