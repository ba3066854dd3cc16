"""The outbox: event types and the functions that write events in the caller's transaction.

A pipeline step calls these next to the signals, exits or halts that cause them, before its commit, so
the event exists exactly when its cause does: a crash after the commit loses nothing (delivery reads the
outbox later) and a crash before it leaves neither. Each event has a natural `dedupe_key` (the signal's
ticker and date, the trade's entry...), so a rerun of the same step adds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import utcnow
from backend.db.base import table_of
from backend.db.upsert import dialect_insert
from backend.notify.models import NotificationEvent
from backend.portfolio.ledger import TradeRecord
from backend.portfolio.positions import SignalRecord

if TYPE_CHECKING:
    from backend.signals.candidates import CandidateRow

SIGNAL_NEW = "signal.new"
TRADE_CLOSED = "trade.closed"
CANDIDATES_DIGEST = "candidates.digest"
RISK_HALTED = "risk.halted"
PIPELINE_FAILED = "pipeline.failed"
MODEL_UNTRUSTED = "model.untrusted"
TEST = "notification.test"

# What a subscription can ask for (a test event goes to whoever is tested, subscribed or not).
EVENT_TYPES: dict[str, str] = {
    SIGNAL_NEW: "a new approved BUY signal",
    TRADE_CLOSED: "a position was closed (stop, target, signal flip, time decay)",
    CANDIDATES_DIGEST: "one digest a day: the day's BUY candidates, approved and rejected",
    RISK_HALTED: "the drawdown halt / kill switch latched",
    PIPELINE_FAILED: "a pipeline step failed",
    MODEL_UNTRUSTED: "the active model lost its trusted status",
}
PAYLOAD_VERSION = 1
TOP_REASONS = 3


def new_public_id() -> str:
    """A fresh event id (`evt_<hex>`): the webhook-id receivers deduplicate on."""
    return f"evt_{uuid.uuid4().hex}"


async def emit(
    *,
    session: AsyncSession,
    type: str,
    data: dict[str, Any],
    dedupe_key: str,
    trade_date: date | None = None,
    version: int = PAYLOAD_VERSION,
) -> bool:
    """Add one event to the outbox (flush only); returns False when its dedupe key already exists."""
    stmt = dialect_insert(session, table_of(NotificationEvent)).values(
        public_id=new_public_id(),
        type=type,
        version=version,
        payload=data,
        dedupe_key=dedupe_key,
        trade_date=trade_date,
        created_at=utcnow(),
    )
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))
    await session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def signal_data(record: SignalRecord) -> dict[str, Any]:
    """What a message says about one signal or candidate."""
    explanation = record.explanation or {}
    drivers = [
        {"feature": c.get("feature"), "contribution": c.get("contribution")}
        for c in (explanation.get("contributions") or [])[:TOP_REASONS]
        if isinstance(c, dict)
    ]
    return {
        "ticker": record.ticker,
        "trade_date": record.trade_date.isoformat(),
        "action": record.signal,
        "status": "approved" if record.status in ("pending", "active") else record.status,
        "confidence": record.confidence,
        "expected_value_pct": expected_value_pct(record),
        "entry_price": record.entry_price,
        "stop_price": record.stop_price,
        "target_price": record.target_price,
        "reward_risk": record.risk_reward,
        "position_size_pct": record.position_size_pct,
        "shares": record.shares,
        "sector": record.sector,
        "model_version": record.model_version,
        "summary": explanation.get("text"),
        "top_reasons": drivers,
        "risk_reasons": list(record.reasons),
        "messages": list(record.messages)[:TOP_REASONS],
    }


def expected_value_pct(record: SignalRecord) -> float | None:
    """The trade's expected return: a stored estimate when the record has one, else the triple-barrier
    reading of the class probabilities, P(target first) x target% - P(stop first) x stop% (HOLD ~ 0, before
    costs)."""
    stored = getattr(record, "expected_value", None) or (record.explanation or {}).get("expected_value")
    if isinstance(stored, int | float):
        return float(stored)
    probabilities = (record.explanation or {}).get("probabilities") or {}
    p_buy, p_sell = probabilities.get("BUY"), probabilities.get("SELL")
    if p_buy is None or p_sell is None or record.target_pct is None or record.stop_pct is None:
        return None
    return float(p_buy) * record.target_pct - float(p_sell) * record.stop_pct


async def emit_signal(*, session: AsyncSession, portfolio: str, record: SignalRecord) -> bool:
    """A new approved signal."""
    return await emit(
        session=session,
        type=SIGNAL_NEW,
        data={"portfolio": portfolio, "signal": signal_data(record)},
        dedupe_key=f"{SIGNAL_NEW}:{portfolio}:{record.ticker}:{record.trade_date.isoformat()}",
        trade_date=record.trade_date,
    )


async def emit_exit(*, session: AsyncSession, portfolio: str, trade: TradeRecord) -> bool:
    """A closed position (one round trip)."""
    data = {
        "portfolio": portfolio,
        "trade": {
            "ticker": trade.ticker,
            "action": "SELL",
            "shares": trade.shares,
            "signal_date": trade.signal_date.isoformat() if trade.signal_date else None,
            "entry_date": trade.entry_date.isoformat(),
            "entry_price": trade.entry_fill,
            "exit_date": trade.exit_date.isoformat(),
            "exit_price": trade.exit_fill,
            "exit_reason": trade.trade.exit_reason,
            "pnl": trade.trade.pnl,
            "return_pct": trade.trade.return_pct,
        },
    }
    key = f"{TRADE_CLOSED}:{portfolio}:{trade.ticker}:{trade.entry_date.isoformat()}"
    return await emit(
        session=session, type=TRADE_CLOSED, data=data, dedupe_key=key, trade_date=trade.exit_date
    )


def candidate_data(candidate: CandidateRow) -> dict[str, Any]:
    """What the digest says about one of the day's ranked candidates (same keys as `signal_data`)."""
    entry, stop, target = candidate.entry_price, candidate.stop_price, candidate.target_price
    reward_risk = None
    if entry is not None and stop is not None and target is not None and entry > stop:
        reward_risk = (target - entry) / (entry - stop)
    return {
        "ticker": candidate.ticker,
        "trade_date": candidate.trade_date.isoformat(),
        "rank": candidate.rank,
        "action": candidate.call,
        "status": "approved" if candidate.is_signal else "not a signal",
        "confidence": candidate.confidence,
        "expected_value_pct": candidate.expected_value,
        "entry_price": entry,
        "stop_price": stop,
        "target_price": target,
        "reward_risk": reward_risk,
        "position_size_pct": None,
        "shares": None,
        "model_version": candidate.model_version,
        "model_trusted": candidate.model_trusted,
        "summary": candidate.why,
        "top_reasons": [
            {"feature": d.get("feature"), "contribution": d.get("contribution")}
            for d in candidate.drivers[:TOP_REASONS]
        ],
        "risk_reasons": list(candidate.reasons),
        "messages": [candidate.why],
    }


async def emit_candidates_digest(
    *, session: AsyncSession, portfolio: str, trade_date: date, candidates: Sequence[CandidateRow]
) -> bool:
    """The day's one digest: the ranked candidates (by EV), each with why it is or is not a signal."""
    rows = [candidate_data(c) for c in sorted(candidates, key=lambda c: c.rank)]
    data = {
        "portfolio": portfolio,
        "trade_date": trade_date.isoformat(),
        "approved": sum(r["status"] == "approved" for r in rows),
        "rejected": sum(r["status"] != "approved" for r in rows),
        "candidates": rows,
    }
    key = f"{CANDIDATES_DIGEST}:{portfolio}:{trade_date.isoformat()}"
    return await emit(
        session=session, type=CANDIDATES_DIGEST, data=data, dedupe_key=key, trade_date=trade_date
    )


async def emit_halt(
    *,
    session: AsyncSession,
    portfolio: str,
    trade_date: date,
    reason: str | None,
    by_hand_at: datetime | None = None,
) -> bool:
    """The drawdown halt / kill switch latched at this close, or was set by hand at `by_hand_at`."""
    data = {
        "portfolio": portfolio,
        "trade_date": trade_date.isoformat(),
        "reason": reason or "kill switch on",
        "by_hand": by_hand_at is not None,
    }
    key = f"{RISK_HALTED}:{portfolio}:{trade_date.isoformat()}"
    if by_hand_at is not None:  # each halt by hand is news, even on a day the drawdown halt latched
        key += f":by-hand:{by_hand_at.isoformat()}"
    return await emit(session=session, type=RISK_HALTED, data=data, dedupe_key=key, trade_date=trade_date)


async def emit_model_untrusted(
    *, session: AsyncSession, model_version: str, reason: str, trade_date: date | None = None
) -> bool:
    """The active model lost its trusted status (no out-of-sample edge): no signals until it regains it."""
    data = {"model_version": model_version, "reason": reason}
    if trade_date is not None:
        data["trade_date"] = trade_date.isoformat()
    key = f"{MODEL_UNTRUSTED}:{model_version}"
    return await emit(session=session, type=MODEL_UNTRUSTED, data=data, dedupe_key=key, trade_date=trade_date)


async def emit_pipeline_failure(
    *,
    session: AsyncSession,
    step: str,
    trade_date: date | None,
    error: BaseException | str,
    attempt: int | str | None = None,
) -> bool:
    """A failed pipeline step. Call it in a NEW transaction (the step's own one rolled back).

    One event per (step, trade date, attempt): pass the runner's attempt or run id to report each failure,
    leave it out to report a night's failure once.
    """
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    data = {
        "step": step,
        "trade_date": trade_date.isoformat() if trade_date else None,
        "error": message[:1000],
        "failed_at": utcnow().isoformat(),
    }
    key = f"{PIPELINE_FAILED}:{step}:{trade_date.isoformat() if trade_date else '-'}"
    if attempt is not None:
        key += f":{attempt}"
    return await emit(session=session, type=PIPELINE_FAILED, data=data, dedupe_key=key, trade_date=trade_date)


def probe_data(now: datetime) -> dict[str, Any]:
    """The payload of a `notify test` event."""
    return {"message": "TFT Trader test notification: this subscription works.", "sent_at": now.isoformat()}
