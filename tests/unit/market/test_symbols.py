"""One spelling for class shares everywhere: BRK-B (Yahoo), BRK/B (NASDAQ listing), BRK.B (stored)."""

from __future__ import annotations

import pytest

from backend.core.errors import ValidationFailed
from backend.market.providers import CsvProvider
from backend.market.symbols import canonical_symbol, normalize_symbol, normalize_symbols, yahoo_symbol
from backend.market.universe import is_share, parse_listing


@pytest.mark.parametrize("raw", ["BRK.B", "BRK-B", "BRK/B", "brk-b", " $brk/b ", "$BRK.B"])
def test_class_share_spellings_are_one_symbol(raw: str) -> None:
    assert normalize_symbol(raw) == "BRK.B"
    assert yahoo_symbol(normalize_symbol(raw)) == "BRK-B"


def test_many_spellings_collapse_to_one() -> None:
    assert normalize_symbols(["BRK-B", "BRK/B", "brk.b", "AAPL"]) == ["BRK.B", "AAPL"]


@pytest.mark.parametrize("raw", ["BFH^A", "ABR$D", "TOOLONG", "BRK.BBB", "12AB", ""])
def test_not_symbols(raw: str) -> None:
    assert canonical_symbol(raw) is None
    with pytest.raises(ValidationFailed, match="invalid ticker symbol"):
        normalize_symbol(raw)


def test_csv_import_accepts_every_spelling(tmp_path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(
        "ticker,date,open,high,low,close,volume\n"
        "BRK/B,2026-01-02,400,410,395,405,1000\n"
        "BRK-B,2026-01-05,405,412,401,410,1200\n"
        "brk.b,2026-01-06,410,415,405,412,900\n"
    )
    bars = CsvProvider(path).fetch().bars
    assert list(bars["ticker"].unique()) == ["BRK.B"] and len(bars) == 3


def test_listing_rows_use_the_stored_spelling_and_skip_non_shares() -> None:
    lines = [
        "symbol,name,exchange,sector,industry,market_cap,country,ipo_year",
        "BRK/B,Berkshire Hathaway Inc.,NYSE,Finance,Insurance,1093933303969.00,United States,",
        "BFH^A,Bread Financial 8.625% Preferred,NYSE,,,,United States,",
        "GRRRW,Gorilla Technology Group Inc. Warrant,NASDAQ,,,,Taiwan,",
        "BHAVU,BHAV Acquisition Corp Units,NASDAQ,Finance,Blank Checks,0.00,United States,",
        "ET,Energy Transfer LP Common Units,NYSE,Utilities,Natural Gas Distribution,72963518545.00,,",
    ]
    rows, skipped = parse_listing(lines)
    assert [r.symbol for r in rows] == ["BRK.B", "ET"] and skipped == 3
    assert rows[0].sector == "Financials" and rows[0].market_cap == pytest.approx(1.093933303969e12)


@pytest.mark.parametrize(
    ("symbol", "name", "share"),
    [
        ("GME", "GameStop Corporation Common Stock", True),
        ("BSBR", "Banco Santander Brasil SA American Depositary Shares each representing one unit", True),
        ("MPLX", "MPLX LP Common Units Representing Limited Partner Interests", True),
        ("AACPR", "Apogee Acquisition Corp Rights", False),
        ("TMUSZ", "T-Mobile US Inc. 5.500% Senior Notes due March 2070", False),
        ("RAC/WS", "Rithm Acquisition Corp. Warrants", False),
        ("CCXIU", "Churchill Capital Corp XI Units", False),
    ],
)
def test_is_share(symbol: str, name: str, share: bool) -> None:
    assert is_share(symbol, name) is share
