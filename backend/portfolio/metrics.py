"""Performance metrics of a (paper or backtest) portfolio from its daily equity curve and its closed trades.

Pure functions; conventions, so numbers are comparable across runs:
- one equity row per trading session; annualisation uses 252 sessions a year, risk-free rate 0;
- drawdowns are positive fractions (0.10 = 10% below the peak) and durations count sessions (rows);
- results are dataclasses of JSON-native values: dates as ISO strings, and None wherever a number is
  undefined (no losses for a profit factor, zero volatility for a Sharpe ratio), never NaN or infinity.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from backend.core.errors import ValidationFailed
from backend.portfolio.trades import ClosedTrade

TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True, slots=True)
class DrawdownStats:
    """The deepest drawdown (peak, trough, recovery) and the longest time spent below a peak."""

    max_drawdown: float
    peak_date: str | None
    trough_date: str | None
    recovery_date: str | None  # None when the curve ended below that peak (or there was no drawdown)
    duration_days: int  # sessions from the peak to recovery, or to the last row if not recovered
    longest_duration_days: int  # the same, for the longest of all drawdowns


@dataclass(frozen=True, slots=True)
class EquityMetrics:
    start_date: str
    end_date: str
    sessions: int
    start_equity: float
    end_equity: float
    total_return: float
    cagr: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    drawdown: DrawdownStats
    exposure: float | None  # share of sessions with at least one open position
    monthly_returns: dict[str, float]


@dataclass(frozen=True, slots=True)
class GroupStats:
    trades: int
    wins: int
    losses: int
    win_rate: float
    total_pnl: float
    avg_return: float
    profit_factor: float | None


@dataclass(frozen=True, slots=True)
class TradeMetrics:
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    avg_win: float | None
    avg_loss: float | None  # negative dollars
    payoff_ratio: float | None  # avg_win / |avg_loss|
    gross_profit: float
    gross_loss: float  # positive dollars
    total_pnl: float
    profit_factor: float | None  # None when there are no losing trades
    expectancy: float | None  # mean pnl per trade
    avg_trade_return: float | None
    by_exit_reason: dict[str, GroupStats] = field(default_factory=dict)
    by_ticker: dict[str, GroupStats] = field(default_factory=dict)
    by_month: dict[str, GroupStats] = field(default_factory=dict)  # by exit month, "YYYY-MM"


@dataclass(frozen=True, slots=True)
class PerformanceReport:
    equity: EquityMetrics
    trades: TradeMetrics

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (nested dataclasses become dicts)."""
        return asdict(self)


def _finite(value: float | np.floating | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _clean_equity(equity: pd.Series) -> pd.Series:
    if not isinstance(equity, pd.Series):
        raise ValidationFailed(f"equity must be a pandas Series indexed by date, got {type(equity).__name__}")
    if equity.empty:
        raise ValidationFailed("equity curve is empty")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(equity.index))
    except (TypeError, ValueError) as exc:
        raise ValidationFailed(f"equity index must be dates: {exc}") from exc
    if index.has_duplicates:
        raise ValidationFailed(
            f"equity curve has duplicate dates, e.g. {index[index.duplicated()][0].date()}"
        )
    if not index.is_monotonic_increasing:
        raise ValidationFailed("equity curve dates must be in ascending order")
    values = pd.to_numeric(equity, errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValidationFailed("equity values must be finite and positive")
    return pd.Series(values, index=index)


def daily_returns(equity: pd.Series) -> pd.Series:
    """Simple session-to-session returns of an equity curve (one fewer row than the curve)."""
    curve = _clean_equity(equity)
    return curve.pct_change().iloc[1:]


def cagr(equity: pd.Series) -> float | None:
    """Compound annual growth: (end / start) ** (252 / sessions elapsed) - 1; None for a single row."""
    curve = _clean_equity(equity)
    periods = len(curve) - 1
    if periods < 1:
        return None
    try:
        return _finite((curve.iloc[-1] / curve.iloc[0]) ** (TRADING_DAYS_PER_YEAR / periods) - 1.0)
    except OverflowError:  # a huge return over a few sessions annualises past float range
        return None


def sharpe_ratio(returns: pd.Series) -> float | None:
    """mean / std (ddof=1) x sqrt(252), risk-free 0; None with fewer than 2 returns or no volatility."""
    r = returns.to_numpy(dtype=float)
    if len(r) < 2:
        return None
    std = float(np.std(r, ddof=1))
    if std == 0.0:
        return None
    return _finite(float(np.mean(r)) / std * math.sqrt(TRADING_DAYS_PER_YEAR))


def sortino_ratio(returns: pd.Series) -> float | None:
    """mean / downside deviation x sqrt(252), downside deviation = sqrt(mean(min(r, 0)^2)) over all days."""
    r = returns.to_numpy(dtype=float)
    if len(r) < 1:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if downside == 0.0:
        return None
    return _finite(float(np.mean(r)) / downside * math.sqrt(TRADING_DAYS_PER_YEAR))


def drawdown_stats(equity: pd.Series) -> DrawdownStats:
    """Deepest drawdown from a running peak, with its peak/trough/recovery and durations in sessions."""
    curve = _clean_equity(equity)
    values = curve.to_numpy()
    dates = curve.index
    n = len(values)
    peaks = np.maximum.accumulate(values)
    underwater = 1.0 - values / peaks

    # Maximal runs of rows below the running peak; the row before a run is its peak (row 0 never is below).
    episodes: list[tuple[int, int, int | None]] = []  # (peak row, last underwater row, recovery row)
    row = 0
    while row < n:
        if underwater[row] > 0:
            start = row
            while row < n and underwater[row] > 0:
                row += 1
            episodes.append((start - 1, row - 1, row if row < n else None))
        else:
            row += 1
    if not episodes:
        return DrawdownStats(0.0, None, None, None, 0, 0)

    def duration(episode: tuple[int, int, int | None]) -> int:
        peak, _, recovery = episode
        return (recovery if recovery is not None else n - 1) - peak

    trough = int(np.argmax(underwater))
    deepest = next(e for e in episodes if e[0] < trough <= e[1])
    peak_row, _, recovery_row = deepest
    return DrawdownStats(
        max_drawdown=float(underwater[trough]),
        peak_date=dates[peak_row].date().isoformat(),
        trough_date=dates[trough].date().isoformat(),
        recovery_date=dates[recovery_row].date().isoformat() if recovery_row is not None else None,
        duration_days=duration(deepest),
        longest_duration_days=max(duration(e) for e in episodes),
    )


def exposure(positions_count: pd.Series) -> float | None:
    """Share of sessions with at least one open position; None for an empty series."""
    counts = pd.to_numeric(positions_count, errors="coerce").to_numpy(dtype=float)
    if len(counts) == 0:
        return None
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValidationFailed("positions count must be non-negative numbers")
    return float(np.mean(counts >= 1))


def monthly_returns(equity: pd.Series) -> dict[str, float]:
    """Return per calendar month, month-end to month-end; the first month is measured from the first row."""
    curve = _clean_equity(equity)
    index = pd.DatetimeIndex(curve.index)
    month_end = curve.groupby(index.to_period("M")).last()
    previous = month_end.shift(1)
    previous.iloc[0] = curve.iloc[0]
    returns = month_end / previous - 1.0
    return {str(period): float(value) for period, value in returns.items()}


def equity_metrics(equity: pd.Series, positions_count: pd.Series | None = None) -> EquityMetrics:
    """Return, risk-adjusted return and drawdown of a daily equity curve (one row per session)."""
    curve = _clean_equity(equity)
    returns = curve.pct_change().iloc[1:]
    growth = cagr(curve)
    dd = drawdown_stats(curve)
    volatility = (
        _finite(float(np.std(returns.to_numpy(), ddof=1)) * math.sqrt(TRADING_DAYS_PER_YEAR))
        if len(returns) >= 2
        else None
    )
    return EquityMetrics(
        start_date=curve.index[0].date().isoformat(),
        end_date=curve.index[-1].date().isoformat(),
        sessions=len(curve),
        start_equity=float(curve.iloc[0]),
        end_equity=float(curve.iloc[-1]),
        total_return=float(curve.iloc[-1] / curve.iloc[0] - 1.0),
        cagr=growth,
        volatility=volatility,
        sharpe=sharpe_ratio(returns),
        sortino=sortino_ratio(returns),
        calmar=_finite(growth / dd.max_drawdown) if growth is not None and dd.max_drawdown > 0 else None,
        drawdown=dd,
        exposure=exposure(positions_count) if positions_count is not None else None,
        monthly_returns=monthly_returns(curve),
    )


def _profit_factor(pnls: Sequence[float]) -> float | None:
    gross_loss = -sum(p for p in pnls if p < 0)
    if gross_loss == 0:
        return None
    return sum(p for p in pnls if p > 0) / gross_loss


def _group(trades: Sequence[ClosedTrade]) -> GroupStats:
    pnls = [t.pnl for t in trades]
    wins = sum(p > 0 for p in pnls)
    return GroupStats(
        trades=len(trades),
        wins=wins,
        losses=sum(p < 0 for p in pnls),
        win_rate=wins / len(trades),
        total_pnl=float(sum(pnls)),
        avg_return=float(np.mean([t.return_pct for t in trades])),
        profit_factor=_profit_factor(pnls),
    )


def _breakdown(trades: Sequence[ClosedTrade], key: Callable[[ClosedTrade], str]) -> dict[str, GroupStats]:
    groups: dict[str, list[ClosedTrade]] = defaultdict(list)
    for trade in trades:
        groups[key(trade)].append(trade)
    return {name: _group(members) for name, members in sorted(groups.items())}


def trade_metrics(trades: Sequence[ClosedTrade]) -> TradeMetrics:
    """Win rate, payoff, profit factor and expectancy of closed trades, overall and broken down."""
    pnls = [t.pnl for t in trades]
    win_pnls = [p for p in pnls if p > 0]
    loss_pnls = [p for p in pnls if p < 0]
    avg_win = float(np.mean(win_pnls)) if win_pnls else None
    avg_loss = float(np.mean(loss_pnls)) if loss_pnls else None
    return TradeMetrics(
        trades=len(trades),
        wins=len(win_pnls),
        losses=len(loss_pnls),
        win_rate=len(win_pnls) / len(trades) if trades else None,
        avg_win=avg_win,
        avg_loss=avg_loss,
        payoff_ratio=avg_win / -avg_loss if avg_win is not None and avg_loss is not None else None,
        gross_profit=float(sum(win_pnls)),
        gross_loss=float(-sum(loss_pnls)),
        total_pnl=float(sum(pnls)),
        profit_factor=_profit_factor(pnls),
        expectancy=float(np.mean(pnls)) if trades else None,
        avg_trade_return=float(np.mean([t.return_pct for t in trades])) if trades else None,
        by_exit_reason=_breakdown(trades, lambda t: t.exit_reason),
        by_ticker=_breakdown(trades, lambda t: t.ticker),
        by_month=_breakdown(trades, lambda t: t.exit_date.strftime("%Y-%m")),
    )


def performance_report(
    equity: pd.Series,
    trades: Sequence[ClosedTrade] = (),
    positions_count: pd.Series | None = None,
) -> PerformanceReport:
    """Everything the dashboard and the backtest summary show: equity metrics plus trade metrics."""
    return PerformanceReport(equity=equity_metrics(equity, positions_count), trades=trade_metrics(trades))


def with_start(series: pd.Series, value: float, before: date) -> pd.Series:
    """`series` with `value` (the starting capital; 0 positions) on the session before its first row, so
    returns count from the capital rather than from the first close."""
    head = pd.Series([value], index=pd.DatetimeIndex([pd.Timestamp(before)], name="trade_date"))
    return pd.concat([head, series])
