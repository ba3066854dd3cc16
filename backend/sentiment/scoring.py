"""Finance-aware sentiment scoring: VADER plus a stock-market/Reddit lexicon and phrase rewrites.

VADER scores single whitespace-separated tokens, so everything domain-specific happens in one regex pass
before it sees the text:

* multi-word lexicon terms ("diamond hands", "short squeeze", "price target cut") become one token
  ("diamondhands") that the lexicon scores; terms scored 0 ("long time", "short term", "calls for") become
  a token with no score, which removes the context misfire of their words ("long", "short", "calls");
* emoji listed in the lexicon (🚀, 📉, 💎🙌, 🌈🐻) become tokens too, so they score like words;
* cashtags ($LOW, $WIN, $FUN) and URLs are blanked: a symbol or a link is not an opinion;
* signed percentages ("+14.6%", "-3.4%") become the tokens `pctup` / `pctdown`, scored in the lexicon.

A few VADER words are removed (scored 0 in the CSV) because in market text they are names or jargon:
"crude" (oil), "interest" (rates), "shares", "credit", "support" (a chart level), profanity used as
emphasis. A one-sentence question ("Is X a good stock to buy?") is damped: it asks for a view.

"rip" is ambiguous on Reddit ("RIP my portfolio" vs "this is going to rip"), so the bare word scores 0 and
the lexicon scores the unambiguous phrases instead: "rip my"/"rip bulls"/"rip calls" bearish, "rip bears"/
"rip shorts"/"gonna rip"/"ripping" bullish.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentimentIntensityAnalyzer, SentiText

Label = Literal["bullish", "bearish", "neutral"]

DEFAULT_LEXICON_PATH = Path(__file__).with_name("lexicon.csv")

# Compound-score cut-offs, chosen on the tuning data only (Twitter train, the StockTwits 70% tuning part; see
# tests/benchmarks/eval_sentiment.py). Against VADER's ±0.05 they moved Twitter-train accuracy 0.608 -> 0.626
# and StockTwits-tuning accuracy 0.783 -> 0.805 while StockTwits coverage stayed above plain VADER's (0.62
# vs 0.60). The bearish side is wider on purpose: generic negative words (risk, crisis, bad, loss) turn up in
# neutral headlines and in bullish chatter ("bad news priced in"), so a bearish call needs more evidence.
# Wider bands still would raise both accuracies by calling fewer posts; we stopped where coverage would
# drop below plain VADER's.
BULLISH_THRESHOLD = 0.1
BEARISH_THRESHOLD = -0.2

# A one-sentence question asks for a view more than it states one ("Is X a good stock to buy?"), so its
# score is scaled down; strong wording ("rug pull incoming?") still gets through. Posts with more sentences
# before the closing question keep their score.
QUESTION_DAMPING = 0.1

# Posts are scored as "title\nbody". A title that takes a side (|compound| >= TITLE_MIN_POLARITY) gets
# TITLE_WEIGHT of the score, the whole text the rest; a neutral title ("Daily thread", "My thesis") leaves
# the body to speak. Titles are short: a first line longer than TITLE_MAX_CHARS is a body, not a title.
TITLE_WEIGHT = 0.5
TITLE_MIN_POLARITY = 0.05
TITLE_MAX_CHARS = 300

# Signed percentages are rewritten to these tokens; lexicon.csv scores them like words.
PCT_UP_TOKEN = "pctup"
PCT_DOWN_TOKEN = "pctdown"
# Opening a position ("bought 500 shares", "loading calls" / "bought puts") is rewritten to these tokens.
POSITION_BULL_TOKEN = "posopenlong"
POSITION_BEAR_TOKEN = "posopenshort"

# Instruments that rise when the market falls (leveraged inverse ETFs, volatility): a long position in
# them ("bought 100 SQQQ shares", "loading VIX calls") is a bearish bet.
INVERSE_UNDERLYINGS = frozenset({"sqqq", "spxs", "spxu", "sdow", "sh", "psq", "qid", "uvxy", "vxx", "vix"})

# Reddit's placeholders for deleted content carry no opinion.
_PLACEHOLDERS = frozenset({"[deleted]", "[removed]", "[deleted by user]"})

# Emoji may carry a variation selector or a skin tone; the rewrite pattern accepts either after each one.
_EMOJI_MODIFIERS = "[\ufe0f\U0001f3fb-\U0001f3ff]?"
_STRIP_FROM_TERMS = dict.fromkeys(map(ord, "\ufe0f\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff"))
_POSITION_TAIL = (
    r"(?:[ \t]+(?:more|some|a few|the|\d[\d,.]*k?|[a-z]{1,5})){0,3}[ \t]+(?:shares|calls|leaps|puts)\b"
)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_SEPARATORS = re.compile(r"[\s\-]+")
_PLAIN_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    term: str
    score: float


def load_lexicon(path: Path) -> list[LexiconEntry]:
    """Read a term,score,comment CSV; blank rows and rows whose term starts with '#' are skipped."""
    entries: list[LexiconEntry] = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            term = (row.get("term") or "").strip()
            if not term or term.startswith("#"):
                continue
            score = float(row["score"])
            if not -4.0 <= score <= 4.0:
                raise ValueError(f"{path}: score {score} for {term!r} is outside VADER's -4..+4 scale")
            entries.append(LexiconEntry(term.lower().translate(_STRIP_FROM_TERMS), score))
    return entries


def _token_for(term: str) -> str:
    """The single token a multi-word or emoji term is rewritten to before VADER sees it."""
    words = _SEPARATORS.split(term)
    if all(_PLAIN_WORD.fullmatch(w) for w in words):
        return "".join(w.replace("'", "") for w in words)  # "diamond hands" -> "diamondhands"
    # Emoji (or mixed) terms: a stable ASCII name from the code points, e.g. 🚀 -> "emo1f680".
    return "emo" + "".join(f"{ord(c):x}" for c in term if not c.isspace())


_END = ""  # trie key marking the end of a term (no real character is empty)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _trie_pattern(node: dict[str, Any], last: str) -> str:
    """Regex for the rest of the terms below a trie node reached by character `last`; longer
    continuations are tried first."""
    alternatives = []
    ends_here = False
    for char, child in node.items():
        if char == _END:
            ends_here = True
        elif char == " ":
            alternatives.append(r"[\s\-]+" + _trie_pattern(child, char))
        elif _is_word_char(char) or char == "'":
            alternatives.append(re.escape(char) + _trie_pattern(child, char))
        else:
            alternatives.append(re.escape(char) + _EMOJI_MODIFIERS + _trie_pattern(child, char))
    if ends_here:
        # Word terms must end at a word boundary ("rip my" must not match "rip myself"); emoji need not.
        alternatives.append(r"(?!\w)" if _is_word_char(last) else "")
    if len(alternatives) == 1:
        return alternatives[0]
    return "(?:" + "|".join(alternatives) + ")"


class FastVader(SentimentIntensityAnalyzer):
    """Stock VADER scoring with a faster emoji pass; the scores are identical (a test compares them).

    vaderSentiment 3.3.2 swaps emoji for their descriptions by growing a string one character at a time,
    which costs about a quarter of `polarity_scores` on short posts. Here ASCII text (no emoji possible)
    skips that pass and other text builds a list; the rest is VADER's own steps in VADER's order.
    """

    def _replace_emoji(self, text: str) -> str:
        if text.isascii():
            return text.strip()
        parts: list[str] = []
        prev_space = True
        for char in text:
            description = self.emojis.get(char)
            if description is not None:
                if not prev_space:
                    parts.append(" ")
                parts.append(description)
                prev_space = False
            else:
                parts.append(char)
                prev_space = char == " "
        return "".join(parts).strip()

    def polarity_scores(self, text: str) -> dict[str, float]:
        text = self._replace_emoji(text)
        sentitext = SentiText(text)
        sentiments: list[float] = []
        words = sentitext.words_and_emoticons
        for i, item in enumerate(words):
            lowered = item.lower()
            if lowered in BOOSTER_DICT or (
                lowered == "kind" and i < len(words) - 1 and words[i + 1].lower() == "of"
            ):
                sentiments.append(0)  # boosters and "kind of" modify their neighbours, carry no valence
                continue
            sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
        sentiments = self._but_check(words, sentiments)
        return self.score_valence(sentiments, text)


class SentimentScorer:
    """VADER with a finance lexicon; `score` is VADER's compound score in [-1, 1].

    `lexicon_path` is layered over the packaged lexicon (its entries win), so a user file only needs the
    terms it adds or changes.
    """

    def __init__(self, lexicon_path: Path | None = None, max_chars: int = 5000) -> None:
        self.max_chars = max_chars
        self._vader = FastVader()
        entries = load_lexicon(DEFAULT_LEXICON_PATH)
        if lexicon_path is not None:
            entries += load_lexicon(Path(lexicon_path))
        self._rewrites: dict[str, str] = {}
        self._apply(entries)
        self._pattern = self._compile(self._rewrites)

    def _apply(self, entries: Iterable[LexiconEntry]) -> None:
        lexicon = self._vader.lexicon
        for entry in entries:
            if " " in entry.term or "-" in entry.term or not _PLAIN_WORD.fullmatch(entry.term):
                token = _token_for(entry.term)
                self._rewrites[_SEPARATORS.sub(" ", entry.term)] = token
            else:
                token = entry.term
            if entry.score == 0.0:
                # Dropping the key (rather than scoring 0) also stops VADER treating it as a sentiment
                # word in its booster/negation look-backs.
                lexicon.pop(token, None)
            else:
                lexicon[token] = entry.score

    @staticmethod
    def _compile(rewrites: dict[str, str]) -> re.Pattern[str]:
        """One pattern for URLs, cashtags, signed percentages and every rewrite term, matched on lower-cased
        text. Every top-level branch starts with a plain character and the terms form a trie, so `re` can
        skip positions by first character and try one branch per letter; a flat case-insensitive
        alternation of ~100 phrases was 2.5x slower than VADER itself."""
        branches = [
            r"https?://\S+",
            r"www\.\S+",
            r"\$(?<![\w$]\$)[a-z]{1,6}(?:\.[a-z]{1,2})?(?![\w$])",
            *(re.escape(sign) + r"(?<![\w.].)\d+(?:\.\d+)?%" for sign in "+-\u2212"),
            # Opening a position: "bought 500 shares", "loading pltr calls", "bought more puts". The
            # direction is the instrument's (puts bet on a fall); the count or ticker in between is skipped.
            *(
                head[0] + rf"(?<![\w$]{head[0]}){head[1:]}" + _POSITION_TAIL
                for head in ("b(?:ought|uying|uy)", "load(?:ed|ing)", "add(?:ed|ing)", "grabbed")
            ),
            # "up 300%" / "down 40%": the same verdict as a signed percentage.
            r"u(?<![\w$]u)p[ \t]+\d+(?:\.\d+)?%",
            r"d(?<![\w$]d)own[ \t]+\d+(?:\.\d+)?%",
        ]
        trie: dict[str, Any] = {}
        for term in rewrites:
            node = trie
            for char in term:
                node = node.setdefault(char, {})
            node[_END] = {}
        for char, child in trie.items():
            head = re.escape(char)
            if _is_word_char(char):
                head += r"(?<![\w$].)"  # the term starts a word (checked after the literal, see docstring)
            else:
                head += _EMOJI_MODIFIERS
            branches.append(head + _trie_pattern(child, char))
        return re.compile("|".join(branches))

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group(0)
        first = found[0]
        if first == "$" or found.startswith(("http", "www.")):
            return " "  # a symbol or a link is not an opinion (and "$LOW" must not read as "low")
        key = _SEPARATORS.sub(" ", found).translate(_STRIP_FROM_TERMS)
        if key in self._rewrites:
            # A lexicon phrase ending in an instrument ("rip calls", "vix calls") is scored as written,
            # not as a position opened in that instrument.
            return f" {self._rewrites[key]} "
        if found.endswith(("shares", "calls", "leaps", "puts")):
            bearish = found.endswith("puts")
            words = found.split()
            if len(words) >= 2 and words[-2] in INVERSE_UNDERLYINGS:
                bearish = not bearish  # "loading SQQQ calls" bets on a fall
            return f" {POSITION_BEAR_TOKEN} " if bearish else f" {POSITION_BULL_TOKEN} "
        if found[-1] == "%" and first in "ud":
            if not found.split()[-1][:-1].strip("0."):
                return " "
            return f" {PCT_UP_TOKEN} " if first == "u" else f" {PCT_DOWN_TOKEN} "
        if first in "+-\u2212":
            # A signed move ("+14.6%", "(-3.4% pre)") is the headline's verdict; "+0.0%" says nothing.
            if not found[1:-1].strip("0."):
                return " "
            return f" {PCT_UP_TOKEN} " if first == "+" else f" {PCT_DOWN_TOKEN} "
        return found  # every branch of the pattern is handled above

    def _rewrite(self, text: str) -> str:
        lowered = text.lower()
        if len(lowered) != len(text):
            text = lowered  # a few characters change length when lower-cased; spans must line up
        parts: list[str] = []
        last = 0
        for match in self._pattern.finditer(lowered):
            parts.append(text[last : match.start()])
            parts.append(self._replace(match))
            last = match.end()
        if not parts:
            return text
        parts.append(text[last:])
        return "".join(parts)

    def prepare(self, text: str | bytes | None) -> str:
        """The text VADER scores: decoded, capped at max_chars, unescaped, phrases and emoji rewritten."""
        if text is None:
            return ""
        if isinstance(text, bytes):
            # Cap before decoding too: a huge byte blob should not cost a full decode.
            text = text[: self.max_chars * 4].decode("utf-8", errors="replace")
        text = text[: self.max_chars].strip()
        if not text or text.lower() in _PLACEHOLDERS:
            return ""
        if "&" in text:
            text = html.unescape(text)  # Reddit and StockTwits deliver &amp; / &#39; escaped
        # VADER's negation list spells "don't" with an ASCII apostrophe; phones type a curly one.
        text = text.replace("\u2019", "'")
        return self._rewrite(text)

    def score(self, text: str | bytes | None) -> float:
        """Compound score in [-1, 1]. A post scored as "title\nbody" leans on its title when the title
        takes a side: on Reddit the title usually states the stance and the body argues or rambles."""
        if isinstance(text, str) and "\n" in text:
            title, _, body = text.partition("\n")
            if title.strip() and body.strip() and len(title) <= TITLE_MAX_CHARS:
                whole = self._score_text(text)
                head = self._score_text(title)
                if title.rstrip().endswith("?"):
                    # "Should I buy GME or AMC?" asks for views: damped like a one-sentence question.
                    whole *= QUESTION_DAMPING
                if abs(head) >= TITLE_MIN_POLARITY:
                    return TITLE_WEIGHT * head + (1 - TITLE_WEIGHT) * whole
                return whole
        return self._score_text(text)

    def _score_text(self, text: str | bytes | None) -> float:
        prepared = self.prepare(text).rstrip()
        if not prepared:
            return 0.0
        compound = float(self._vader.polarity_scores(prepared)["compound"])
        if prepared.endswith("?") and not _SENTENCE_END.search(prepared, 0, len(prepared) - 1):
            compound *= QUESTION_DAMPING
        return compound

    @staticmethod
    def label(compound: float) -> Label:
        if compound >= BULLISH_THRESHOLD:
            return "bullish"
        if compound <= BEARISH_THRESHOLD:
            return "bearish"
        return "neutral"

    def analyze(self, text: str | bytes | None) -> tuple[float, Label]:
        compound = self.score(text)
        return compound, self.label(compound)


_plain_vader: SentimentIntensityAnalyzer | None = None


def plain_vader_score(text: str) -> float:
    """Stock VADER compound score of `text`, untouched: the baseline for benchmarks and evaluation."""
    global _plain_vader
    if _plain_vader is None:
        _plain_vader = SentimentIntensityAnalyzer()
    return float(_plain_vader.polarity_scores(text)["compound"])


class MemoScorer(SentimentScorer):
    """A scorer that scores each distinct text once: a generated feed repeats a few templates per ticker
    (the synthetic demo feed: ~40k posts, ~9k distinct texts)."""

    def __init__(self, lexicon_path: Path | None = None, max_chars: int = 5000) -> None:
        super().__init__(lexicon_path, max_chars)
        self._memo: dict[str | bytes | None, tuple[float, Label]] = {}

    def analyze(self, text: str | bytes | None) -> tuple[float, Label]:
        hit = self._memo.get(text)
        if hit is None:
            hit = self._memo[text] = super().analyze(text)
        return hit
