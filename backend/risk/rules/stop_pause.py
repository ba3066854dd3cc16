"""A global pause after a run of stop-outs: `pause_after_stops` stops within `pause_window_days` sessions.

A string of stops usually means the market no longer behaves like the data the model learned from; the
pause lifts by itself once the stops age out of the window.
"""

from __future__ import annotations

from backend.core.calendar import add_trading_days
from backend.core.settings import RiskSettings
from backend.risk.rules.base import RiskRule, RuleResult
from backend.risk.schemas import Candidate, PortfolioState


class StopPauseRule(RiskRule):
    code = "stop_pause"

    def check(self, candidate: Candidate, state: PortfolioState, settings: RiskSettings) -> RuleResult:
        limit, window = settings.pause_after_stops, settings.pause_window_days
        if limit <= 0 or window <= 0:
            return self.passed()
        # The window is the last `window` sessions up to and including the signal date.
        window_start = add_trading_days(candidate.trade_date, -(window - 1))
        in_window = [s for s in state.recent_stops if window_start <= s.date <= candidate.trade_date]
        if len(in_window) < limit:
            return self.passed()
        return self.failed(
            f"{len(in_window)} stop-outs in the last {window} trading days "
            f"(since {window_start.isoformat()}): new entries pause at {limit}"
        )
