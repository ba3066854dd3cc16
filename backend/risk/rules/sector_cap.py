"""At most `max_sector_pct` of equity in one sector, counting the new position at its proposed size.

A ticker whose sector is unknown is not capped: lumping every unknown ticker into one "Unknown" sector
would make an import without sectors look like one concentrated bet and reject most of it. The decision
notes that the cap did not apply, so a user sees it and can add the sector.
"""

from __future__ import annotations

from collections import defaultdict

from backend.core.settings import RiskSettings
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.schemas import Candidate, PortfolioState
from backend.risk.sizing import size_position


def sector_exposure(state: PortfolioState) -> dict[str, float]:
    """Market value held per known sector (positions without a sector are not counted)."""
    exposure: dict[str, float] = defaultdict(float)
    for position in state.positions:
        if position.sector:
            exposure[position.sector] += position.market_value
    return dict(exposure)


class SectorCapRule(RiskRule):
    code = "sector_cap"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        if state.equity <= 0:
            return self.failed("equity is zero: no sector room")
        sector = candidate.sector
        if not sector:
            return self.passed(
                f"{candidate.ticker}'s sector is unknown: "
                f"the {settings.max_sector_pct:.0%} sector cap was not applied"
            )
        held = sector_exposure(state).get(sector, 0.0)
        proposed = size_position(candidate, state, settings).position_value
        share = (held + proposed) / state.equity
        # A hair of tolerance: 10% + 20% of equity is exactly at a 30% cap, not over it.
        if share <= settings.max_sector_pct + 1e-9:
            return self.passed()
        return self.failed(
            f"{sector} would be {share:.1%} of equity ({held:,.0f} held + {proposed:,.0f} new); "
            f"the cap is {settings.max_sector_pct:.0%}"
        )
