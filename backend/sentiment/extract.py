"""Ticker mentions in social-media text.

Rules (one compiled regex, then set look-ups against a TickerIndex, see ticker_index.py):
* `$TSLA` counts in any case (`$tsla`), for any known symbol: a `$` always wins;
* a bare word counts when the index allows it written that way: capitals for non-words (GME, PLTR),
  inside a shouted all-caps sentence only for symbols that are no English word at all, lower case only for
  those of companies worth >= $1B and curated ETFs (`gme`, `tqqq`);
* English words, slang and jargon that are also symbols (ALL, IT, ON, NOW, OPEN, AI, DD, CEO, YOLO, CAT,
  SNOW...), single letters and most two-letter symbols count only in an unambiguous context: followed by
  calls / puts / shares / stock / options / leaps / earnings, a strike (`180c`, `20p`) or a price (`$400`,
  `to $50`), or preceded by bought / sold / shorting / loaded / added / shares of / calls on / puts on
  (`bought ON`, `shares of COST`); never A or I;
* every candidate must be known, so invented words never become tickers; the universe holds shares and
  ETFs only (no warrants, units, rights or preferreds);
* class shares in any spelling (`BRK.B`, `BRK-B`, `BRK/B`, `$brk.b`) resolve to the known spelling;
  otherwise the base symbol is tried, so `MSFT.` at the end of a sentence is MSFT;
* punctuation and possessives around a symbol are fine (`AMZN's`, `(NVDA)`, `TSLA,`, `GOOG!`);
* nothing inside URLs (`https://x.com/AAPL` and `x.com/AAPL` are links, not mentions), e-mail addresses,
  other words (`XAAPL`), or tokens with digits (`TSLA420`); `AT&T` / `S&P` are skipped around the `&`;
* each ticker once per text; the result is sorted.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

from backend.sentiment.ticker_index import TICKER_BLACKLIST, TickerIndex, index_for

__all__ = ["TICKER_BLACKLIST", "TickerIndex", "extract_tickers"]

# A cashtag in any case, or a bare all-caps word; optional share-class suffix. The lookarounds keep
# matches out of words, numbers, e-mails, domains (`AAPL.com`) and `AT&T`; URLs are consumed first so
# nothing inside them can match. Scheme-less links (`x.com/AAPL`) are caught by _in_link, which is cheaper
# than a regex branch tried at every position.
# A possessive "'s" may follow; any other apostrophe+letter (DON'T, CAN'T) means an English word.
_MENTION = re.compile(
    r"(?P<url>https?://\S+|www\.\S+)"
    r"|(?<![\w$@&\-])"
    r"(?:\$(?P<cash>[A-Za-z]{1,5}(?:[.\-/][A-Za-z]{1,2})?)"
    r"|(?P<bare>[A-Z]{2,5}(?:[.\-][A-Z]{1,2}|/[A-Z])?|[A-Z](?=[ \t]+(?:calls|puts|shares)\b)))"
    r"(?![\w$@&]|['\u2019](?![sS]\b)\w|\.[a-z0-9])"
)
# Lower-case mentions are rare, so they get their own pass: a C-level split and set intersection find the
# few candidate words, and only those are located with the same boundary rules as above.
_NON_LETTERS = re.compile(r"[^A-Za-z]+")  # whole words only: "Tesla" must not offer "esla"
_URL = re.compile(r"https?://\S+|www\.\S+")
_LOWER_AT = "(?<![\\w$@&\\-]){}(?![\\w$@&]|['\u2019](?![sS]\\b)\\w|\\.[a-z0-9])"

# What makes an ambiguous bare word a ticker: an options/shares word, a strike or a price right after it,
# or a trading verb right before it.
_RIGHT_CONTEXT = re.compile(
    r"[ \t]*(?:(?:calls|puts|shares|stock|options|leaps|earnings|gang|bagholders|squeeze)\b"
    r"|\$?\d+(?:\.\d+)?[cp]\b|\$\d|(?:to|at|@)[ \t]*\$\d)",
    re.I,
)
_LEFT_CONTEXT = re.compile(
    r"\b(?:(?:bought|buying|sold|selling|shorting|shorted|loaded|loading|added|adding|trimmed)"
    r"(?:[ \t]+(?:more|some|my|a few))?"
    r"|shares[ \t]+of|(?:calls|puts)[ \t]+on)[ \t]+$",  # "100 shares of COST", "puts on ON"
    re.I,
)
_NEVER_BARE = frozenset({"A", "I"})
_SHOUT_WINDOW = 40

_WHITESPACE = " \t\n\r"


# How far back _in_link looks for the start of a link. Bounded so that a long run of text without
# whitespace (`x/AAPL/x/AAPL/...`) costs linear, not quadratic, time; real links are far shorter.
_LINK_LOOKBACK = 512


def _in_link(text: str, start: int) -> bool:
    """Whether the match at `start` sits in a path after a domain (`x.com/AAPL`); `GME/AMC` does not."""
    if start == 0 or text[start - 1] != "/":
        return False
    floor = max(0, start - _LINK_LOOKBACK)
    word_start = max(max(text.rfind(c, floor, start) for c in _WHITESPACE) + 1, floor)
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


def _in_context(text: str, start: int, end: int) -> bool:
    return bool(_RIGHT_CONTEXT.match(text, end) or _LEFT_CONTEXT.search(text, max(0, start - 30), start))


def _shouted(text: str, start: int, end: int) -> bool:
    """Whether the word at start:end sits in an all-caps stretch, where capitals prove nothing."""
    around = text[max(0, start - _SHOUT_WINDOW) : start] + text[end : end + _SHOUT_WINDOW]
    upper = sum(c.isupper() for c in around)
    lower = sum(c.islower() for c in around)
    return upper >= 12 and upper >= 4 * lower


def extract_tickers(text: str, known: TickerIndex | Collection[str]) -> list[str]:
    """Sorted, de-duplicated ticker symbols mentioned in `text` that appear in `known` (upper-case).

    `known` is best a TickerIndex (built once per universe); a plain collection of symbols is indexed
    on first use and cached.
    """
    if not text:
        return []
    if not isinstance(known, TickerIndex):
        known = index_for(known if type(known) is frozenset else frozenset(known))
    symbols = known.symbols
    found: set[str] = set()
    for match in _MENTION.finditer(text):
        kind = match.lastgroup
        if kind == "url":
            continue
        start = match.start()
        if start and text[start - 1] == "/" and _in_link(text, start):
            continue
        if kind == "cash":
            symbol = _resolve(match.group("cash").upper().replace("/", "."), symbols)
        else:
            bare = match.group("bare")
            if bare in found:
                continue  # already counted: long texts repeat their tickers
            end = match.end()
            if bare in known.shout_safe and not text.startswith(":", end):
                found.add(bare)  # the common case: a plain non-word symbol, nothing else to check
                continue
            bare = bare.replace("/", ".")
            symbol = _resolve(bare, symbols)
            if symbol is None or bare in _NEVER_BARE:
                continue
            if text.startswith(":", end) and text[end + 1 : end + 2].isupper():
                continue  # an exchange prefix ("ETR:ALV", "NYSE:CBZ"), not a symbol
            if len(bare) == 1 and text[max(0, start - 6) : start].lower() == "class ":
                continue  # "Class C shares" is a share class, not Citigroup
            if symbol != bare and symbol in TICKER_BLACKLIST:
                continue  # "BE.A" must not sneak "BE" back in through the base-symbol fallback
            allowed = symbol in known.bare and (symbol in known.shout_safe or not _shouted(text, start, end))
            if not allowed and not _in_context(text, start, end):
                continue
        if symbol is not None:
            found.add(symbol)
    if known.lower_any:
        hits = known.lower_any.intersection(_NON_LETTERS.split(text))
        if hits:
            found.update(_lower_mentions(text, hits, known))
    return sorted(found)


@lru_cache(maxsize=8192)
def _lower_pattern(word: str) -> re.Pattern[str]:
    return re.compile(_LOWER_AT.format(word))


def _lower_mentions(text: str, words: Collection[str], known: TickerIndex) -> set[str]:
    """Symbols among lower-case candidate `words` that count where they stand (not in links)."""
    links = [m.span() for m in _URL.finditer(text)]
    out: set[str] = set()
    for word in words:
        for match in _lower_pattern(word).finditer(text):
            start, end = match.span()
            if any(a <= start < b for a, b in links) or _in_link(text, start):
                continue
            if word in known.lower or _in_context(text, start, end):
                out.add(word.upper())
                break
    return out
