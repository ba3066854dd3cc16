"""The paper portfolio's books: cash, holdings, fills with costs, closed trades and daily equity snapshots.

Pure and in memory, so the live paper portfolio and the backtest replay book trades identically; the
portfolio service persists what it produces. Costs follow the risk settings: every fill pays
`commission_per_trade`, and slippage of `slippage_bps` moves each fill against us (buys fill higher, sells
lower). Identities the ledger keeps, which the tests check:

- cash + positions value == equity in every snapshot, and cash is never negative;
- equity == starting cash + realized pnl + unrealized pnl (both commissions are in realized pnl; the entry
  commission and slippage are in the cost basis, hence in unrealized pnl while a position is open).

A position is valued at the last price it was marked at, so a trading halt (a missing or NaN price) keeps
its last value instead of dropping it to zero; before its first mark it is valued at its entry fill.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from numbers import Real
from typing import TYPE_CHECKING

from backend.core.errors import ValidationFailed
from backend.core.settings import RiskSettings, get_settings
from backend.portfolio.positions import STOP_EXIT_REASONS, OpenPosition
from backend.portfolio.trades import ClosedTrade
from backend.risk.schemas import PortfolioState, Position, StopEvent
from backend.risk.sizing import whole_shares

if TYPE_CHECKING:  # pandas costs about a second at import: `portfolio show` never builds a series
    import pandas as pd


@dataclass(frozen=True, slots=True)
class Holding:
    """An open position in the ledger.

    `entry_price` is the price the order was placed at, `fill_price` what it filled at after slippage, and
    `cost_basis` all the cash it took (shares x fill + commission). `last_price` is the latest valid mark.
    """

    ticker: str
    shares: int
    entry_price: float
    fill_price: float
    entry_date: date
    stop_price: float
    target_price: float
    cost_basis: float
    sector: str | None = None
    last_price: float | None = None
    highest_close: float | None = None
    signal_date: date | None = None  # the session whose after-close signal opened it

    @property
    def price(self) -> float:
        """The price the holding is valued at: the last mark, or the entry fill before any mark."""
        return self.last_price if self.last_price is not None else self.fill_price

    @property
    def market_value(self) -> float:
        return self.shares * self.price

    def to_open_position(self) -> OpenPosition:
        """The view `signals.exits.check_exit` works on."""
        return OpenPosition(
            ticker=self.ticker,
            shares=self.shares,
            entry_price=self.fill_price,
            entry_date=self.entry_date,
            stop_price=self.stop_price,
            target_price=self.target_price,
            highest_close=self.highest_close,
        )


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    """The portfolio marked on one trading date."""

    trade_date: date
    cash: float
    positions_value: float
    equity: float
    n_positions: int


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """A closed round trip with the details `ClosedTrade` leaves out (for the trades table)."""

    ticker: str
    shares: int
    entry_date: date
    entry_fill: float
    exit_date: date
    exit_price: float
    exit_fill: float
    cost_basis: float
    proceeds: float
    trade: ClosedTrade
    signal_date: date | None = None


def _valid_price(value: float | None) -> bool:
    """A finite positive number (numpy scalars included); None, NaN, zero and negatives are not prices."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0


class Ledger:
    """A paper portfolio: open and close positions with costs, mark them, and report equity and state.

    Dates must not go backwards: every open, close and mark is on or after the latest date already booked,
    which is what makes a replay unable to book the past after the fact. Marking the same date again
    replaces that date's snapshot (the live monitor marks every few minutes; the curve keeps one row per
    session).
    """

    def __init__(self, settings: RiskSettings | None = None, *, starting_cash: float | None = None) -> None:
        self.settings = settings or get_settings().risk
        cash = self.settings.starting_capital if starting_cash is None else starting_cash
        if not (math.isfinite(cash) and cash > 0):
            raise ValidationFailed(f"starting cash must be a positive number, got {cash}")
        if self.settings.commission_per_trade < 0 or self.settings.slippage_bps < 0:
            raise ValidationFailed("commission_per_trade and slippage_bps must not be negative")
        self.starting_cash = float(cash)
        self.cash = float(cash)
        self._holdings: dict[str, Holding] = {}
        self._trades: list[TradeRecord] = []
        self._snapshots: list[EquitySnapshot] = []
        self._last_date: date | None = None

    @classmethod
    def restore(
        cls,
        settings: RiskSettings,
        *,
        starting_cash: float,
        cash: float,
        holdings: Sequence[Holding],
        trades: Sequence[TradeRecord],
        snapshots: Sequence[EquitySnapshot],
        last_date: date | None,
    ) -> Ledger:
        """A ledger rebuilt from stored books (the live portfolio between runs)."""
        ledger = cls(settings, starting_cash=starting_cash)
        if not (math.isfinite(cash) and cash >= 0):
            raise ValidationFailed(f"stored cash must be a non-negative number, got {cash}")
        ledger.cash = float(cash)
        ledger._holdings = {h.ticker: h for h in holdings}
        ledger._trades = list(trades)
        ledger._snapshots = sorted(snapshots, key=lambda s: s.trade_date)
        ledger._last_date = last_date
        return ledger

    # --- costs -----------------------------------------------------------------------------------------

    @property
    def _slippage(self) -> float:
        return self.settings.slippage_bps / 10_000.0

    def buy_fill(self, price: float) -> float:
        """What a buy at `price` fills at: higher by the slippage."""
        return price * (1.0 + self._slippage)

    def sell_fill(self, price: float) -> float:
        """What a sell at `price` fills at: lower by the slippage."""
        return price * (1.0 - self._slippage)

    # --- trading ---------------------------------------------------------------------------------------

    def open(
        self,
        ticker: str,
        shares: int,
        price: float,
        trade_date: date,
        stop_price: float,
        target_price: float,
        sector: str | None = None,
        signal_date: date | None = None,
    ) -> Holding:
        """Buy `shares` at `price` (plus slippage and a commission) and hold them until `close`."""
        if not ticker:
            raise ValidationFailed("ticker must not be empty")
        if isinstance(shares, bool) or not isinstance(shares, int) or shares <= 0:
            raise ValidationFailed(f"{ticker}: shares must be a positive whole number, got {shares!r}")
        if not _valid_price(price):
            raise ValidationFailed(f"{ticker}: entry price must be a positive number, got {price!r}")
        if not (_valid_price(stop_price) and _valid_price(target_price)) or stop_price >= target_price:
            raise ValidationFailed(
                f"{ticker}: stop {stop_price!r} and target {target_price!r} must be positive "
                "with the stop below the target"
            )
        if ticker in self._holdings:
            raise ValidationFailed(f"{ticker} is already held; close it before opening it again")
        self._advance(trade_date, f"open {ticker}")
        fill = self.buy_fill(price)
        cost = shares * fill + self.settings.commission_per_trade
        if cost > self.cash:
            raise ValidationFailed(
                f"{ticker}: buying {shares} at {price:,.4f} costs {cost:,.2f} with slippage and commission, "
                f"but only {self.cash:,.2f} cash is available"
            )
        holding = Holding(
            ticker=ticker,
            shares=shares,
            entry_price=float(price),
            fill_price=fill,
            entry_date=trade_date,
            stop_price=float(stop_price),
            target_price=float(target_price),
            cost_basis=cost,
            sector=sector,
            signal_date=signal_date,
        )
        self.cash -= cost
        self._holdings[ticker] = holding
        return holding

    def close(self, ticker: str, price: float, trade_date: date, reason: str) -> ClosedTrade:
        """Sell the whole position at `price` (less slippage and a commission) and book the round trip.

        `pnl` = proceeds - cost basis, so it is after both commissions and both slippages; `return_pct` is
        pnl / cost basis.
        """
        holding = self._holdings.get(ticker)
        if holding is None:
            raise ValidationFailed(f"{ticker} is not held, so it cannot be closed")
        if not _valid_price(price):
            raise ValidationFailed(f"{ticker}: exit price must be a positive number, got {price!r}")
        if not reason:
            raise ValidationFailed(f"{ticker}: an exit needs a reason")
        if trade_date < holding.entry_date:
            raise ValidationFailed(
                f"{ticker}: exit on {trade_date.isoformat()} precedes the entry on "
                f"{holding.entry_date.isoformat()}"
            )
        fill = self.sell_fill(price)
        proceeds = holding.shares * fill - self.settings.commission_per_trade
        if self.cash + proceeds < 0:
            raise ValidationFailed(
                f"{ticker}: the sale brings in {proceeds:,.2f} after commission, "
                "which would leave cash negative"
            )
        self._advance(trade_date, f"close {ticker}")
        pnl = proceeds - holding.cost_basis
        trade = ClosedTrade(
            ticker=ticker,
            exit_date=trade_date,
            exit_reason=reason,
            pnl=pnl,
            return_pct=pnl / holding.cost_basis,
        )
        self.cash += proceeds
        del self._holdings[ticker]
        self._trades.append(
            TradeRecord(
                ticker=ticker,
                shares=holding.shares,
                entry_date=holding.entry_date,
                entry_fill=holding.fill_price,
                exit_date=trade_date,
                exit_price=float(price),
                exit_fill=fill,
                cost_basis=holding.cost_basis,
                proceeds=proceeds,
                trade=trade,
                signal_date=holding.signal_date,
            )
        )
        return trade

    def apply_split(self, ticker: str, ratio: float, trade_date: date) -> float:
        """A `ratio`-for-1 split of a holding: shares x ratio, every price / ratio, value unchanged.

        Whole shares only: the fraction left over is paid out in cash at the split-adjusted last price
        (cash in lieu), which is returned.
        """
        holding = self._holdings.get(ticker)
        if holding is None:
            return 0.0
        if not (math.isfinite(ratio) and ratio > 0):
            raise ValidationFailed(f"{ticker}: split ratio must be a positive number, got {ratio!r}")
        self._advance(trade_date, f"split {ticker}")
        exact = holding.shares * ratio
        shares = whole_shares(exact)
        price = holding.price / ratio
        in_lieu = (exact - shares) * price
        self.cash += in_lieu

        def scaled(value: float | None) -> float | None:
            return None if value is None else value / ratio

        self._holdings[ticker] = replace(
            holding,
            shares=shares,
            entry_price=holding.entry_price / ratio,
            fill_price=holding.fill_price / ratio,
            stop_price=holding.stop_price / ratio,
            target_price=holding.target_price / ratio,
            cost_basis=holding.cost_basis - in_lieu,
            last_price=scaled(holding.last_price),
            highest_close=scaled(holding.highest_close),
        )
        if shares == 0:  # a reverse split left less than one share: it all became cash
            del self._holdings[ticker]
        return in_lieu

    def mark(self, prices: Mapping[str, float], trade_date: date, *, at_close: bool = True) -> EquitySnapshot:
        """Value every holding at `prices` (its last valid price where one is missing or NaN) and record it.

        With `at_close` (the default: a mark with the session's closes) each valid price also raises the
        holding's `highest_close`, which a trailing stop follows; intraday marks pass `at_close=False`.
        """
        self._advance(trade_date, "mark")
        for ticker, holding in self._holdings.items():
            price = prices.get(ticker)
            if not _valid_price(price):
                continue
            assert price is not None  # narrowed by _valid_price, for the type checker
            highest = holding.highest_close
            if at_close and (highest is None or price > highest):
                highest = float(price)
            self._holdings[ticker] = replace(holding, last_price=float(price), highest_close=highest)
        positions_value = sum(h.market_value for h in self._holdings.values())
        snapshot = EquitySnapshot(
            trade_date=trade_date,
            cash=self.cash,
            positions_value=positions_value,
            equity=self.cash + positions_value,
            n_positions=len(self._holdings),
        )
        if self._snapshots and self._snapshots[-1].trade_date == trade_date:
            self._snapshots[-1] = snapshot
        else:
            self._snapshots.append(snapshot)
        return snapshot

    # --- reading ---------------------------------------------------------------------------------------

    @property
    def open_positions(self) -> dict[str, Holding]:
        """Holdings by ticker (a copy: changing it does not change the ledger)."""
        return dict(self._holdings)

    @property
    def closed_trades(self) -> list[ClosedTrade]:
        return [record.trade for record in self._trades]

    @property
    def trade_records(self) -> list[TradeRecord]:
        return list(self._trades)

    @property
    def last_date(self) -> date | None:
        """The latest date booked (an open, close, split or mark); nothing may be booked before it."""
        return self._last_date

    @property
    def snapshots(self) -> list[EquitySnapshot]:
        return list(self._snapshots)

    @property
    def realized_pnl(self) -> float:
        return float(sum(record.trade.pnl for record in self._trades))

    def unrealized_pnl(self, prices: Mapping[str, float] | None = None) -> float:
        """Value of the holdings at `prices` (last valid price where missing) minus their cost basis."""
        prices = prices or {}
        total = 0.0
        for ticker, holding in self._holdings.items():
            price = prices.get(ticker)
            value = holding.shares * (price if price is not None and _valid_price(price) else holding.price)
            total += value - holding.cost_basis
        return total

    @property
    def positions_value(self) -> float:
        """The holdings at their last valid prices."""
        return float(sum(h.market_value for h in self._holdings.values()))

    @property
    def equity(self) -> float:
        """Cash plus the holdings at their last valid prices."""
        return self.cash + self.positions_value

    @property
    def peak_equity(self) -> float:
        """The high-water mark: the starting cash or the highest snapshot equity, whichever is higher."""
        return max([self.starting_cash, *(s.equity for s in self._snapshots)])

    def equity_curve(self) -> pd.Series:
        """Snapshot equity indexed by trade date (one row per marked session)."""
        return self._series("equity", [s.equity for s in self._snapshots])

    def positions_count(self) -> pd.Series:
        """Open positions at each snapshot, indexed like `equity_curve` (for the exposure metric)."""
        return self._series("n_positions", [s.n_positions for s in self._snapshots])

    def to_state(
        self,
        as_of: date,
        kill_switch: bool = False,
        recent_stops: Sequence[StopEvent] | None = None,
        peak_equity: float | None = None,
    ) -> PortfolioState:
        """The portfolio as the risk manager sees it at `as_of` (holdings at their last valid prices).

        `recent_stops` defaults to the ledger's own stop exits (stop-loss and trailing stop alike: both are
        the market proving the entry wrong) up to `as_of`; the cooldown and pause rules pick their windows
        from it. `peak_equity` defaults to the ledger's high-water mark (a caller
        that honours a user's kill-switch reset passes its rebased peak); it is never below today's equity.
        """
        if self._last_date is not None and as_of < self._last_date:
            raise ValidationFailed(
                f"state as of {as_of.isoformat()} asked for, but the ledger already booked "
                f"{self._last_date.isoformat()}: it cannot be rewound"
            )
        if recent_stops is None:
            recent_stops = [
                StopEvent(ticker=r.ticker, date=r.exit_date)
                for r in self._trades
                if r.trade.exit_reason in STOP_EXIT_REASONS and r.exit_date <= as_of
            ]
        equity = self.equity
        positions = tuple(
            Position(
                ticker=h.ticker,
                sector=h.sector,
                shares=h.shares,
                entry_price=h.fill_price,
                entry_date=h.entry_date,
                stop_price=h.stop_price,
                target_price=h.target_price,
                last_price=h.price,
            )
            for h in self._holdings.values()
        )
        return PortfolioState(
            equity=equity,
            cash=self.cash,
            peak_equity=max(self.peak_equity if peak_equity is None else peak_equity, equity),
            positions=positions,
            recent_stops=tuple(recent_stops),
            kill_switch=kill_switch,
            as_of=as_of,
        )

    # --- internals -------------------------------------------------------------------------------------

    def _advance(self, trade_date: date, action: str) -> None:
        if self._last_date is not None and trade_date < self._last_date:
            raise ValidationFailed(
                f"{action} on {trade_date.isoformat()} is before {self._last_date.isoformat()}, "
                "the latest date already booked"
            )
        self._last_date = trade_date

    def _series(self, name: str, values: list[float] | list[int]) -> pd.Series:
        import pandas as pd

        index = pd.DatetimeIndex([pd.Timestamp(s.trade_date) for s in self._snapshots], name="trade_date")
        return pd.Series(values, index=index, name=name)
