"""Which symbols of a 7,000-name universe a post may name bare, and which only unambiguously.

With every US listing known, plenty of English is also a symbol (ALL, ARE, FOR, IT, ON, NOW, OPEN, AI, CAT,
SNOW, KEY, GL...). Each symbol gets one of four levels, decided once per universe:

* `$X` always counts (any symbol, any case): a cashtag is explicit;
* **bare** - counts written in capitals anywhere: non-words such as GME, PLTR, AMC, NVDA, META;
* **shout-safe** - bare symbols that are no English word at all (word frequency < 3 per the `wordfreq`
  Zipf scale, i.e. under one use per million words) still count inside a shouted all-caps sentence
  ("GME TO THE MOON"), where every word is in capitals and capitals prove nothing;
* **lower** - shout-safe symbols of listed companies worth >= $1B or curated ETFs also count in lower case
  ("bought more gme", "tqqq"): small caps in lower case are more often typos and names than tickers;
* everything else - English words (Zipf >= 4, e.g. CAT, SNOW, GOLD), the slang/jargon blacklist (YOLO, DD,
  CEO, IMO, ATH...), single letters and listed two-letter symbols (GL, UI, TD; a two-letter symbol the
  user added, e.g. FB from the sample data, counts bare) - counts only with `$` or
  in an unambiguous context: `ALL calls`, `SNOW 180c`, `bought ON`, `CAT to $400` (see extract.py).

A short allow-list keeps word-like symbols that trading forums use bare for the company (SPY, HOOD, ARM,
COIN, BB, GE, MU...).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

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
    SOS CUZ ALOT SWAG MOMO BRO BROS WWW EMO LFG GG GL IIRC FWIW IRL NGL FTW POV AF RN HMU SMH TBF
    DIP RED POP BAG BAGS RUG DRILL BURN CALLS PUTS SHARE HUGE LINE STOCK HERE HELP GAME GOLD
    RSI MACD EMA SMA VWAP ATR OBV ADX TP SL WTI FCF EBIT ROI ROE NAV AUM CAGR
    """.split()  # noqa: SIM905
)

# Lower-case chat shorthand, typos and non-English words that are also symbols of large companies: in
# lower case they need context like any English word (found on the shared StockTwits/Twitter texts).
LOWER_CASE_WORDS: frozenset[str] = frozenset("tdy opp azz ful kep mua onc alms tho pls plz thx".split())  # noqa: SIM905

# Word-like symbols (Zipf >= 4, or two letters) that trading forums use bare for the company or fund.
WORD_TICKERS: frozenset[str] = frozenset(
    [
        "SPY",
        "HOOD",
        "ARM",
        "COIN",
        "SHOP",
        "DASH",
        "SNAP",
        "EBAY",
        "APP",
        "BA",
        "BB",
        "GE",
        "GM",
        "KO",
        "MU",
        "JD",
        "PG",
        "SH",
    ]
)

ENGLISH_ZIPF = 4.0  # >= 1 use in 10,000 words: an English word first (CAT, SNOW, GOLD, FIVE)
NON_WORD_ZIPF = 3.0  # < 1 use per million words: no word at all (GME, PLTR, TQQQ)
LOWER_MIN_CAP = 1e9

Profile = tuple[str, float | None, str | None]  # (symbol, market cap in USD, asset type)


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency  # ~1 s to load its tables: only when an index is built

    return float(zipf_frequency(word.lower(), "en"))


class TickerIndex:
    """The symbols extraction validates against, each with the ways it may be written (see module doc).

    Behaves as a read-only set of the symbols (`in`, `len`, iteration).
    """

    def __init__(self, profiles: Iterable[Profile | str]) -> None:
        bare: set[str] = set()
        shout: set[str] = set()
        lower: set[str] = set()
        lower_ctx: set[str] = set()
        symbols: set[str] = set()
        for item in profiles:
            symbol, cap, kind = (item, None, None) if isinstance(item, str) else item
            symbols.add(symbol)
            base = symbol.split(".", 1)[0]
            if symbol in TICKER_BLACKLIST or len(base) == 1:
                continue
            zipf = _zipf(base)
            if (zipf < ENGLISH_ZIPF or symbol in WORD_TICKERS) and len(base) >= 2:
                lower_ctx.add(symbol.lower())  # "spy puts", "amc shares": lower case with context
            if symbol in WORD_TICKERS:
                bare.add(symbol)
                continue
            # Two letters are mostly abbreviations (GL, UI, TD); a symbol the user added themselves
            # (watchlist, sample data: no asset type) is taken at their word.
            if zipf >= ENGLISH_ZIPF or (len(base) == 2 and kind is not None):
                continue
            bare.add(symbol)
            if zipf < NON_WORD_ZIPF:
                shout.add(symbol)
                if base.lower() in LOWER_CASE_WORDS:
                    continue
                if len(base) >= 3 and (kind == "etf" or (cap or 0.0) >= LOWER_MIN_CAP or kind is None):
                    lower.add(symbol.lower())
        self.symbols = frozenset(symbols)
        self.bare = frozenset(bare)
        self.shout_safe = frozenset(shout)
        self.lower = frozenset(lower)
        self.lower_in_context = frozenset(lower_ctx)
        self.lower_any = self.lower | self.lower_in_context

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.symbols

    def __iter__(self) -> Iterator[str]:
        return iter(self.symbols)

    def __len__(self) -> int:
        return len(self.symbols)


@lru_cache(maxsize=8)
def index_for(symbols: frozenset[str]) -> TickerIndex:
    """A TickerIndex for a plain symbol set (no market caps), cached: building one takes a moment."""
    return TickerIndex(symbols)
