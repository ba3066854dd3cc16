"""Triple-barrier labels that follow the trading rule the signals use.

A signal at the close of day t is entered at the NEXT session's open (t+1). Stop and target come from
`barrier_levels` with the ATR% known at t. Over the `max_hold_days` sessions starting with the entry day
(t+1 .. t+H) the trade ends at the first barrier touched:

- BUY (2): the high reaches the target before the low reaches the stop (an open above the target fills
  at that open);
- SELL (0): the stop is reached first; an open below the stop (a gap) fills at that open, and a day whose
  range touches both barriers counts as the stop, since the intraday order is unknown (conservative),
  unless it opened at or above the target (then the target filled first, at the open);
- HOLD (1): neither by the close of t+H, the exit is that close.

The outcome the model learns and is judged on is the trade's NET return: `net_return` books the
slippage on both fills (`slippage_bps`) and both commissions as a share of a typical position
(`starting_capital x max_position_pct`), as the paper ledger does; `win` is 1.0 where it is positive.

A label needs all H following sessions of the ticker (consecutive on the NYSE calendar, with finite
prices) and the ATR at t; otherwise it is NaN and `label_complete` is False: such rows (the last H days of
history, a missing next day, a trading halt) must never be trained on. Prices are split-adjusted
(OHLC x adj_close / close) so a split inside the window is not a barrier hit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backend.core.calendar import nyse
from backend.core.errors import ValidationFailed
from backend.core.settings import RiskSettings
from backend.features.barriers import barrier_levels
from backend.features.build import atr_pct, split_adjusted_ohlc

SELL, HOLD, BUY = 0, 1, 2
CLASS_NAMES: tuple[str, ...] = ("SELL", "HOLD", "BUY")  # indexed by the class code
LABEL_COLUMNS = (
    "ticker",
    "trade_date",
    "label",
    "label_complete",
    "stop_pct",
    "target_pct",
    "exit_day_offset",
    "realised_return",
    "net_return",
    "win",
)
REQUIRED_COLUMNS = ("ticker", "trade_date", "open", "high", "low", "close", "adj_close")


def triple_barrier_labels(prices: pd.DataFrame, risk: RiskSettings) -> pd.DataFrame:
    """Label each (ticker, trade_date) row with the outcome of a long trade signalled at its close.

    Returns:
        A frame sorted by ticker then date with LABEL_COLUMNS: `label` (float SELL/HOLD/BUY code, NaN when
        the window is incomplete), `label_complete`, `stop_pct` / `target_pct` (the barriers, known at t;
        NaN during the ATR warm-up), `exit_day_offset` (sessions after t at which the trade ended, 1 =
        the entry day, NaN when incomplete), `realised_return` (exit / entry - 1 on adjusted prices,
        before costs; NaN when incomplete), `net_return` (after slippage and commissions) and `win`
        (1.0 where net_return > 0, 0.0 where not, NaN when incomplete).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in prices.columns]
    if missing:
        raise ValidationFailed(f"prices frame lacks column(s) {', '.join(missing)}")
    if prices.duplicated(["ticker", "trade_date"]).any():
        raise ValidationFailed("prices has duplicate (ticker, trade_date) rows")
    frame = prices.sort_values(["ticker", "trade_date"], kind="stable", ignore_index=True)
    horizon = risk.max_hold_days
    n = len(frame)

    stop_pct, target_pct = barrier_levels(atr_pct(frame), risk)
    adjusted = split_adjusted_ohlc(frame)
    rows = np.arange(n)
    window = np.minimum(rows[:, None] + np.arange(1, horizon + 1)[None, :], max(n - 1, 0))
    open_, high, low, close = (adjusted[k][window] for k in ("open", "high", "low", "close"))
    complete = _window_complete(frame, window) & np.isfinite(stop_pct)
    complete &= np.isfinite(open_).all(axis=1) & np.isfinite(high).all(axis=1)
    complete &= np.isfinite(low).all(axis=1) & np.isfinite(close).all(axis=1) & (open_[:, 0] > 0)

    entry = open_[:, 0]
    stop_price = entry * (1.0 - stop_pct)
    target_price = entry * (1.0 + target_pct)
    with np.errstate(invalid="ignore"):
        stop_hit = low <= stop_price[:, None]
        target_hit = high >= target_price[:, None]
    first_stop = np.where(stop_hit.any(axis=1), stop_hit.argmax(axis=1), horizon)
    first_target = np.where(target_hit.any(axis=1), target_hit.argmax(axis=1), horizon)
    # Same day: the stop wins, unless the day opened at or above the target (the open is the first print,
    # so the target filled before any later low) - the rule `signals.exits.check_exit` trades by.
    gap_over_target = open_[rows, np.minimum(first_target, horizon - 1)] >= target_price
    sell = (first_stop < horizon) & (
        (first_stop < first_target) | ((first_stop == first_target) & ~gap_over_target)
    )
    buy = (first_target < horizon) & ~sell

    label = np.where(sell, SELL, np.where(buy, BUY, HOLD)).astype("float64")
    with np.errstate(invalid="ignore"):
        # A gap opens beyond the barrier and fills there; the entry day opens at the entry, so never.
        exit_price = np.where(
            sell,
            np.minimum(open_[rows, np.minimum(first_stop, horizon - 1)], stop_price),
            np.where(
                buy,
                np.maximum(open_[rows, np.minimum(first_target, horizon - 1)], target_price),
                close[:, -1],
            ),
        )
        realised = exit_price / entry - 1.0
    exit_offset = np.where(sell, first_stop + 1, np.where(buy, first_target + 1, horizon)).astype("float64")

    incomplete = ~complete
    label[incomplete] = np.nan
    exit_offset[incomplete] = np.nan
    realised[incomplete] = np.nan
    net = net_trade_return(realised, risk)
    win = np.where(np.isfinite(net), (net > 0).astype("float64"), np.nan)
    return pd.DataFrame(
        {
            "ticker": frame["ticker"],
            "trade_date": frame["trade_date"],
            "label": label,
            "label_complete": complete,
            "stop_pct": stop_pct,
            "target_pct": target_pct,
            "exit_day_offset": exit_offset,
            "realised_return": realised,
            "net_return": net,
            "win": win,
        }
    )


def net_trade_return(gross: np.ndarray, risk: RiskSettings) -> np.ndarray:
    """A round trip's return after slippage on both fills and both commissions.

    Commissions are fixed per order, so as a return they depend on the position's size; a typical
    position (`starting_capital x max_position_pct`) stands in for it, as sizing does not exist at t.
    """
    slip = risk.slippage_bps / 10_000.0
    notional = max(risk.starting_capital * risk.max_position_pct, 1.0)
    with np.errstate(invalid="ignore"):
        return (
            (1.0 + np.asarray(gross, dtype="float64")) * (1.0 - slip) / (1.0 + slip)
            - 1.0
            - (2.0 * risk.commission_per_trade / notional)
        )


def _window_complete(frame: pd.DataFrame, window: np.ndarray) -> np.ndarray:
    """True where the ticker's next rows (`window`: row indices t+1 .. t+H) are exactly the next H NYSE
    sessions: all of them sessions, of the same ticker, and the last one H sessions after t. Rows are
    unique and increasing per ticker, so no session in between can be missing then.
    """
    n, horizon = window.shape
    codes, dates = pd.factorize(frame["trade_date"], sort=True)
    sessions = nyse().sessions.to_numpy().astype("datetime64[D]")
    wanted = pd.to_datetime(pd.Series(dates)).to_numpy().astype("datetime64[D]")
    found = np.searchsorted(sessions, wanted)
    is_session = (found < len(sessions)) & (sessions[np.minimum(found, len(sessions) - 1)] == wanted)
    row_position = np.where(is_session, found, -1)[codes]
    row_is_session = is_session[codes]

    rows_ahead = np.arange(n) + horizon
    last = np.minimum(rows_ahead, max(n - 1, 0))
    tickers = frame["ticker"].to_numpy()
    return (
        (rows_ahead < n)
        & (tickers[last] == tickers)
        & row_is_session
        & row_is_session[window].all(axis=1)
        & (row_position[last] - row_position == horizon)
    )
