"""Stop and target levels: hand-computed cases and the product's invariants."""

from __future__ import annotations

import numpy as np
import pytest

from backend.core.errors import ValidationFailed
from backend.core.settings import RiskSettings
from backend.features.barriers import MIN_STOP_PCT, barrier_levels

RISK = RiskSettings()


@pytest.mark.parametrize(
    ("atr_pct", "stop", "target"),
    [
        (0.008, 0.016, 0.05),  # quiet: 2 x 0.8% stop, the 5% minimum target (3.1:1)
        (0.0175, 0.035, 0.07),  # 2 x 1.75% stop, 2:1 target
        (0.04, 0.05, 0.10),  # volatile: stop capped at 5%, so the target is 10%
        (0.09, 0.05, 0.10),  # very volatile: both capped
        (0.002, MIN_STOP_PCT, 0.05),  # nearly flat: the 1% floor
    ],
)
def test_hand_computed_levels(atr_pct: float, stop: float, target: float) -> None:
    got = barrier_levels(atr_pct, RISK)
    assert isinstance(got[0], float) and isinstance(got[1], float)
    assert got == pytest.approx((stop, target), abs=1e-15)


def test_stop_is_tightened_when_the_target_cap_breaks_reward_to_risk() -> None:
    strict = RiskSettings(min_reward_risk=3.0)
    # 2 x 4% = 8% stop -> capped at 5%; 3 x 5% = 15% target -> capped at 10%; stop tightened to 10% / 3.
    assert barrier_levels(0.04, strict) == pytest.approx((0.10 / 3, 0.10))


def test_arrays_in_arrays_out_and_nan_stays_nan() -> None:
    stop, target = barrier_levels(np.array([0.008, np.nan, 0.04]), RISK)
    np.testing.assert_allclose(stop, [0.016, np.nan, 0.05])
    np.testing.assert_allclose(target, [0.05, np.nan, 0.10])


@pytest.mark.parametrize(
    "risk",
    [
        RISK,
        RiskSettings(min_reward_risk=3.0),
        RiskSettings(atr_stop_multiple=1.0),
        RiskSettings(max_stop_pct=0.03),
    ],
)
def test_invariants_hold_for_any_atr(risk: RiskSettings) -> None:
    rng = np.random.default_rng(3)
    atr = np.concatenate([rng.uniform(0, 0.2, 20_000), rng.lognormal(np.log(0.02), 1.0, 20_000), [0.0]])
    stop, target = barrier_levels(atr, risk)
    assert np.all(stop <= risk.max_stop_pct + 1e-15)
    assert np.all(stop > 0)
    assert np.all((target >= risk.min_target_pct - 1e-15) & (target <= risk.max_target_pct + 1e-15))
    assert np.all(target >= risk.min_reward_risk * stop - 1e-12)
    # A stop only moves with volatility: a noisier stock never gets a tighter stop.
    order = np.argsort(atr)
    assert np.all(np.diff(stop[order]) >= -1e-15)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match="atr_pct"):
        barrier_levels(-0.01, RISK)
    with pytest.raises(ValidationFailed, match="min_target_pct"):
        barrier_levels(0.02, RiskSettings(min_target_pct=0.12))
