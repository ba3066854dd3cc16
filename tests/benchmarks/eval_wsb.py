"""Accuracy of plain VADER vs the finance scorer on WallStreetBets-style posts (title + body).

    uv run --no-sync python tests/benchmarks/eval_wsb.py

Data: tests/data/wsb_posts.csv, 270 hand-written posts in the style of r/wallstreetbets (title, body,
label; the last 30 are hard cases a reviewer wrote independently of the scorer: sarcasm, loss posts,
questions, bearish bets through calls on SQQQ/VIX), class mix close to the hidden WSB set the targets
are quoted on (bullish 43%, neutral 31%, bearish 26%). Posts are scored as the scraper scores them:
"title\\nbody". Prints accuracy and the confusion matrix (rows = gold label, columns = predicted) per scorer.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from backend.sentiment.scoring import SentimentScorer, plain_vader_score  # noqa: E402

WSB_CSV = REPO_ROOT / "tests/data/wsb_posts.csv"
LABELS = ("bullish", "neutral", "bearish")


def load_wsb(path: Path = WSB_CSV) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [(f"{row['title']}\n{row['body']}", row["label"]) for row in csv.DictReader(f)]


def plain_label(text: str) -> str:
    compound = plain_vader_score(text)
    return "bullish" if compound >= 0.05 else "bearish" if compound <= -0.05 else "neutral"


def confusion(rows: Sequence[tuple[str, str]], predict: Callable[[str], str]) -> Counter[tuple[str, str]]:
    return Counter((gold, predict(text)) for text, gold in rows)


def report(name: str, matrix: Counter[tuple[str, str]]) -> float:
    n = sum(matrix.values())
    accuracy = sum(matrix[(label, label)] for label in LABELS) / max(n, 1)
    print(f"{name}: accuracy {accuracy:.3f} on {n}")
    print("  " + "gold / predicted".ljust(18) + "".join(f"{label:>9}" for label in LABELS))
    for gold in LABELS:
        print(f"  {gold:18}" + "".join(f"{matrix[(gold, p)]:>9}" for p in LABELS))
    return accuracy


def main() -> None:
    rows = load_wsb()
    scorer = SentimentScorer()
    report("plain VADER (±0.05)", confusion(rows, plain_label))
    report("finance scorer", confusion(rows, lambda text: scorer.analyze(text)[1]))


if __name__ == "__main__":
    main()
