"""Trade only names liquid enough to enter and exit at the quoted price: 20-day average dollar volume."""

from __future__ import annotations

from backend.core.settings import RiskSettings
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.schemas import Candidate, PortfolioState


class LiquidityRule(RiskRule):
    code = "illiquid"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        volume = candidate.avg_dollar_volume_20d
        if volume is None:
            # Fewer than 20 sessions of history: an unknown is not a pass.
            return self.failed(f"{candidate.ticker} has no 20-day average dollar volume yet")
        if volume >= settings.min_avg_dollar_volume:
            return self.passed()
        return self.failed(
            f"20-day average dollar volume {volume:,.0f} is below {settings.min_avg_dollar_volume:,.0f}"
        )
