"""Cutting a step's tickers into batches and adding up what they report."""

from __future__ import annotations

from backend.core.settings import override_settings
from backend.tasks.scale import batch_name, merge, plan


def test_batches_are_sorted_cuts_named_for_their_place_and_tickers() -> None:
    with override_settings(tasks={"batch_size": 2}):
        batches = plan("features", ["MSFT", "AAPL", "IBM", "GOOG", "AAPL"])
    assert [b.tickers for b in batches] == [["AAPL", "GOOG"], ["IBM", "MSFT"]]
    assert [b.name.rsplit("-", 1)[0] for b in batches] == [
        "features:batch-001-of-002",
        "features:batch-002-of-002",
    ]
    # Another universe cut into as many batches is another run, never "already done" for these tickers.
    assert batch_name("features", 0, 2, ["AAPL", "GOOG"]) == batches[0].name
    assert batch_name("features", 0, 2, ["AAPL", "GME"]) != batches[0].name
    assert len(batch_name("predictions", 999, 999, ["A"] * 50)) <= 64  # fits `pipeline_runs.task`


def test_batch_counts_add_up() -> None:
    parts = [
        {"features": 2, "skipped": {"FB": "too little history"}, "source": "sample"},
        {"features": 1, "skipped": {}, "source": "sample"},
    ]
    assert merge(parts) == {"features": 3, "skipped": {"FB": "too little history"}, "source": "sample"}
