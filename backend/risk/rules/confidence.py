"""Only act on confident calls: the model's probability must exceed `min_confidence`."""

from __future__ import annotations

from backend.core.settings import RiskSettings
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.schemas import Candidate, PortfolioState


class ConfidenceRule(RiskRule):
    code = "confidence_below_min"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        # The product says "confidence > 0.70": exactly the threshold is not enough.
        if candidate.confidence > settings.min_confidence:
            return self.passed()
        return self.failed(
            f"confidence {candidate.confidence:.2f} does not exceed the minimum {settings.min_confidence:.2f}"
        )
