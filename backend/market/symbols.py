"""Ticker symbol format and the S&P 500 / NASDAQ-100 members with GICS sectors.

One spelling everywhere: class shares are stored as `BRK.B`. Yahoo writes `BRK-B`, the NASDAQ listing
`BRK/B`, people any of the three; `normalize_symbol` maps them all to `BRK.B` and `yahoo_symbol` back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from backend.core.errors import ValidationFailed

# 1-5 letters, optionally a share-class suffix (BRK.B, BF.B). Yahoo spells the suffix with a dash.
SYMBOL_RE = re.compile(r"^[A-Z]{1,5}(\.[A-Z]{1,2})?$")
# Separators people and data sources put before a class letter: Yahoo `BRK-B`, NASDAQ `BRK/B`, `BRK.B`.
CLASS_SEPARATORS = "-/"
_TO_DOT = str.maketrans(dict.fromkeys(CLASS_SEPARATORS, "."))

# pytickersymbols tags each company with a loose list of industry names; these map onto GICS sectors.
_SECTOR_SYNONYMS = {
    "Information Technology": "Information Technology",
    "Information technology": "Information Technology",
    "Technology": "Information Technology",
    "Health Care": "Health Care",
    "Healthcare": "Health Care",
    "Financials": "Financials",
    "Financial services": "Financials",
    "Financial Services": "Financials",
    "Industrials": "Industrials",
    "Consumer Discretionary": "Consumer Discretionary",
    "Consumer Cyclicals": "Consumer Discretionary",
    "Consumer Staples": "Consumer Staples",
    "Consumer Non-Cyclicals": "Consumer Staples",
    "Energy": "Energy",
    "Utilities": "Utilities",
    "Real Estate": "Real Estate",
    "Materials": "Materials",
    "Basic Materials": "Materials",
    "Communication Services": "Communication Services",
    "Telecommunication Services": "Communication Services",
}


def canonical_symbol(raw: str) -> str | None:
    """`raw` in the stored spelling (`brk-b`, `BRK/B`, `$BRK.B` -> `BRK.B`), or None if it is no symbol."""
    symbol = raw.strip().upper().lstrip("$").translate(_TO_DOT)
    return symbol if SYMBOL_RE.match(symbol) else None


def normalize_symbol(raw: str) -> str:
    """Upper-case `raw`, map `BRK-B` / `BRK/B` to `BRK.B`, and check the format; raises ValidationFailed."""
    symbol = canonical_symbol(raw)
    if symbol is None:
        raise ValidationFailed(
            f"invalid ticker symbol {raw!r}: expected 1-5 letters with an optional class suffix (BRK.B)"
        )
    return symbol


def normalize_symbols(raws: Iterable[str]) -> list[str]:
    """Normalise many symbols, reporting every bad one at once; keeps order, drops duplicates."""
    good: dict[str, None] = {}
    bad: list[str] = []
    for raw in raws:
        try:
            good[normalize_symbol(raw)] = None
        except ValidationFailed:
            bad.append(raw)
    if bad:
        raise ValidationFailed(
            f"invalid ticker symbol(s) {', '.join(map(repr, bad))}: "
            "expected 1-5 letters with an optional class suffix (BRK.B)"
        )
    return list(good)


def yahoo_symbol(symbol: str) -> str:
    """Yahoo's spelling of a stored symbol: `BRK.B` -> `BRK-B`."""
    return symbol.replace(".", "-")


@dataclass(frozen=True)
class TickerInfo:
    """One row of the universe, in the stored spelling."""

    symbol: str
    name: str | None
    sector: str | None
    industry: str | None
    exchange: str | None
    market_cap: float | None = None
    asset_type: str = "stock"


def _exchange(stock: dict) -> str | None:
    for listing in stock.get("symbols", []):
        google = listing.get("google", "")
        if listing.get("currency") == "USD" and ":" in google:
            return str(google.split(":", 1)[0])
    return None


def index_universe() -> list[TickerInfo]:
    """S&P 500 and NASDAQ-100 members with sector and industry, from the offline `pytickersymbols` data."""
    from pytickersymbols import PyTickerSymbols  # loads its bundled data on import: only when seeding

    data = PyTickerSymbols()
    out: dict[str, TickerInfo] = {}
    for index in ("S&P 500", "NASDAQ 100"):
        for stock in data.get_stocks_by_index(index):
            try:
                symbol = normalize_symbol(stock["symbol"])
            except ValidationFailed:
                continue
            industries: list[str] = stock.get("industries") or []
            sector = next((_SECTOR_SYNONYMS[i] for i in industries if i in _SECTOR_SYNONYMS), None)
            industry = next((i for i in industries if i not in _SECTOR_SYNONYMS), None)
            name = (stock.get("name") or "")[:200] or None
            out.setdefault(
                symbol, TickerInfo(symbol, name, sector, industry and industry[:200], _exchange(stock))
            )
    return sorted(out.values(), key=lambda t: t.symbol)
