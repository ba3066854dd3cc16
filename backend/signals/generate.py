"""After-close signal generation: a session's predictions become exit orders, entries and rejections.

For one trading date (after `monitor.run_session` has processed that session):
- a held ticker that a trusted model now calls SELL, or whose Reddit mood that day is bearish past
  `risk.sentiment_exit_score` on at least `risk.sentiment_exit_min_mentions` mentions, gets an exit order
  for the next open (reason `signal_flip`);
- every BUY prediction (P(win) >= the bar and EV > 0, `ml.service.classify`) becomes a risk-manager
  candidate (reference price: that close); approved ones are `pending` signals that fill at the next open,
  rejected ones are recorded with every failing reason.

With `risk.require_trusted_model` (the default), predictions of a model that showed no out-of-sample edge
(`trusted` false or absent on the predictions) make no signals and no exit flips: the model still ranks
the day's candidates (`signals.candidates`), which say why nothing was traded.

Generation happens once per (portfolio, trading date): a second call for the same date changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from backend.core.calendar import next_trading_day, session_close, session_open
from backend.core.errors import ValidationFailed
from backend.portfolio.book import PaperBook
from backend.risk.manager import evaluate_many
from backend.risk.rules import DEFAULT_RULES, RiskRule
from backend.risk.schemas import Candidate, Decision
from backend.signals.market import MarketDay
from backend.signals.schemas import SignalRecord

if TYPE_CHECKING:  # annotations only: quick CLI reads must not pay for importing pandas
    import pandas as pd

PREDICTION_COLUMNS = ("ticker", "signal", "confidence")


@dataclass
class GenerationReport:
    trade_date: date
    already_generated: bool = False
    approved: list[SignalRecord] = field(default_factory=list)
    rejected: list[SignalRecord] = field(default_factory=list)
    exit_orders: dict[str, str] = field(default_factory=dict)  # ticker -> why


def generate_signals(
    book: PaperBook,
    market: MarketDay,
    predictions: pd.DataFrame,
    rules: Sequence[RiskRule] = DEFAULT_RULES,
) -> GenerationReport:
    """Exit orders and entry signals for `market.trade_date` from that session's predictions."""
    day = market.trade_date
    report = GenerationReport(day)
    if book.last_signal_date is not None and day <= book.last_signal_date:
        report.already_generated = True
        return report
    if book.last_session != day:
        seen = book.last_session.isoformat() if book.last_session else "none"
        raise ValidationFailed(
            f"signals for {day.isoformat()} need the portfolio at that session's close; it has processed "
            f"sessions up to {seen}"
        )
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing and not predictions.empty:
        raise ValidationFailed(f"predictions lack the columns {', '.join(missing)}")
    records: list[dict[str, Any]] = [] if predictions.empty else predictions.to_dict("records")  # type: ignore[assignment]
    calls = {str(r["ticker"]): r for r in records}
    may_act = model_may_act(records, book.settings.require_trusted_model)

    for ticker in sorted(book.ledger.open_positions):
        reason = _exit_reason(book, market, ticker, calls.get(ticker) if may_act else None)
        if reason is not None and ticker not in book.exit_orders:
            book.exit_orders[ticker] = reason
            report.exit_orders[ticker] = reason

    candidates: list[Candidate] = []
    for ticker, call in sorted(calls.items()):
        if call["signal"] != "BUY" or not may_act or not _positive_ev(call):
            continue
        candidate = _candidate(market, ticker, call)
        if candidate is None:
            report.rejected.append(book.touch(_unpriced(day, ticker, call)))
        else:
            candidates.append(candidate)
    state = book.state(day)
    for decision in evaluate_many(candidates, state, book.settings, rules):
        record = book.touch(_record(decision, market, calls[decision.ticker]))
        if decision.approved:
            book.pending[record.ticker] = record
            report.approved.append(record)
        else:
            report.rejected.append(record)
    book.last_signal_date = day
    return report


def model_may_act(records: Sequence[dict[str, Any]], require_trusted: bool) -> bool:
    """Whether these predictions may make signals. With the requirement, only when every row says its
    model is trusted (a frame without the `trusted` column is untrusted); without it, still never from a
    model whose log loss did not beat the trailing prior (`beats_prior` false)."""
    if not require_trusted:
        return all(bool(r.get("beats_prior", True)) for r in records)
    return bool(records) and all(bool(r.get("trusted", False)) for r in records)


def _positive_ev(call: dict[str, Any]) -> bool:
    """EV after costs > 0; calls that carry no EV (the indicator rules) are not priced and pass."""
    value = call.get("expected_value")
    if value is None:
        return True
    number = float(value)
    return math.isfinite(number) and number > 0


def _exit_reason(book: PaperBook, market: MarketDay, ticker: str, call: dict[str, Any] | None) -> str | None:
    settings = book.settings
    if call is not None and call["signal"] == "SELL":
        return "signal_flip"
    score = market.value(ticker, "sentiment_score")
    mentions = market.value(ticker, "sentiment_mentions") or 0.0
    bearish = score is not None and score <= settings.sentiment_exit_score
    return "signal_flip" if bearish and mentions >= settings.sentiment_exit_min_mentions else None


def _candidate(market: MarketDay, ticker: str, call: dict[str, Any]) -> Candidate | None:
    close, atr = market.value(ticker, "close"), market.value(ticker, "atr_pct")
    if close is None or close <= 0 or atr is None:
        return None
    regime = market.value(ticker, "market_above_sma200")
    return Candidate(
        ticker=ticker,
        trade_date=market.trade_date,
        signal="BUY",
        confidence=float(call["confidence"]),
        entry_price=close,
        atr_pct=atr,
        sector=market.sector(ticker),
        avg_dollar_volume_20d=market.value(ticker, "adv_20d"),
        market_above_sma200=None if regime is None else bool(regime >= 0.5),
    )


def _times(day: date) -> dict[str, Any]:
    # Generated at the session's close; the entry order lapses if it does not fill at the next open.
    return {"generated_at": session_close(day), "expires_at": session_open(next_trading_day(day))}


def _context(
    market: MarketDay, ticker: str, call: dict[str, Any], notes: Sequence[str] = ()
) -> dict[str, Any]:
    why = explanation(call)
    if notes:  # what passing risk rules noted, e.g. an unknown sector left uncapped
        why["risk_notes"] = list(notes)
    return {
        "rsi": market.value(ticker, "rsi_14"),
        "macd": market.value(ticker, "macd"),
        "sentiment": market.value(ticker, "sentiment_score"),
        "sentiment_trend": market.value(ticker, "sentiment_trend"),
        "sector": market.sector(ticker),
        "model_version": call.get("model_version"),
        "explanation": why,
    }


def _unpriced(day: date, ticker: str, call: dict[str, Any]) -> SignalRecord:
    return SignalRecord(
        ticker=ticker,
        trade_date=day,
        signal="BUY",
        confidence=float(call["confidence"]),
        status="rejected",
        entry_price=0.0,
        reasons=["no_market_data"],
        messages=[f"no close or ATR for {ticker} on {day.isoformat()}: cannot size a trade"],
        model_version=call.get("model_version"),
        explanation=explanation(call),
        **_times(day),
    )


def _record(decision: Decision, market: MarketDay, call: dict[str, Any]) -> SignalRecord:
    return SignalRecord(
        ticker=decision.ticker,
        trade_date=decision.trade_date,
        signal=decision.signal,
        confidence=decision.confidence,
        status="pending" if decision.approved else "rejected",
        entry_price=decision.entry_price,
        stop_price=decision.stop_price,
        target_price=decision.target_price,
        stop_pct=decision.stop_pct,
        target_pct=decision.target_pct,
        risk_reward=decision.reward_risk,
        position_size_pct=decision.position_pct,
        shares=decision.shares,
        reasons=list(decision.reasons),
        messages=list(decision.messages),
        **_context(market, decision.ticker, call, decision.notes),
        **_times(decision.trade_date),
    )


def explanation(call: dict[str, Any]) -> dict[str, Any]:
    """Why the model made the call: class probabilities and the top feature contributions, with a summary."""
    contributions = call.get("contributions")
    if not isinstance(contributions, list):
        contributions = []
    probabilities = {k: _rounded(call.get(f"p_{k.lower()}")) for k in ("BUY", "HOLD", "SELL")}
    drivers = ", ".join(f"{c['feature']} {c['contribution']:+.3f}" for c in contributions[:3])
    expected_value = _rounded(call.get("expected_value"))
    text = f"{call['signal']} with confidence {float(call['confidence']):.2f}"
    if expected_value is not None:
        text += f", expected value {expected_value:+.2%} after costs"
    if drivers:
        text += f"; top drivers: {drivers}"
    return {
        "text": text,
        "probabilities": probabilities,
        "expected_value": expected_value,
        "contributions": contributions,
    }


def _rounded(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 6) if math.isfinite(number) else None
