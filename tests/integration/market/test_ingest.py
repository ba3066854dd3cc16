"""Price ingestion on the real databases: upserts, lookback, NULLs, the ticker universe."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.market import service as market_service
from backend.market.indicators import compute_indicators
from backend.market.models import INDICATOR_COLUMNS, StockPrice, Ticker
from backend.market.providers import PriceBatch, SampleProvider
from backend.market.symbols import TickerInfo
from tests.factories import make_bars


async def count_prices(session, ticker=None) -> int:
    q = select(func.count()).select_from(StockPrice)
    if ticker:
        q = q.where(StockPrice.ticker == ticker)
    return (await session.execute(q)).scalar_one()


async def test_ingest_is_idempotent(session):
    bars = make_bars("ABC", n=260)
    first = await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    assert first.by_group["ABC"].inserted == 260
    again = await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    assert (again.by_group["ABC"].inserted, again.by_group["ABC"].updated) == (0, 0)
    assert again.by_group["ABC"].unchanged == 260
    assert await count_prices(session, "ABC") == 260


async def test_undefined_indicators_are_null_in_the_database(session):
    await market_service.ingest(session=session, batch=PriceBatch("csv", make_bars("NUL", n=250)))
    stored = await market_service.load_bars(session=session, tickers=["NUL"])
    assert stored["sma_200"].iloc[:199].isna().all()
    assert stored["sma_200"].iloc[199:].notna().all()
    nulls = (
        await session.execute(
            select(func.count()).where(StockPrice.ticker == "NUL", StockPrice.sma_200.is_(None))
        )
    ).scalar_one()
    assert nulls == 199


async def test_incremental_day_uses_stored_lookback_and_matches_full_history(session):
    bars = make_bars("INC", n=700, seed=7)
    await market_service.ingest(session=session, batch=PriceBatch("csv", bars.iloc[:-1]))
    last = await market_service.ingest(session=session, batch=PriceBatch("yahoo", bars.iloc[-1:]))
    assert last.by_group["INC"].inserted == 1
    stored = await market_service.load_bars(session=session, tickers=["INC"])
    expected = compute_indicators(bars)
    for col in INDICATOR_COLUMNS:
        np.testing.assert_allclose(stored[col].iloc[-1], expected[col].iloc[-1], rtol=1e-9, err_msg=col)


async def test_corrected_bar_updates_later_indicators(session):
    bars = make_bars("COR", n=300, seed=5)
    await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    fixed = bars.iloc[[250]].copy()
    fixed[["open", "high", "low", "close", "adj_close"]] *= 1.10
    result = await market_service.ingest(session=session, batch=PriceBatch("csv", fixed))
    counts = result.by_group["COR"]
    assert counts.inserted == 0
    assert counts.updated == 50  # the bar itself and the 49 after it whose indicators moved
    stored = await market_service.load_bars(session=session, tickers=["COR"])
    full = bars.copy()
    full.iloc[250, 2:7] = fixed.iloc[0, 2:7]
    np.testing.assert_allclose(stored["sma_50"], compute_indicators(full)["sma_50"], rtol=1e-9)


async def test_sample_history_loads(session):
    batch = SampleProvider().fetch()
    result = await market_service.ingest(session=session, batch=batch, ticker_source="sample")
    assert result.totals().inserted == 12154
    aapl = await market_service.load_bars(session=session, tickers=["AAPL"], start=date(2013, 3, 1))
    assert aapl.loc[0, "close"] == 430.47
    # 2:1 split on 2000-06-21: the stored SMA 50 follows the as-traded price instead of halving.
    around = await market_service.load_bars(
        session=session, tickers=["AAPL"], start=date(2000, 6, 20), end=date(2000, 6, 21)
    )
    ratio = around["close"] / around["sma_50"]
    assert abs(ratio.iloc[0] - ratio.iloc[1]) < 0.2
    assert (await session.get(Ticker, "AAPL")).source == "sample"


async def test_seed_universe_sets_sectors_and_keeps_user_sources(session):
    await market_service.ensure_tickers(session=session, symbols=["AAPL"], source="watchlist")
    n = (await market_service.seed_universe(session=session)).total
    assert n > 5000
    aapl = await session.get(Ticker, "AAPL")
    await session.refresh(aapl)
    assert aapl.sector == "Information Technology" and aapl.source == "watchlist"
    brk = await session.get(Ticker, "BRK.B")
    assert brk is not None and brk.sector == "Financials"
    sectors = (
        await session.execute(select(func.count()).select_from(Ticker).where(Ticker.sector.is_not(None)))
    ).scalar_one()
    assert sectors / n > 0.9


async def test_seed_with_explicit_infos(session):
    await market_service.seed_universe(
        session=session, infos=[TickerInfo("ZZZ", "Zed Corp", "Energy", "Oil", "NYSE")]
    )
    known = await market_service.known_symbols(session=session)
    assert "ZZZ" in known


async def test_bad_bar_violates_a_check_and_writes_nothing(session):
    bars = make_bars("CHK", n=5)
    bars.loc[4, "low"] = bars.loc[4, "high"] + 1  # bypasses the CSV checks: the database refuses it
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    assert await count_prices(session, "CHK") == 0


def test_frame_sanity():
    assert isinstance(make_bars(n=3), pd.DataFrame)
