"""`tft-trader db`, `tickers` and `prices`: schema, universe and price ingestion."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from backend.cli.common import console, err, fail, parse_date, progress_bar, run, safe_url

if TYPE_CHECKING:
    from backend.db.upsert import UpsertResult
    from backend.market.providers import PriceBatch

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
prices_app = typer.Typer(help="Daily prices and indicators.", no_args_is_help=True)
tickers_app = typer.Typer(help="The ticker universe.", no_args_is_help=True)


# --- db -------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database to the newest schema (creates the SQLite file if needed)."""
    from backend.db import migrate

    migrate.upgrade(revision=revision)
    console.print(f"database at [bold]{revision}[/bold]: {safe_url()}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or 'base'.")] = "-1") -> None:
    """Migrate the database down (default: one revision)."""
    from backend.cli.errors import require_database
    from backend.db import migrate

    require_database()
    migrate.downgrade(revision=revision)
    console.print(f"database downgraded to [bold]{revision}[/bold]: {safe_url()}")


# --- tickers --------------------------------------------------------------------------------------


@tickers_app.command("seed")
def tickers_seed() -> None:
    """Load the bundled US listing (NASDAQ, NYSE, NYSE American; 2026-08-22) and widely traded ETFs."""
    from backend.db.engine import transaction
    from backend.market import service as market_service
    from backend.market.universe import bundled_universe

    infos, skipped = bundled_universe()

    async def flow() -> market_service.SeedResult:
        with progress_bar("tickers", len(infos)) as advance:
            async with transaction() as session:
                return await market_service.seed_universe(session=session, infos=infos, progress=advance)

    result = run(flow)
    etfs = sum(t.asset_type == "etf" for t in infos)
    console.print(
        f"seeded {result.total:,} tickers ({len(infos) - etfs:,} stocks, {etfs} ETFs): "
        f"{result.inserted:,} new, {result.updated:,} already known (refreshed); "
        f"{skipped:,} warrants/units/rights/preferreds skipped"
    )


@tickers_app.command("refresh")
def tickers_refresh(
    nasdaq_file: Annotated[
        Path | None, typer.Option(help="A downloaded nasdaqlisted.txt instead of fetching it.")
    ] = None,
    other_file: Annotated[
        Path | None, typer.Option(help="A downloaded otherlisted.txt instead of fetching it.")
    ] = None,
) -> None:
    """Update the universe from the exchanges' symbol directories (NASDAQ Trader); delisted -> inactive."""
    from backend.db.engine import transaction
    from backend.market import directory
    from backend.market import service as market_service

    if (nasdaq_file is None) != (other_file is None):
        raise typer.BadParameter("give both --nasdaq-file and --other-file, or neither")
    if nasdaq_file is not None and other_file is not None:
        texts = []
        for path in (nasdaq_file, other_file):
            try:
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError as exc:
                raise fail(f"{path}: {exc.strerror}") from None
        found = directory.parse_directories(*texts)
    else:
        found = directory.fetch_directories()

    async def flow() -> market_service.RefreshResult:
        async with transaction() as session:
            return await market_service.refresh_universe(session=session, listings=found.listings)

    result = run(flow)
    shown = ", ".join(result.deactivated[:10]) + (" ..." if len(result.deactivated) > 10 else "")
    console.print(
        f"refreshed from the directories of {found.created_at:%Y-%m-%d %H:%M} ET: {result.listed:,} listed, "
        f"{len(result.added):,} added, {len(result.reactivated):,} re-activated, "
        f"{len(result.deactivated):,} marked inactive" + (f" ({shown})" if shown else "")
    )


# --- prices ---------------------------------------------------------------------------------------


def _ingest(batch: PriceBatch, ticker_source: str) -> UpsertResult:
    from backend.db.engine import transaction
    from backend.market import service as market_service

    async def flow() -> UpsertResult:
        n = batch.bars["ticker"].nunique() if not batch.bars.empty else 0
        with progress_bar(f"indicators + upsert ({batch.source})", n) as advance:
            async with transaction() as session:
                return await market_service.ingest(
                    session=session, batch=batch, ticker_source=ticker_source, progress=advance
                )

    return run(flow)


def _report(batch: PriceBatch, result: UpsertResult) -> None:
    from rich.table import Table

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
    from backend.market import service as market_service

    if isinstance(result, market_service.IngestResult):
        for ticker, how in sorted(result.rescaled.items()):
            console.print(f"{ticker}: stored history re-based to the new scale ({how})", markup=False)
        if not batch.splits.empty:
            listed = ", ".join(
                f"{t} {r:g}:1 on {d}"
                for t, d, r in batch.splits[["ticker", "ex_date", "ratio"]].itertuples(index=False)
            )
            console.print(f"splits: {listed}", highlight=False)
        if result.flags:
            counts = ", ".join(f"{n} {kind}" for kind, n in sorted(result.flags.items()))
            console.print(f"data quality: {counts}; see `tft-trader prices check`", highlight=False)


@prices_app.command("import")
def prices_import(
    path: Annotated[Path, typer.Argument(help="CSV: ticker,date,open,high,low,close,volume[,adj_close]")],
    skip_invalid: Annotated[
        bool, typer.Option(help="Import the valid rows and report the rejected ones.")
    ] = False,
) -> None:
    """Import daily bars from a CSV file (one transaction: a bad row means nothing is written)."""
    from backend.market.providers import CsvProvider

    batch = CsvProvider(path, skip_invalid=skip_invalid).fetch()
    _report(batch, _ingest(batch, "import"))


@prices_app.command("fetch")
def prices_fetch(
    tickers: Annotated[
        list[str] | None,
        typer.Argument(help="Symbols, e.g. AAPL MSFT BRK.B; none: the watchlist, held and trending tickers"),
    ] = None,
    start: Annotated[str | None, typer.Option(help="First date (YYYY-MM-DD); default 5 years ago.")] = None,
    end: Annotated[
        str | None, typer.Option(help="Last date (YYYY-MM-DD); default and cap: the last settled session.")
    ] = None,
) -> None:
    """Download daily bars from Yahoo Finance and store them with indicators."""
    from backend.core.errors import ValidationFailed
    from backend.market.symbols import normalize_symbols
    from backend.market.yahoo import YahooProvider
    from backend.pipeline import prices as prices_pipeline

    try:
        first, last = prices_pipeline.history_window(
            start=parse_date(start, "--start"), end=parse_date(end, "--end")
        )
    except ValidationFailed as exc:
        raise fail(str(exc)) from None
    # The same selection the scheduled after-close fetch uses (backend/pipeline/prices.py).
    symbols = normalize_symbols(tickers) if tickers else run(prices_pipeline.universe)
    batch = YahooProvider().fetch(symbols, first, last)
    result = _ingest(batch, "watchlist")
    _report(batch, result)
    if batch.errors and not result.by_group:
        raise typer.Exit(1)


@prices_app.command("load-sample")
def prices_load_sample() -> None:
    """Load the bundled public-domain daily history (AAPL, GOOG, IBM, MSFT, FB; 2000 to March 2013)."""
    from backend.market.providers import SampleProvider

    batch = SampleProvider().fetch()
    _report(batch, _ingest(batch, "sample"))
