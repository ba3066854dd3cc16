"""One position per ticker: a second BUY on a held name would double its risk."""

from __future__ import annotations

from backend.core.settings import RiskSettings
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.schemas import Candidate, PortfolioState


class AlreadyHeldRule(RiskRule):
    code = "already_held"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        if any(position.ticker == candidate.ticker for position in state.positions):
            return self.failed(f"{candidate.ticker} is already held")
        return self.passed()
