"""Ticker mentions in social-media text.

Rules (one compiled regex, then set look-ups):
* `$TSLA` counts in any case (`$tsla`); a bare `TSLA` counts only when written in capitals;
* every candidate must be in `known` (upper-case symbols), so invented words never become tickers;
* bare words in TICKER_BLACKLIST (English words and slang written in capitals: IT, ALL, YOLO, DD, CEO...)
  are ignored, but still count with a `$` (`$ON`, `$NOW`, `$F`);
* bare single letters never count (Plan B, Class A, Vitamin D, "S&P"): only `$F` / `$T` name those;
* class suffixes (`BRK.B`, `$brk.b`) count when `known` has them (as `BRK.B` or Yahoo's `BRK-B`); otherwise
  the base symbol is tried, so `MSFT.` at the end of a sentence is MSFT;
* punctuation and possessives around a symbol are fine (`AMZN's`, `(NVDA)`, `TSLA,`, `GOOG!`);
* nothing inside URLs (`https://x.com/AAPL` and `x.com/AAPL` are links, not mentions), e-mail addresses,
  other words (`XAAPL`), or tokens with digits (`TSLA420`); `AT&T` / `S&P` are skipped around the `&`;
* each ticker once per text; the result is sorted.
"""

from __future__ import annotations

import re
from collections.abc import Collection

# Upper-case words that are real symbols somewhere but in posts are nearly always English, slang or
# finance jargon. Only bare mentions are filtered; `$WORD` always counts.
TICKER_BLACKLIST: frozenset[str] = frozenset(  # a word grid reads better than a 200-item list literal
    """
    A I AM AN AS AT BE BY DO GO HE IF IN IS IT ME MY NO OF OH OK ON OR SO TO UP US WE
    ALL AND ANY ARE ASK BIG BUY CAN DAY DID FOR FUN GET GOT HAS HER HIM HIS HOW ITS LOW MAN NEW NOT NOW
    OLD ONE OUR OUT OWN PUT RUN SAY SEE SHE THE TOO TWO WAS WAY WHO WHY WIN YES YET YOU
    ALSO BACK BEST CALL CASH CARE EVER EVEN FAST FREE GOOD HAND HOLD HOPE JUST KEEP LIFE LIKE LONG LOVE
    MOVE MUCH NEXT NICE ONCE ONLY OPEN PLAY REAL RIDE RISE SAFE SELL SOON STAY SURE TECH TELL THAN THAT
    THEY THIS TRUE VERY WELL WHAT WHEN WILL WITH WORK
    MOON PUMP DUMP BULL BEAR HODL YOLO FOMO MOASS APE APES STONK STONKS TENDIE GAIN GAINS LOSS
    DD TA PT ER EV AI ATH ATL ETF ETFS IPO SPAC CEO CFO CTO COO EPS PE FED SEC IRS FDA FOMC CPI PPI GDP
    USA UK EU TV PM ET EST PST EOD EOW EOY YTD QOQ YOY OTM ITM ATM IV DTE LEAPS FD FDS ROTH IRA
    IMO IMHO TLDR TL DR WSB LOL LMAO OMG WTF FYI EDIT TIL PSA AMA ELI NSFW RIP GUH BTW IDK TBH ASAP
    USD EUR GBP CAD JPY CNY API HQ PR RE
    """.split()  # noqa: SIM905
)

# A cashtag in any case, or a bare all-caps word; optional share-class suffix. The lookarounds keep
# matches out of words, numbers, e-mails, domains (`AAPL.com`) and `AT&T`; URLs are consumed first so
# nothing inside them can match. Scheme-less links (`x.com/AAPL`) are caught by _in_link, which is cheaper
# than a regex branch tried at every position.
# A possessive "'s" may follow; any other apostrophe+letter (DON'T, CAN'T) means an English word.
_MENTION = re.compile(
    r"(?P<url>https?://\S+|www\.\S+)"
    r"|(?<![\w$@&\-])"
    r"(?:\$(?P<cash>[A-Za-z]{1,5}(?:[.\-][A-Za-z]{1,2})?)|(?P<bare>[A-Z]{2,5}(?:[.\-][A-Z]{1,2})?))"
    r"(?![\w$@&]|['\u2019](?![sS]\b)\w|\.[a-z0-9])"
)


_CAPITALS = re.compile(r"[A-Z]{2}")
_WHITESPACE = " \t\n\r"


def _in_link(text: str, start: int) -> bool:
    """Whether the match at `start` sits in a path after a domain (`x.com/AAPL`); `GME/AMC` does not."""
    if start == 0 or text[start - 1] != "/":
        return False
    word_start = max(text.rfind(c, 0, start) for c in _WHITESPACE) + 1
    return "." in text[word_start:start].split("/", 1)[0]


def _resolve(symbol: str, known: Collection[str]) -> str | None:
    """`symbol` as spelled in `known`, trying BRK.B / BRK-B, then the base symbol."""
    if symbol in known:
        return symbol
    for sep, other in ((".", "-"), ("-", ".")):
        if sep in symbol:
            alt = symbol.replace(sep, other)
            if alt in known:
                return alt
            base = symbol.split(sep, 1)[0]
            return base if base in known else None
    return None


def extract_tickers(text: str, known: Collection[str]) -> list[str]:
    """Sorted, de-duplicated ticker symbols mentioned in `text` that appear in `known` (upper-case)."""
    if not text:
        return []
    if type(known) not in (frozenset, set, dict):  # exact types: an ABC isinstance check costs ~1 µs a call
        known = frozenset(known)  # membership tests below must be O(1)
    if "$" not in text and not _CAPITALS.search(text):
        return []  # no cashtag and no capitalised word: most texts, decided by one C-level scan
    found: set[str] = set()
    for match in _MENTION.finditer(text):
        kind = match.lastgroup
        if kind == "url":
            continue
        start = match.start()
        if start and text[start - 1] == "/" and _in_link(text, start):
            continue
        if kind == "cash":
            symbol = _resolve(match.group("cash").upper(), known)
        else:
            bare = match.group("bare")
            if bare in TICKER_BLACKLIST:
                continue
            if bare in known:
                found.add(bare)  # the common case: an exact symbol, no suffix to resolve
                continue
            if "." not in bare and "-" not in bare:
                continue  # an unknown plain word: nothing else to try
            symbol = _resolve(bare, known)
            if symbol is not None and symbol in TICKER_BLACKLIST:
                continue  # "BE.A" must not sneak "BE" back in through the base-symbol fallback
        if symbol is not None:
            found.add(symbol)
    return sorted(found)
