"""Precision and recall of ticker extraction on labelled Reddit-style titles and comments.

    uv run --no-sync python tests/benchmarks/eval_extraction.py [--errors]

Data: tests/data/ticker_mentions.csv (text, expected tickers space-separated), written to cover WSB
meme stocks, ETFs, $-mentions, lower case, class shares and the English/slang traps (ALL, IT, ON, NOW,
OPEN, AI, DD, CEO, YOLO...); the last 35 rows are hard cases a reviewer wrote independently of the
rules. Universe: the bundled US listing + curated ETFs (what `tickers seed` stores), with market caps,
as the scraper sees it. Micro-averaged over all (text, ticker) pairs.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.market.universe import bundled_universe  # noqa: E402
from backend.sentiment.extract import extract_tickers  # noqa: E402
from backend.sentiment.ticker_index import TickerIndex  # noqa: E402

LABELS_CSV = REPO_ROOT / "tests/data/ticker_mentions.csv"


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_labels(path: Path = LABELS_CSV) -> list[tuple[str, set[str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [(row["text"], set(row["tickers"].split())) for row in csv.DictReader(f)]


def universe_index() -> TickerIndex:
    infos, _ = bundled_universe()
    return TickerIndex((t.symbol, t.market_cap, t.asset_type) for t in infos)


def evaluate(index: TickerIndex, labels: list[tuple[str, set[str]]]) -> Scores:
    scores = Scores()
    for text, expected in labels:
        got = set(extract_tickers(text, index))
        scores.tp += len(got & expected)
        scores.fp += len(got - expected)
        scores.fn += len(expected - got)
        if got != expected:
            scores.errors.append(f"{text!r}: expected {sorted(expected)}, got {sorted(got)}")
    return scores


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--errors", action="store_true", help="list the texts extracted wrongly")
    args = parser.parse_args()
    labels = load_labels()
    index = universe_index()
    scores = evaluate(index, labels)
    mentions = sum(len(e) for _, e in labels)
    print(f"{len(labels)} texts, {mentions} labelled mentions, universe of {len(index):,} symbols")
    print(
        f"precision {scores.precision:.3f}  recall {scores.recall:.3f}  "
        f"(tp {scores.tp}, fp {scores.fp}, fn {scores.fn})"
    )
    if args.errors:
        for line in scores.errors:
            print("  " + line)


if __name__ == "__main__":
    main()
