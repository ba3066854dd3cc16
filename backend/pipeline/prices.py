"""After-close prices: the watchlist, held and trending tickers from the configured provider, stored with
indicators. The CLI (`prices fetch` without tickers) and the scheduled task share it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from backend.core.errors import DataSourceError, ValidationFailed
from backend.core.settings import get_settings
from backend.db.engine import transaction
from backend.market import service as market_service
from backend.market.providers import PriceProvider, SampleProvider
from backend.portfolio import service as portfolio_service

# A week of sessions back: bars Yahoo corrected after a close (and a missed day) are picked up.
REFETCH_DAYS = 10


@dataclass
class PricesOutcome:
    tickers: int
    inserted: int
    updated: int
    unchanged: int
    errors: dict[str, str] = field(default_factory=dict)


def provider() -> PriceProvider:
    """The configured price provider (`TASKS__PRICE_PROVIDER`): Yahoo, or the bundled sample offline."""
    if get_settings().tasks.price_provider == "sample":
        return SampleProvider()
    from backend.market.yahoo import YahooProvider  # yfinance is heavy: only where it is used

    return YahooProvider()


def history_window(
    *, start: date | None, end: date | None, today: date | None = None
) -> tuple[date, date | None]:
    """The range a history fetch asks for: `start` (default `MARKET__DEFAULT_HISTORY_DAYS` before today) to
    `end` (None: up to the provider's last settled session, which also caps any later end)."""
    first = start or (today or date.today()) - timedelta(days=get_settings().market.default_history_days)
    if end is not None and end < first:
        raise ValidationFailed(f"--end {end} is before --start {first}")
    return first, end


async def universe() -> list[str]:
    """Watchlist, trending, imported and sample tickers, the market index and the live holdings."""
    async with transaction() as session:
        held = await portfolio_service.held_tickers(session=session)
        return await market_service.fetch_universe(session=session, extra=held)


async def fetch_after_close(
    *, as_of: date, tickers: Sequence[str] | None = None, source: PriceProvider | None = None
) -> PricesOutcome:
    """Fetch and store the bars up to `as_of` for `tickers` (default: the after-close universe)."""
    symbols = list(tickers) if tickers else await universe()
    source = source or provider()
    batch = await asyncio.to_thread(source.fetch, symbols, as_of - timedelta(days=REFETCH_DAYS), as_of)
    if batch.bars.empty or not (batch.bars["trade_date"] == as_of).any():
        why = "; ".join(f"{t}: {e}" for t, e in sorted(batch.errors.items())[:5])
        raise DataSourceError(
            f"no bar for {as_of.isoformat()} from {batch.source} for any of {len(symbols)} tickers"
            + (f" ({why})" if why else "")
        )
    async with transaction() as session:
        result = await market_service.ingest(session=session, batch=batch, ticker_source="watchlist")
    total = result.totals()
    return PricesOutcome(len(symbols), total.inserted, total.updated, total.unchanged, dict(batch.errors))
