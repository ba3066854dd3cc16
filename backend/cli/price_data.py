"""`tft-trader prices check | exclude | include | split | load-history`: data quality, declared splits and
the bundled 505-stock history. Light at import time: pandas and the services load inside the commands."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from backend.cli.common import console, err, fail, parse_date, progress_bar, run
from backend.cli.market import prices_app
from backend.market.symbols import normalize_symbols

if TYPE_CHECKING:
    import pandas as pd

KIND_TEXT = {
    "spike": "one-day spike that reverts",
    "unadjusted_split": "suspected unadjusted split",
    "ohlc_range": "open/close outside [low, high]",
    "zero_volume": "zero volume",
    "manual": "excluded by hand",
}


def _symbol(value: str) -> str:
    try:
        return normalize_symbols([value])[0]
    except Exception as exc:  # the symbol helper's own message says what is wrong
        raise typer.BadParameter(str(exc)) from None


def _days(values: list[str]) -> list[date]:
    return [d for d in (parse_date(v, "DATE") for v in values) if d is not None]


def _ratio(value: str) -> float:
    """'4', '4:1', '3:2', '1:10' or '0.1' -> new shares per old share."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:[:/-]\s*(\d+(?:\.\d+)?))?\s*", value)
    if not match or float(match[1]) == 0 or (match[2] is not None and float(match[2]) == 0):
        raise typer.BadParameter(
            f"RATIO {value!r}: write 4:1 (or 4) for a 4-for-1 split, 1:10 for a reverse one"
        )
    return float(match[1]) / float(match[2] or 1)


def flags_table(flags: pd.DataFrame) -> Table:
    """One row per flag; fits 80 columns (the detail wraps)."""
    table = Table("ticker", "date", "kind", "excl", "detail", title="price data-quality flags")
    for ticker, day, kind, detail, excluded in flags[
        ["ticker", "trade_date", "kind", "detail", "excluded"]
    ].itertuples(index=False):
        # Text, not markup: details hold "[low, high]" ranges that rich would read as tags.
        table.add_row(str(ticker), day.isoformat(), str(kind), "yes" if excluded else "", Text(str(detail)))
    return table


def flag_summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {KIND_TEXT.get(kind, kind)}" for kind, n in sorted(counts.items()))


@prices_app.command("check")
def prices_check(
    tickers: Annotated[
        str | None, typer.Option(help="Comma-separated, e.g. AAPL,MSFT (default: all).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per flag, on stdout.")] = False,
    rerun: Annotated[
        bool, typer.Option(help="Check the whole stored history again first (e.g. after PRICES__SPIKE_PCT).")
    ] = False,
) -> None:
    """List the data-quality flags (spikes that revert, unadjusted splits, open/close outside the day's
    range, zero volume) that every import and fetch stores; `prices exclude` drops a bad bar."""
    symbols = normalize_symbols(tickers.split(",")) if tickers else []

    async def flow() -> pd.DataFrame:
        from backend.db.engine import transaction
        from backend.market import curation, quality

        async with transaction() as session:
            if rerun:
                return await curation.run_check(session=session, tickers=symbols)
            return await quality.list_flags(session=session, tickers=symbols)

    flags = run(flow)
    if as_json:
        for record in flags.to_dict("records"):
            record["trade_date"] = record["trade_date"].isoformat()
            print(json.dumps(record))
        return
    if flags.empty:
        console.print("no data-quality flags")
        return
    console.print(flags_table(flags))
    counts = {str(k): int(n) for k, n in flags.groupby("kind").size().items()}
    excluded = int(flags["excluded"].sum())
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    console.print(f"{len(flags)} flag(s): {summary}; {excluded} excluded", highlight=False)
    console.print("exclude a bad bar:  tft-trader prices exclude TICKER DATE...", highlight=False)
    console.print("confirm a split:    tft-trader prices split TICKER DATE RATIO", highlight=False)


def _set_exclusion(ticker: str, dates: list[str], excluded: bool) -> None:
    symbol, days = _symbol(ticker), _days(dates)

    async def flow() -> int:
        from backend.db.engine import transaction
        from backend.market import curation

        async with transaction() as session:
            return await curation.set_exclusion(session=session, ticker=symbol, days=days, excluded=excluded)

    changed = run(flow)
    verb = "excluded" if excluded else "included again"
    console.print(f"{symbol}: {changed} of {len(days)} bar(s) {verb}; indicators recomputed", highlight=False)


@prices_app.command("exclude")
def prices_exclude(
    ticker: Annotated[str, typer.Argument(help="Symbol, e.g. LNT")],
    dates: Annotated[list[str], typer.Argument(help="Trading dates (YYYY-MM-DD)")],
) -> None:
    """Leave bad bars out of indicators, features, training and the paper book (they stay stored)."""
    _set_exclusion(ticker, dates, True)


@prices_app.command("include")
def prices_include(
    ticker: Annotated[str, typer.Argument(help="Symbol")],
    dates: Annotated[list[str], typer.Argument(help="Trading dates (YYYY-MM-DD)")],
) -> None:
    """Use excluded bars again."""
    _set_exclusion(ticker, dates, False)


@prices_app.command("split")
def prices_split(
    ticker: Annotated[str, typer.Argument(help="Symbol, e.g. DISCA")],
    ex_date: Annotated[str, typer.Argument(metavar="DATE", help="First session trading split (YYYY-MM-DD)")],
    ratio: Annotated[str, typer.Argument(help="4:1 (or 4) for a 4-for-1 split, 1:10 for a reverse split")],
    force: Annotated[bool, typer.Option(help="Record it even if the prices show no such drop.")] = False,
) -> None:
    """Declare a split that imported (as-traded) prices do not carry; Yahoo's are recorded automatically."""
    symbol, day, value = _symbol(ticker), parse_date(ex_date, "DATE"), _ratio(ratio)
    assert day is not None

    async def flow() -> str:
        from backend.db.engine import transaction
        from backend.market import curation

        async with transaction() as session:
            return await curation.declare_split(
                session=session, ticker=symbol, ex_date=day, ratio=value, force=force
            )

    console.print(run(flow), highlight=False)


@prices_app.command("load-history")
def prices_load_history() -> None:
    """Load the bundled real history of 505 S&P 500 stocks (2013-02 to 2018-02) with GICS sectors,
    indicators and the data-quality check. Today's members applied backwards: survivorship bias."""
    from backend.db.engine import transaction
    from backend.market import bundled
    from backend.market import service as market_service

    batch = bundled.load_prices()
    n = int(batch.bars["ticker"].nunique())

    async def flow() -> market_service.IngestResult:
        with progress_bar("505-stock history: indicators + upsert", n) as advance:
            async with transaction() as session:
                return await bundled.load_history(session=session, batch=batch, progress=advance)

    result = run(flow)
    total = result.totals()
    console.print(
        f"{n} tickers, {total.inserted} bars inserted, {total.updated} updated, {total.unchanged} unchanged",
        highlight=False,
    )
    if result.flags:
        console.print(
            f"data quality: {flag_summary(result.flags)} (see `tft-trader prices check`)",
            highlight=False,
            markup=False,
        )
    err.print(f"[dim]{bundled.ATTRIBUTION}[/dim]", highlight=False)


__all__ = ["fail", "prices_check", "prices_exclude", "prices_include", "prices_load_history", "prices_split"]
