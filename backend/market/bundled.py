"""The bundled offline history: 505 S&P 500 stocks, 2013-02 to 2018-02 (backend/market/data/README.md).

Facts with attribution: Cam Nugent's "S&P 500 stock data" (CC0 / MIT), prices from IEX, GICS sectors from
the public-domain datasets/s-and-p-500-companies list. Membership of February 2018 applied backwards, so
anything measured on it carries survivorship bias.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession

from backend.market import service as market_service
from backend.market.providers import BAR_FRAME_COLUMNS, PriceBatch
from backend.market.symbols import TickerInfo

DATA_DIR = Path(__file__).parent / "data"
PRICES = DATA_DIR / "sp500_2013_2018.csv.gz"
SECTORS = DATA_DIR / "sp500_2013_2018.sectors.csv"
SOURCE = "sp500_2013_2018"
CHUNK_TICKERS = 50  # bounds memory: the staging rows of 619,028 bars at once took 1.9 GB
ATTRIBUTION = (
    "505 S&P 500 stocks 2013-02-08..2018-02-07: Cam Nugent's 'S&P 500 stock data' (CC0; MIT repository "
    "CNuge/kaggle-code), data provided for free by IEX; GICS sectors from datasets/s-and-p-500-companies. "
    "Members of February 2018 applied backwards: survivorship bias."
)


def load_prices() -> PriceBatch:
    """All 619,028 bars (split-adjusted, no dividends: adj_close = close)."""
    raw = pd.read_csv(PRICES, dtype={"ticker": "str", "volume": "int64"})
    raw["trade_date"] = pd.to_datetime(raw["date"], format="%Y-%m-%d").dt.date
    raw["adj_close"] = raw["close"]
    return PriceBatch(SOURCE, raw[BAR_FRAME_COLUMNS])


def ticker_infos() -> list[TickerInfo]:
    """Names and GICS sectors of the 505 tickers."""
    frame = pd.read_csv(SECTORS, dtype=str)
    return [
        TickerInfo(symbol=t, name=n, sector=s, industry=None, exchange=None)
        for t, n, s in frame[["ticker", "name", "gics_sector"]].itertuples(index=False)
    ]


async def load_history(
    *, session: AsyncSession, batch: PriceBatch, progress: Callable[[int], None] | None = None
) -> market_service.IngestResult:
    """Store the tickers with names and sectors, then the bars with indicators and the data-quality
    check, in chunks of tickers inside the caller's one transaction (all or nothing)."""
    await market_service.seed_universe(session=session, infos=ticker_infos())
    total = market_service.IngestResult()
    tickers = sorted(batch.bars["ticker"].unique())
    for i in range(0, len(tickers), CHUNK_TICKERS):
        chunk = batch.bars[batch.bars["ticker"].isin(tickers[i : i + CHUNK_TICKERS])]
        part = await market_service.ingest(
            session=session, batch=PriceBatch(batch.source, chunk), ticker_source="sample", progress=progress
        )
        total.by_group.update(part.by_group)
        for kind, n in part.flags.items():
            total.flags[kind] = total.flags.get(kind, 0) + n
    return total
