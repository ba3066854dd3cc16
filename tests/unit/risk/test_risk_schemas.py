"""Inputs are validated: a NaN ATR or a non-positive price is an error naming the field."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("atr_pct", math.nan),
        ("atr_pct", -0.01),
        ("entry_price", 0.0),
        ("confidence", 1.2),
        ("signal", "STRONG_BUY"),
        ("avg_dollar_volume_20d", math.inf),
    ],
)
def test_candidate_rejects_bad_values(make_candidate, field, value):
    with pytest.raises(ValidationError, match=field):
        make_candidate(**{field: value})


def test_state_and_candidate_are_immutable(make_candidate, make_state):
    candidate, state = make_candidate(), make_state(positions=[])
    assert state.positions == ()
    with pytest.raises(ValidationError):
        candidate.confidence = 0.99  # type: ignore[misc]
    with pytest.raises(ValidationError):
        state.cash = 0.0  # type: ignore[misc]
