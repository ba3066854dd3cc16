"""The promotion gate: never live worse than the prior; challenger and active compared on the same rows."""

from __future__ import annotations

from datetime import date

from backend.ml.models import ModelVersion
from backend.ml.service import MIN_SAME_ROWS, beats_prior, promotion_decision


def active(score: float, loss: float, prior: float) -> ModelVersion:
    return ModelVersion(
        version="active-1",
        oos_score=score,
        as_of=date(2016, 1, 4),
        quality={"log_loss": loss, "prior_log_loss": prior},
    )


def test_the_first_model_goes_live_only_by_beating_the_prior_else_for_ranking_only() -> None:
    good = promotion_decision(-0.68, None, prior_score=-0.69)
    assert good.promoted and "no active model" in good.reason
    poor = promotion_decision(-0.70, None, prior_score=-0.69)
    assert poor.promoted and "ranking only" in poor.reason


def test_a_model_worse_than_the_prior_never_replaces_one_that_beats_it() -> None:
    current = active(-0.65, 0.65, 0.69)
    assert beats_prior(current)
    decision = promotion_decision(-0.70, current, prior_score=-0.69, same_rows=(-0.60, -0.66, 5000))
    assert not decision.promoted and "active model kept" in decision.reason


def test_same_rows_decide_when_there_are_enough_of_them() -> None:
    current = active(-0.60, 0.60, 0.69)  # its stored score looks better than the challenger's ...
    better = promotion_decision(-0.66, current, prior_score=-0.69, same_rows=(-0.64, -0.67, MIN_SAME_ROWS))
    assert better.promoted and better.compared_rows == MIN_SAME_ROWS  # ... but on the same rows it is worse
    worse = promotion_decision(-0.66, current, prior_score=-0.69, same_rows=(-0.68, -0.67, MIN_SAME_ROWS))
    assert not worse.promoted
    few = promotion_decision(-0.66, current, prior_score=-0.69, same_rows=(-0.64, -0.67, MIN_SAME_ROWS - 1))
    assert not few.promoted and "too few rows" in few.reason
