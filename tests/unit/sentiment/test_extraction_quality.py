"""Extraction on the full bundled universe: precision and recall on the labelled Reddit set, and the traps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from eval_extraction import evaluate, load_labels, universe_index

from backend.sentiment.extract import extract_tickers


@pytest.fixture(scope="module")
def index():
    return universe_index()


def test_labelled_set_is_large_and_mixed() -> None:
    labels = load_labels()
    assert len(labels) >= 150
    assert sum(not expected for _, expected in labels) >= 50  # traps with no ticker at all
    assert {"GME", "AMC", "BB", "SOFI", "KOSS", "PLTR", "SPY", "QQQ", "TQQQ"} <= set().union(
        *(e for _, e in labels)
    )


def test_precision_and_recall_at_least_090(index) -> None:
    scores = evaluate(index, load_labels())
    assert scores.precision >= 0.90, scores.errors
    assert scores.recall >= 0.90, scores.errors


@pytest.mark.parametrize(
    "text",
    [
        "ALL IN, IT IS TIME, ARE YOU READY? FOR THE MOON",
        "NOW or never. OPEN the app. AI and EV are the future. USA USA",
        "DD: CEO bought. YOLO, IMO ATH soon, FD gang, HOLD",
        "GL everyone, TA says up, RSI oversold",
        "let it snow, my cat, gold and the key",
        "WTI crude at 80, FCF yield 5%, tp at $50 and sl at $45",
        "green tdy, great opp, alms for the poor",
    ],
)
def test_english_and_slang_are_not_tickers_in_the_full_universe(index, text: str) -> None:
    assert extract_tickers(text, index) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$ALL $IT $ON $NOW $OPEN $AI $F", ["AI", "ALL", "F", "IT", "NOW", "ON", "OPEN"]),
        ("ON calls and SNOW 180c, CAT to $400", ["CAT", "ON", "SNOW"]),
        ("bought ON at 70", ["ON"]),
        ("I have 10 shares of COST, puts on ON and some VXUS", ["COST", "ON", "VXUS"]),
        ("the cost of shares of the company", []),
        ("GME TO THE MOON", ["GME"]),
        ("spy puts and tqqq", ["SPY", "TQQQ"]),
        ("BRK.B BRK-B BRK/B $brk/b", ["BRK.B"]),
        ("CBIZ's (NYSE:CBZ) and ETR:BMW", ["CBZ"]),  # exchange prefixes are no symbols
    ],
)
def test_dollar_context_and_class_forms(index, text: str, expected: list[str]) -> None:
    assert extract_tickers(text, index) == expected


def test_warrants_units_and_preferreds_are_not_in_the_universe(index) -> None:
    # Real rows of the listing: a warrant, a SPAC unit, rights, a preferred.
    assert not {"GRRRW", "BHAVU", "AACPR", "BFH^A"} & set(index)
    assert extract_tickers("$GRRRW and GRRRW", index) == []
