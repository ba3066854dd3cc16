"""At most `max_positions` concurrent positions."""

from __future__ import annotations

from backend.core.settings import RiskSettings
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.schemas import Candidate, PortfolioState


class MaxPositionsRule(RiskRule):
    code = "max_positions"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        held = len(state.positions)
        if held < settings.max_positions:
            return self.passed()
        return self.failed(f"{held} positions open; the limit is {settings.max_positions}")
