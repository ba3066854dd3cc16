"""The exchanges' own symbol directories (NASDAQ Trader's `nasdaqlisted.txt` and `otherlisted.txt`).

Both are pipe-delimited with a header line and end with a `File Creation Time: MMDDYYYYHH:MM` line; a file
without that footer was cut off in transit and is refused. Field definitions:
https://www.nasdaqtrader.com/trader.aspx?id=symboldirdefs

* nasdaqlisted.txt: Symbol|Security Name|Market Category|Test Issue|Financial Status|Round Lot Size|ETF|
  NextShares
* otherlisted.txt:  ACT Symbol|Security Name|Exchange|CQS Symbol|ETF|Round Lot Size|Test Issue|NASDAQ Symbol
  (Exchange: A NYSE American, N NYSE, P NYSE Arca, Z Cboe BZX, V IEX). ACT symbols spell class shares
  `BRK.B` and preferreds `ABR$D`.

Test issues are dropped, and so are warrants, rights, units and preferreds (see `universe.is_share`).
"""

from __future__ import annotations

import csv
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from backend.core.errors import DataSourceError
from backend.core.settings import UniverseSettings, get_settings
from backend.market.symbols import TickerInfo, canonical_symbol
from backend.market.universe import is_share

FOOTER = "File Creation Time:"
OTHER_EXCHANGES = {"A": "AMEX", "N": "NYSE", "P": "NYSE Arca", "Z": "Cboe BZX", "V": "IEX"}
# Exchanges whose shares make up the universe (the bundled listing's NASDAQ / NYSE / NYSE American);
# ETFs are taken from any exchange.
SHARE_EXCHANGES = frozenset({"NASDAQ", "NYSE", "AMEX"})


@dataclass(frozen=True)
class Directory:
    """The parsed listings and when the exchange wrote them."""

    listings: list[TickerInfo]
    created_at: datetime
    test_issues: int
    not_shares: int


def _rows(text: str, source: str) -> tuple[list[dict[str, str]], datetime]:
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines or not lines[-1].startswith(FOOTER):
        raise DataSourceError(
            f"{source}: no '{FOOTER}' line at the end (download cut off?); the universe was left unchanged"
        )
    stamp = lines[-1][len(FOOTER) :].split("|", 1)[0].strip()
    try:
        created = datetime.strptime(stamp, "%m%d%Y%H:%M")
    except ValueError:
        raise DataSourceError(f"{source}: unreadable creation time {stamp!r}") from None
    return list(csv.DictReader(lines[:-1], delimiter="|")), created


def _required(row: dict[str, str], source: str, *columns: str) -> list[str]:
    missing = [c for c in columns if c not in row]
    if missing:
        raise DataSourceError(f"{source}: missing column(s) {', '.join(missing)}; not a symbol directory")
    return [(row[c] or "").strip() for c in columns]


def parse_directories(nasdaq_listed: str, other_listed: str) -> Directory:
    """Shares and ETFs from the two files' text; raises DataSourceError on a truncated or foreign file."""
    listings: dict[str, TickerInfo] = {}
    test_issues = not_shares = 0
    nasdaq_rows, created_n = _rows(nasdaq_listed, "nasdaqlisted.txt")
    other_rows, created_o = _rows(other_listed, "otherlisted.txt")

    def add(raw: str, name: str, exchange: str, etf: bool, test: bool) -> None:
        nonlocal test_issues, not_shares
        if test:
            test_issues += 1
            return
        symbol = canonical_symbol(raw)
        if symbol is None or (not etf and (exchange not in SHARE_EXCHANGES or not is_share(raw, name))):
            not_shares += 1
            return
        listings[symbol] = TickerInfo(
            symbol, name[:200] or None, None, None, exchange, None, "etf" if etf else "stock"
        )

    for row in nasdaq_rows:
        symbol, name, test, etf = _required(
            row, "nasdaqlisted.txt", "Symbol", "Security Name", "Test Issue", "ETF"
        )
        add(symbol, name, "NASDAQ", etf == "Y", test == "Y")
    for row in other_rows:
        symbol, name, exchange, etf, test = _required(
            row, "otherlisted.txt", "ACT Symbol", "Security Name", "Exchange", "ETF", "Test Issue"
        )
        add(symbol, name, OTHER_EXCHANGES.get(exchange, exchange), etf == "Y", test == "Y")
    return Directory(
        sorted(listings.values(), key=lambda t: t.symbol), min(created_n, created_o), test_issues, not_shares
    )


def _download(url: str, timeout: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode("utf-8", errors="replace"))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataSourceError(
            f"cannot download {url} ({reason}): tickers refresh needs the internet; nothing was changed"
        ) from None


def fetch_directories(settings: UniverseSettings | None = None) -> Directory:
    """Download and parse both directories (blocking I/O: call it from the CLI or a worker thread)."""
    cfg = settings or get_settings().universe
    return parse_directories(
        _download(cfg.nasdaq_listed_url, cfg.timeout_seconds),
        _download(cfg.other_listed_url, cfg.timeout_seconds),
    )
