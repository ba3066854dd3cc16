"""Ticker extraction rules: cashtags, bare capitals, blacklist, punctuation, URLs, class suffixes."""

from __future__ import annotations

import pytest

from backend.sentiment.extract import TICKER_BLACKLIST, extract_tickers


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


KNOWN = words(
    "AAPL AMC AMD AMZN BRK.B F GME GOOG MSFT NOW NVDA ON PLTR SPY T TSLA "
    "IT ALL DD AI OPEN LOVE CAN BE GO A EV CEO ARE"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # cashtags, any case
        ("$TSLA to the moon", ["TSLA"]),
        ("loaded $aapl and $Msft calls", ["AAPL", "MSFT"]),
        # bare symbols only in capitals
        ("TSLA earnings tomorrow", ["TSLA"]),
        ("Tsla and tSLA are not mentions", []),
        ("bought more tsla and nvda", ["NVDA", "TSLA"]),
        ("I like nvda but NVDA is expensive", ["NVDA"]),
        # punctuation and possessives
        ("AMZN's cloud margins", ["AMZN"]),
        ("AMZN’s cloud margins", ["AMZN"]),
        ("Chip names (NVDA) and (AMD) ran", ["AMD", "NVDA"]),
        ("Sold MSFT. Bought GOOG!", ["GOOG", "MSFT"]),
        ("TSLA, AAPL; SPY: all red", ["AAPL", "SPY", "TSLA"]),
        ('"PLTR" is the play', ["PLTR"]),
        ("#TSLA trending", ["TSLA"]),
        ("GME/AMC gang and $GME/$AMC", ["AMC", "GME"]),
        ("Well...TSLA again", ["TSLA"]),
        # one mention per ticker, sorted
        ("TSLA TSLA $TSLA $tsla", ["TSLA"]),
        ("SPY then AAPL then SPY", ["AAPL", "SPY"]),
        # unknown symbols never count, with or without $
        ("XYZQ to the moon, $XYZQ too", []),
        ("BUY NOW OR CRY LATER", []),
        # blacklisted words ignored bare, kept with $
        ("ON IT NOW, ALL IN, DD inside", []),
        ("$ON $NOW $F $T", ["F", "NOW", "ON", "T"]),
        ("AI and EV names, ask the CEO", []),
        ("$AI earnings", ["AI"]),
        ("OPEN your eyes, LOVE this", []),
        # single letters need a $
        ("F and T are cheap, Plan B, Class A", []),
        ("$F is cheap", ["F"]),
        ("AT&T and S&P 500", []),
        # contractions are words, not tickers
        ("I CAN'T BE BOTHERED, DON'T GO", []),
        # class suffixes
        ("BRK.B is my biggest holding", ["BRK.B"]),
        ("$brk.b and $BRK-B", ["BRK.B"]),
        ("BRK-B dividend? none", ["BRK.B"]),
        ("AAPL.US listing", ["AAPL"]),
        # nothing inside URLs, e-mails, domains or words
        ("https://x.com/AAPL and www.reddit.com/r/TSLA", []),
        ("see finance.yahoo.com/quote/NVDA for details", []),
        ("mail me at ceo@AAPL.com", []),
        ("visit AAPL.com", []),
        ("XAAPL and AAPLX are not AAPL", ["AAPL"]),
        # digits
        ("TSLA420 and $TSLA69 and 3TSLA", []),
        ("$100 on AMD", ["AMD"]),
        # too long to be a symbol
        ("AMAZING GAINS", []),
        ("", []),
    ],
)
def test_extract_tickers(text: str, expected: list[str]) -> None:
    assert extract_tickers(text, KNOWN) == expected


def test_known_may_be_any_collection() -> None:
    assert extract_tickers("TSLA and $AMD", ["TSLA", "AMD"]) == ["AMD", "TSLA"]
    assert extract_tickers("TSLA and $AMD", {"TSLA": 1}) == ["TSLA"]


def test_yahoo_spelling_in_known() -> None:
    assert extract_tickers("BRK.B and $brk.b", {"BRK-B"}) == ["BRK-B"]


def test_blacklisted_base_does_not_come_back_through_suffix() -> None:
    assert extract_tickers("BE.A", {"BE"}) == []


def test_blacklist_is_broad() -> None:
    assert len(TICKER_BLACKLIST) >= 80
    required = words(
        "A I ALL IT ON NOW DD YOLO CEO EPS ATH IMO FED SEC IPO ETF USA GDP CPI FOMC AI EV OR AND FOR ARE "
        "CAN BE GO SO BIG OPEN REAL LOVE PLAY FUN FAST GOOD HOLD BUY SELL PUT CALL TLDR WSB LOL EDIT"
    )
    assert required <= TICKER_BLACKLIST, required - TICKER_BLACKLIST


class _ScanCountingText(str):
    """A text that counts the characters its `rfind` calls may scan: the one backward search extraction
    does per match (finding where a link starts). Regex passes are linear by construction."""

    scanned = 0

    def rfind(self, sub: str, start: int | None = None, end: int | None = None) -> int:  # type: ignore[override]
        lo = 0 if start is None else start
        hi = len(self) if end is None else end
        _ScanCountingText.scanned += max(0, hi - lo)
        return super().rfind(sub, start, end)


def test_extraction_is_correct_on_a_megabyte() -> None:
    # Speed is measured in tests/benchmarks/bench_sentiment.py; here only the result on a long input.
    text = "Bought $TSLA and NVDA, sold AAPL. https://x.com/MSFT " * 20_000  # ~1 MB
    assert len(text) > 1_000_000
    assert extract_tickers(text, KNOWN) == ["AAPL", "NVDA", "TSLA"]


@pytest.mark.parametrize("repeats", [2_000, 8_000])
def test_link_check_work_is_linear_without_whitespace(repeats: int) -> None:
    # Each `/AAPL/` looks back for the start of a link; unbounded, a long run without whitespace made
    # that quadratic (~45 s for 1 MB). The work per character must stay bounded as the text grows.
    text = _ScanCountingText("x/AAPL/" * repeats)
    _ScanCountingText.scanned = 0
    assert extract_tickers(text, KNOWN) == ["AAPL"]
    assert _ScanCountingText.scanned <= 4 * 600 * repeats  # 4 whitespace kinds x a bounded window
    assert extract_tickers("see example.com/" + "a/" * 100 + "AAPL/ and NVDA", KNOWN) == ["NVDA"]
