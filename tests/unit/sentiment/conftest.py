"""Fixtures shared by the sentiment tests."""

from __future__ import annotations

import pytest

from backend.sentiment.scoring import SentimentScorer


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    """One scorer per module: loading the lexicon and VADER takes a moment."""
    return SentimentScorer()
