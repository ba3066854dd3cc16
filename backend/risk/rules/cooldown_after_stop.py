"""No re-entry in a ticker for `cooldown_days_after_stop` trading days after it was stopped out."""

from __future__ import annotations

from backend.core.calendar import add_trading_days
from backend.core.settings import RiskSettings
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.schemas import Candidate, PortfolioState


class CooldownAfterStopRule(RiskRule):
    """Counted in NYSE sessions, so a holiday does not shorten the cooldown.

    With N = 5 the N sessions after the stop take no new fill: a signal is allowed from the N-th session
    after the stop on, because it fills at the next open, the (N+1)-th session.
    """

    code = "cooldown_after_stop"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        days = settings.cooldown_days_after_stop
        if days <= 0:
            return self.passed()
        stops = [stop.date for stop in state.recent_stops if stop.ticker == candidate.ticker]
        if not stops:
            return self.passed()
        last_stop = max(stops)
        allowed_from = add_trading_days(last_stop, days)
        if candidate.trade_date >= allowed_from:
            return self.passed()
        return self.failed(
            f"{candidate.ticker} was stopped out on {last_stop.isoformat()}: no re-entry for {days} trading "
            f"days (signals allowed from {allowed_from.isoformat()})"
        )
