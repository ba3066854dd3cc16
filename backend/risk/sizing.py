"""Position sizing: fixed-fractional risk, capped by the position limit and by the cash on hand.

The stop and target come from `features.barriers.barrier_levels`, the same function the training labels use,
so the model learns exactly the exits the risk manager places.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from backend.core.settings import RiskSettings
from backend.features.barriers import barrier_levels
from backend.risk.schemas import Candidate, PortfolioState, SizeLimit

# Share counts come from float divisions such as 2000 / (50 * 0.04); the nudge keeps a quotient that is
# 1000 up to rounding error from flooring to 999, and is far too small to add a share otherwise.
_FLOOR_EPSILON = 1e-9
# Levels are produced by float arithmetic too; a 2.0 reward/risk must not fail as 1.9999999999999998.
_LEVEL_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Sizing:
    """Exit levels and the share count for one candidate; `problems` are (code, message) rejections."""

    stop_pct: float
    target_pct: float
    stop_price: float
    target_price: float
    reward_risk: float | None
    shares: int
    position_value: float
    position_pct: float
    risk_amount: float
    limited_by: SizeLimit | None
    problems: tuple[tuple[str, str], ...]


def whole_shares(amount: float) -> int:
    """Floor a non-negative share quotient to an int, tolerant of float rounding just below an integer."""
    if not math.isfinite(amount) or amount <= 0:
        return 0
    return math.floor(amount + _FLOOR_EPSILON)


def slippage_fraction(settings: RiskSettings) -> float:
    return settings.slippage_bps / 10_000.0


def entry_cost(shares: int, price: float, settings: RiskSettings) -> float:
    """Estimated cash an entry takes: the shares at `price` plus slippage, plus one commission."""
    if shares <= 0:
        return 0.0
    return shares * price * (1.0 + slippage_fraction(settings)) + settings.commission_per_trade


def affordable_shares(cash: float, price: float, settings: RiskSettings) -> int:
    """The most shares whose `entry_cost` fits in `cash`."""
    spendable = cash - settings.commission_per_trade
    shares = whole_shares(spendable / (price * (1.0 + slippage_fraction(settings))))
    # `whole_shares` forgives float error upwards; a count that then costs a fraction of a cent more than
    # the cash would be refused at the fill, so step back.
    while shares > 0 and entry_cost(shares, price, settings) > cash:
        shares -= 1
    return shares


def level_problems(stop_pct: float, target_pct: float, settings: RiskSettings) -> list[tuple[str, str]]:
    """The product's bounds on exits (stop <= 5%, target 5-10%, reward >= 2x risk), checked again here.

    `barrier_levels` is built to satisfy them; this guard keeps a future change there from silently
    placing trades outside the limits the product promises.
    """
    tol = _LEVEL_TOLERANCE
    problems: list[str] = []
    if not (0.0 < stop_pct <= settings.max_stop_pct + tol):
        problems.append(f"stop {stop_pct:.2%} is outside (0, {settings.max_stop_pct:.2%}]")
    if not (settings.min_target_pct - tol <= target_pct <= settings.max_target_pct + tol):
        problems.append(
            f"target {target_pct:.2%} is outside "
            f"[{settings.min_target_pct:.2%}, {settings.max_target_pct:.2%}]"
        )
    if stop_pct > 0 and target_pct / stop_pct < settings.min_reward_risk - tol:
        problems.append(
            f"reward/risk {target_pct / stop_pct:.2f} is below the minimum {settings.min_reward_risk:.2f}"
        )
    return [("levels_out_of_bounds", message) for message in problems]


def size_position(candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> Sizing:
    """Levels from the ATR, then shares = floor(equity x risk% / per-share risk), capped by size and cash.

    The per-share risk is `entry x stop_pct`; the position is capped at `max_position_pct` of equity and at
    what the cash buys after estimated slippage and commission.
    """
    stop_pct, target_pct = barrier_levels(candidate.atr_pct, settings)
    stop_pct, target_pct = float(stop_pct), float(target_pct)
    price = candidate.entry_price
    problems = level_problems(stop_pct, target_pct, settings)

    equity = state.equity
    risk_budget = equity * settings.risk_per_trade_pct
    by_risk = whole_shares(risk_budget / (price * stop_pct)) if stop_pct > 0 else 0
    by_position = whole_shares(equity * settings.max_position_pct / price)
    by_cash = affordable_shares(state.cash, price, settings)
    limits: list[tuple[int, SizeLimit]] = [
        (by_risk, "risk"),
        (by_position, "max_position"),
        (by_cash, "cash"),
    ]
    # min() keeps the first of equal limits, so a tie is attributed to risk, then the position cap.
    shares, limited_by = min(limits, key=lambda item: item[0])

    if shares == 0:
        if min(by_risk, by_position) == 0:
            problems.append(
                (
                    "size_zero",
                    f"not one share fits: risk budget {risk_budget:,.2f} at {stop_pct:.2%} stop allows "
                    f"{by_risk}, the {settings.max_position_pct:.0%} position cap allows {by_position}",
                )
            )
        else:
            problems.append(
                (
                    "insufficient_cash",
                    f"cash {state.cash:,.2f} does not buy one share at {price:,.2f} with costs",
                )
            )

    position_value = shares * price
    return Sizing(
        stop_pct=stop_pct,
        target_pct=target_pct,
        stop_price=price * (1.0 - stop_pct),
        target_price=price * (1.0 + target_pct),
        reward_risk=target_pct / stop_pct if stop_pct > 0 else None,
        shares=shares,
        position_value=position_value,
        position_pct=position_value / equity if equity > 0 else 0.0,
        risk_amount=position_value * stop_pct,
        limited_by=limited_by,
        problems=tuple(problems),
    )
