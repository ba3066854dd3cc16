"""`tft-trader db`, `tickers` and `prices`: schema, universe and price ingestion."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from backend.cli.common import console, err, fail, parse_date, progress_bar, run, safe_url
from backend.core.errors import TFTError
from backend.core.settings import get_settings
from backend.db import migrate
from backend.db.engine import transaction
from backend.db.upsert import UpsertResult
from backend.market import service as market_service
from backend.market.providers import CsvProvider, PriceBatch, SampleProvider
from backend.market.symbols import normalize_symbols
from backend.market.yahoo import YahooProvider
from backend.pipeline import prices as prices_pipeline

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
prices_app = typer.Typer(help="Daily prices and indicators.", no_args_is_help=True)
tickers_app = typer.Typer(help="The ticker universe.", no_args_is_help=True)


# --- db -------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema (creates the SQLite file if needed)."""
    migrate.upgrade(revision=revision)
    console.print(f"database at [bold]{revision}[/bold]: {safe_url()}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")] = "-1") -> None:
    """Migrate the database down (default: one revision)."""
    migrate.downgrade(revision=revision)
    console.print(f"database downgraded to [bold]{revision}[/bold]: {safe_url()}")


# --- tickers --------------------------------------------------------------------------------------


@tickers_app.command("seed")
def tickers_seed() -> None:
    """Load S&P 500 and NASDAQ-100 names with sectors (offline data from pytickersymbols)."""

    async def flow() -> int:
        async with transaction() as session:
            return await market_service.seed_universe(session=session)

    console.print(f"seeded {run(flow)} tickers")


# --- prices ---------------------------------------------------------------------------------------


def _ingest(batch: PriceBatch, ticker_source: str) -> UpsertResult:
    async def flow() -> UpsertResult:
        n = batch.bars["ticker"].nunique() if not batch.bars.empty else 0
        with progress_bar(f"indicators + upsert ({batch.source})", n) as advance:
            async with transaction() as session:
                return await market_service.ingest(
                    session=session, batch=batch, ticker_source=ticker_source, progress=advance
                )

    return run(flow)


def _report(batch: PriceBatch, result: UpsertResult) -> None:
    table = Table("ticker", "inserted", "updated", "unchanged", title=f"prices from {batch.source}")
    for ticker, c in sorted(result.by_group.items()):
        table.add_row(ticker, str(c.inserted), str(c.updated), str(c.unchanged))
    total = result.totals()
    table.add_section()
    table.add_row("total", str(total.inserted), str(total.updated), str(total.unchanged))
    console.print(table)
    for ticker, why in sorted(batch.errors.items()):
        err.print(f"[yellow]{ticker}[/yellow]: {why}", highlight=False)
    if batch.rejected:
        err.print(f"[yellow]{len(batch.rejected)} row(s) rejected:[/yellow]")
        for p in batch.rejected:
            err.print(f"  line {p.line}: {p.message}", highlight=False, markup=False)


@prices_app.command("import")
def prices_import(
    path: Annotated[Path, typer.Argument(help="CSV: ticker,date,open,high,low,close,volume[,adj_close]")],
    skip_invalid: Annotated[
        bool, typer.Option(help="Import the valid rows and report the rejected ones.")
    ] = False,
) -> None:
    """Import daily bars from a CSV file (one transaction: a bad row means nothing is written)."""
    try:
        batch = CsvProvider(path, skip_invalid=skip_invalid).fetch()
    except TFTError as exc:
        raise fail(exc) from None
    _report(batch, _ingest(batch, "import"))


@prices_app.command("fetch")
def prices_fetch(
    tickers: Annotated[
        list[str] | None,
        typer.Argument(help="Symbols, e.g. AAPL MSFT BRK.B; none: the watchlist, held and trending tickers"),
    ] = None,
    start: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD); default 5 years ago.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date (YYYY-MM-DD); default today.")] = None,
) -> None:
    """Download daily bars from Yahoo Finance and store them with indicators."""
    try:
        # The same selection the scheduled after-close fetch uses (backend/pipeline/prices.py).
        symbols = normalize_symbols(tickers) if tickers else run(prices_pipeline.universe)
        first = parse_date(start, "--start") or date.today() - timedelta(
            days=get_settings().market.default_history_days
        )
        last = parse_date(end, "--end")
        if last and last < first:
            raise typer.BadParameter(f"--end {last} is before --start {first}")
        batch = YahooProvider().fetch(symbols, first, last)
    except TFTError as exc:
        raise fail(exc) from None
    result = _ingest(batch, "watchlist")
    _report(batch, result)
    if batch.errors and not result.by_group:
        raise typer.Exit(1)


@prices_app.command("load-sample")
def prices_load_sample() -> None:
    """Load the bundled public-domain daily history (AAPL, GOOG, IBM, MSFT, FB; 2000 to March 2013)."""
    batch = SampleProvider().fetch()
    _report(batch, _ingest(batch, "sample"))
