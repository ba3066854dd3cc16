"""Risk rules, one per module, behind `RiskRule`; `DEFAULT_RULES` is what the manager runs."""

from __future__ import annotations

from backend.risk.rules.already_held import AlreadyHeldRule
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.rules.confidence import ConfidenceRule
from backend.risk.rules.cooldown_after_stop import CooldownAfterStopRule
from backend.risk.rules.drawdown_halt import DrawdownHaltRule, KillSwitchRule
from backend.risk.rules.liquidity import LiquidityRule
from backend.risk.rules.market_regime import MarketRegimeRule
from backend.risk.rules.max_positions import MaxPositionsRule
from backend.risk.rules.sector_cap import SectorCapRule, sector_exposure
from backend.risk.rules.stop_pause import StopPauseRule

# Order is the order reasons are listed in: portfolio-wide halts first, then the candidate's own checks.
DEFAULT_RULES: tuple[RiskRule, ...] = (
    KillSwitchRule(),
    DrawdownHaltRule(),
    StopPauseRule(),
    MaxPositionsRule(),
    ConfidenceRule(),
    MarketRegimeRule(),
    AlreadyHeldRule(),
    CooldownAfterStopRule(),
    LiquidityRule(),
    SectorCapRule(),
)

__all__ = [
    "DEFAULT_RULES",
    "AlreadyHeldRule",
    "ConfidenceRule",
    "CooldownAfterStopRule",
    "DrawdownHaltRule",
    "KillSwitchRule",
    "LiquidityRule",
    "MarketRegimeRule",
    "MaxPositionsRule",
    "RiskRule",
    "RuleResult",
    "SectorCapRule",
    "StopPauseRule",
    "sector_exposure",
]
