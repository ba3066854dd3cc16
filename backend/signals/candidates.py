"""The day's candidates: the top N tickers by expected value, with the numbers and why each is or is not a
signal. Built from the session's predictions and the signal run's outcome, in the live chain and in
replays alike; it is what a user looks at first, so it is never empty when there are predictions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from backend.core.settings import RiskSettings
from backend.features.barriers import barrier_levels
from backend.signals.generate import GenerationReport, model_may_act
from backend.signals.market import MarketDay

if TYPE_CHECKING:  # annotations only: `signals candidates` must not pay for importing pandas
    import pandas as pd


@dataclass
class CandidateRow:
    """One ranked candidate of a session (a row of `daily_candidates`)."""

    trade_date: date
    ticker: str
    rank: int
    call: str
    confidence: float
    expected_value: float | None
    entry_price: float | None
    stop_price: float | None
    target_price: float | None
    is_signal: bool
    reasons: list[str]
    why: str
    drivers: list[dict[str, Any]] = field(default_factory=list)
    model_version: str | None = None
    model_trusted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank_candidates(
    predictions: pd.DataFrame, report: GenerationReport, market: MarketDay, risk: RiskSettings
) -> list[CandidateRow]:
    """The `risk.candidates_top_n` predictions with the highest EV (then P(win)), with entry (the reference
    close; the order fills at the next open), stop, target and the reason each is or is not a signal."""
    if predictions.empty:
        return []
    records: list[dict[str, Any]] = predictions.to_dict("records")  # type: ignore[assignment]
    trusted = model_may_act(records, require_trusted=True)
    may_act = model_may_act(records, risk.require_trusted_model)
    decided = {r.ticker: r for r in [*report.approved, *report.rejected]}

    def order(r: dict[str, Any]) -> tuple[float, float, str]:
        return (-_finite(r.get("expected_value"), -math.inf), -float(r["confidence"]), str(r["ticker"]))

    rows = []
    for rank, call in enumerate(sorted(records, key=order)[: risk.candidates_top_n], start=1):
        ticker = str(call["ticker"])
        ev = _finite(call.get("expected_value"), None)
        p = float(call["confidence"])
        record = decided.get(ticker)
        close, atr = market.value(ticker, "close"), market.value(ticker, "atr_pct")
        stop = target = None
        if record is not None and record.stop_price is not None:
            stop, target = record.stop_price, record.target_price
        elif close is not None and atr is not None:
            stop_pct, target_pct = barrier_levels(float(atr), risk)
            stop, target = close * (1 - stop_pct), close * (1 + target_pct)
        reasons, why = _why(call, p, ev, record, risk, may_act)
        rows.append(
            CandidateRow(
                trade_date=report.trade_date,
                ticker=ticker,
                rank=rank,
                call=str(call["signal"]),
                confidence=p,
                expected_value=ev,
                entry_price=close,
                stop_price=stop,
                target_price=target,
                is_signal=record is not None and record.status != "rejected",
                reasons=reasons,
                why=why[:400],
                drivers=list(call.get("contributions") or [])[:5],
                model_version=call.get("model_version"),
                model_trusted=trusted,
            )
        )
    return rows


def _why(
    call: dict[str, Any], p: float, ev: float | None, record: Any, risk: RiskSettings, may_act: bool
) -> tuple[list[str], str]:
    numbers = f"P(win) {p:.2f}, EV {'n/a' if ev is None else f'{ev:+.2%}'}"
    if record is not None and record.status != "rejected":
        return [], f"signal: BUY ({numbers})"
    if record is not None:
        return list(record.reasons), "rejected by the risk manager: " + "; ".join(
            record.messages or record.reasons
        )
    reasons = []
    if not may_act:
        reasons.append("untrusted_model")
    if p < risk.min_confidence:
        reasons.append("below_confidence_bar")
    if ev is None or ev <= 0:
        reasons.append("non_positive_ev")
    if not reasons and call["signal"] != "BUY":
        reasons.append(f"model_says_{str(call['signal']).lower()}")
    texts = {
        "untrusted_model": "the model shows no out-of-sample edge (not trusted): no signals",
        "below_confidence_bar": f"P(win) below the bar {risk.min_confidence:.2f}",
        "non_positive_ev": "expected value after costs is not positive",
    }
    if not reasons:  # a BUY the signal run did not see (e.g. generated earlier); say so, do not guess
        return ["not_evaluated"], f"not evaluated by the signal run ({numbers})"
    return reasons, "; ".join(texts.get(r, r) for r in reasons) + f" ({numbers})"


def _finite(value: Any, default: Any) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default
