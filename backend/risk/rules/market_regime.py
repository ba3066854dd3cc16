"""The market regime filter: when the index closes below its 200-day SMA, block entries or raise the bar.

`regime_filter`: "off" disables it; "block" rejects every entry in a down regime; "raise_bar" requires
`regime_min_confidence` instead of `min_confidence`. An unknown regime (index history shorter than 200
sessions) applies no filter: the other rules still hold.
"""

from __future__ import annotations

from backend.core.settings import RiskSettings
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.schemas import Candidate, PortfolioState


class MarketRegimeRule(RiskRule):
    code = "regime_block"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        mode = settings.regime_filter
        if mode == "off":
            return self.passed()
        if candidate.market_above_sma200 is None:
            return self.passed("market regime unknown: filter not applied")
        if candidate.market_above_sma200:
            return self.passed()
        if mode == "block":
            return self.failed("the market index is below its 200-day SMA: entries are blocked")
        # Same "must exceed" semantics as the base confidence rule.
        if candidate.confidence > settings.regime_min_confidence:
            return self.passed()
        return RuleResult.fail(
            "regime_confidence",
            f"the market index is below its 200-day SMA: confidence {candidate.confidence:.2f} must exceed "
            f"{settings.regime_min_confidence:.2f}",
        )
