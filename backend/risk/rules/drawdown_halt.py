"""Stop opening positions in a deep drawdown, and whenever the (latched) kill switch is set.

The drawdown check is live: it blocks while equity is more than `max_drawdown_pct` below its peak. The kill
switch is the manual/latched halt: `manager.update_kill_switch` sets it when the drawdown limit is breached
and only a user clears it (`manager.reset_kill_switch`). Two rules, so a rejection lists both reasons.
"""

from __future__ import annotations

from backend.core.settings import RiskSettings
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.schemas import Candidate, PortfolioState


class DrawdownHaltRule(RiskRule):
    code = "drawdown_halt"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        # 1 - 85_000/100_000 is 0.15000000000000002 in floats: exactly at the limit is not past it.
        if state.drawdown > settings.max_drawdown_pct + 1e-12:
            return self.failed(
                f"drawdown {state.drawdown:.2%} is past the {settings.max_drawdown_pct:.0%} limit: "
                "new entries are halted"
            )
        return self.passed()


class KillSwitchRule(RiskRule):
    code = "kill_switch"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        if state.kill_switch:
            return self.failed("the kill switch is set: new entries are halted until a user resets it")
        return self.passed()
