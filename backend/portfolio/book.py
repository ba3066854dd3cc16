"""A paper portfolio's whole book: the ledger plus what the ledger does not know about.

Pending entries (approved after a close, filled at the next open), exit orders (a SELL or bearish Reddit
mood decided after a close, executed at the next open), the signal records those came from, the
high-water mark and the kill switch. The live portfolio and every backtest run are a `PaperBook`; the
portfolio service stores and restores it, the signals domain advances it one session at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from backend.core.settings import RiskSettings
from backend.portfolio.ledger import Ledger
from backend.portfolio.positions import SignalRecord
from backend.risk.manager import reset_kill_switch, update_kill_switch
from backend.risk.schemas import PortfolioState


@dataclass
class PaperBook:
    ledger: Ledger
    peak_equity: float
    kill_switch: bool = False
    kill_switch_reason: str | None = None
    last_session: date | None = None  # the latest session whose bar has been processed
    last_signal_date: date | None = None  # the latest session whose after-close signals exist
    pending: dict[str, SignalRecord] = field(default_factory=dict)  # ticker -> approved, not yet filled
    active: dict[str, SignalRecord] = field(default_factory=dict)  # ticker -> the signal of a holding
    exit_orders: dict[str, str] = field(default_factory=dict)  # ticker -> why it sells at the next open
    # Every record created or changed since the book was loaded: what the service writes back.
    touched: dict[tuple[str, date], SignalRecord] = field(default_factory=dict)

    @classmethod
    def new(cls, settings: RiskSettings, starting_cash: float | None = None) -> PaperBook:
        ledger = Ledger(settings, starting_cash=starting_cash)
        return cls(ledger=ledger, peak_equity=ledger.starting_cash)

    @property
    def settings(self) -> RiskSettings:
        return self.ledger.settings

    @property
    def drawdown(self) -> float:
        return self.state(self._as_of).drawdown

    def touch(self, record: SignalRecord) -> SignalRecord:
        self.touched[record.key] = record
        return record

    def state(self, as_of: date) -> PortfolioState:
        """What the risk manager checks candidates against at the close of `as_of`."""
        return self.ledger.to_state(as_of, kill_switch=self.kill_switch, peak_equity=self.peak_equity)

    def update_peak_and_halt(self) -> None:
        """Raise the high-water mark; latch the kill switch once drawdown passes the limit (the risk
        manager's rule, `manager.update_kill_switch`)."""
        self.peak_equity = max(self.peak_equity, self.ledger.equity)
        state = self.state(self._as_of)
        if not self.kill_switch and update_kill_switch(state, self.settings).kill_switch:
            self.kill_switch = True
            self.kill_switch_reason = (
                f"drawdown {state.drawdown:.1%} from the peak {self.peak_equity:,.2f} passed "
                f"{self.settings.max_drawdown_pct:.0%}"
            )

    def set_kill_switch(self, on: bool, reason: str | None = None) -> None:
        """A user's switch; off rebases the peak on today's equity (`manager.reset_kill_switch`)."""
        if on:
            self.kill_switch, self.kill_switch_reason = True, reason or "set by hand"
        else:
            reset = reset_kill_switch(self.state(self._as_of))
            self.kill_switch, self.kill_switch_reason = False, None
            self.peak_equity = reset.peak_equity

    @property
    def _as_of(self) -> date:
        # The ledger refuses a state before the latest date it booked.
        return self.ledger.last_date or date.min
