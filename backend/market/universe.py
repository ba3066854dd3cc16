"""The ticker universe bundled with the product: every US-listed share plus the widely traded ETFs.

Sources (offline, in `backend/market/data/`):
* `us_listed_2026-08-22.csv.gz`: the NASDAQ stock screener's listing of NASDAQ, NYSE and NYSE American
  (7,182 rows with sector, industry and market cap; see data/README.md for origin and quirks);
* `etfs.csv`: a curated list of widely traded ETFs (the screener leaves ETFs out);
* pytickersymbols' S&P 500 / NASDAQ-100 members, whose GICS sectors replace the screener's.

Sectors: the risk manager caps exposure per sector string, so every row must use one taxonomy. We use GICS
names: index members keep pytickersymbols' GICS sector (the screener files Agilent under Industrials and
Alphabet under Technology, GICS says Health Care and Communication Services); other stocks get the
screener's sector mapped onto the GICS name (Finance -> Financials, ...). Warrants, units, rights,
preferreds and notes are left out: they are not what a post or a watchlist means, and Yahoo spells them
differently.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from backend.market.symbols import TickerInfo, canonical_symbol, index_universe

DATA_DIR = Path(__file__).with_name("data")
LISTING_PATH = DATA_DIR / "us_listed_2026-08-22.csv.gz"
ETFS_PATH = DATA_DIR / "etfs.csv"

# The NASDAQ screener's sector names onto GICS sector names (the ones pytickersymbols and the sector cap
# use). "Miscellaneous" says nothing: such names share the sector cap's Unknown bucket.
SCREENER_TO_GICS = {
    "Finance": "Financials",
    "Technology": "Information Technology",
    "Telecommunications": "Communication Services",
    "Basic Materials": "Materials",
    "Consumer Discretionary": "Consumer Discretionary",
    "Consumer Staples": "Consumer Staples",
    "Health Care": "Health Care",
    "Industrials": "Industrials",
    "Real Estate": "Real Estate",
    "Energy": "Energy",
    "Utilities": "Utilities",
}

# Security names of what is not a share: judged from the name, since symbol suffixes differ by exchange
# (NASDAQ `ABCDW`, NYSE `ABC/WS`, preferreds `ABC^A` / `ABC$A` / `ABC-A`).
_NOT_A_SHARE = re.compile(
    r"\bwarrants?\b|\brights?\b|\bpreferred\b|\bnotes? due\b|\bdebentures?\b|\bsenior notes?\b"
    r"|\b(?:subordinated|fixed[- ]to[- ]floating|fixed rate)\b|\bcorporate units\b",
    re.I,
)
# SPAC units ("... Acquisition Corp Unit"); partnerships' "Common Units" are shares.
_SPAC_UNIT = re.compile(r"\bunits?\b(?!\s+(?:of beneficial|representing))", re.I)
_SHARE_UNITS = re.compile(
    r"\b(?:common|partnership|partners|limited|class [a-z]|beneficial|trust|depositary|L\.?P\.?|LLC)\b", re.I
)
_SPAC = re.compile(r"\b(?:SPAC|acquisition|merger)\b", re.I)
# Preferreds (`^`, `$`) and NYSE-style warrant / unit / right suffixes (`ABC/WS`, `ABC.U`, `ABC-R`).
_PREFERRED_SYMBOL = re.compile(r"[\^$]|[-/.](?:WS|W|U|R)$")


def is_share(raw_symbol: str, name: str) -> bool:
    """Whether a listing row is a share (common stock, ADR, class share, partnership unit) rather than a
    warrant, right, SPAC unit, preferred or note."""
    if _PREFERRED_SYMBOL.search(raw_symbol) or _NOT_A_SHARE.search(name):
        return False
    if not _SPAC_UNIT.search(name):
        return True
    if len(raw_symbol) == 5 and raw_symbol.endswith("U") and re.search(r"\bunits?$", name.strip(), re.I):
        return False  # NASDAQ's fifth-letter U: a SPAC's share + warrant bundle
    return not _SPAC.search(name) and bool(_SHARE_UNITS.search(name))


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 0 else None  # the screener writes 0.00 for "unknown"


def read_listing(path: Path = LISTING_PATH) -> tuple[list[TickerInfo], int]:
    """Shares from the bundled screener listing, and how many rows were skipped (not a share)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return parse_listing(f)


def parse_listing(lines: Iterable[str]) -> tuple[list[TickerInfo], int]:
    """Parse the screener CSV (symbol,name,exchange,sector,industry,market_cap,...)."""
    out: list[TickerInfo] = []
    skipped = 0
    for row in csv.DictReader(lines):
        raw = row["symbol"].strip()
        name = row["name"].strip()
        symbol = canonical_symbol(raw)
        if symbol is None or not is_share(raw, name):
            skipped += 1
            continue
        out.append(
            TickerInfo(
                symbol=symbol,
                name=name[:200] or None,
                sector=SCREENER_TO_GICS.get(row["sector"].strip()),
                industry=row["industry"].strip()[:200] or None,
                exchange=row["exchange"].strip() or None,
                market_cap=_float(row["market_cap"]),
            )
        )
    return out, skipped


def read_etfs(path: Path = ETFS_PATH) -> list[TickerInfo]:
    """The curated ETF list (`symbol,name,exchange,sector`; '#' rows are comments)."""
    with path.open(encoding="utf-8", newline="") as f:
        return list(_etf_rows(f))


def _etf_rows(f: io.TextIOBase | Iterable[str]) -> Iterator[TickerInfo]:
    for row in csv.DictReader(f):
        raw = row["symbol"].strip()
        if not raw or raw.startswith("#"):
            continue
        symbol = canonical_symbol(raw)
        if symbol is None:
            raise ValueError(f"etfs.csv: invalid symbol {raw!r}")
        sector = row["sector"].strip() or None
        yield TickerInfo(symbol, row["name"].strip(), sector, None, row["exchange"].strip(), None, "etf")


def bundled_universe(gics: Iterable[TickerInfo] | None = None) -> tuple[list[TickerInfo], int]:
    """Listing + ETFs with GICS sectors where the index data has them; and the count of skipped rows.

    Args:
        gics: index members with GICS sectors (default: pytickersymbols' S&P 500 / NASDAQ-100).
    """
    listing, skipped = read_listing()
    by_gics = {t.symbol: t for t in (gics if gics is not None else index_universe())}
    rows: dict[str, TickerInfo] = {}
    for info in listing:
        index_member = by_gics.get(info.symbol)
        if index_member is not None and index_member.sector:
            info = replace(info, sector=index_member.sector)
        rows[info.symbol] = info
    for etf in read_etfs():
        rows[etf.symbol] = etf
    return sorted(rows.values(), key=lambda t: t.symbol), skipped
