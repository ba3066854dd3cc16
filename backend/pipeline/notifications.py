"""The live chain's notification outbox and live events: what a day's sessions and signals tell subscribers.

`record_*` run inside the pipeline's transaction, before its commit, so the outbox events exist exactly when
the signals, trades and halts that cause them do. `publish_*` run after the commit and put the same news
on the live event bus (`GET /api/v1/events`), so a client that refetches on an event finds the rows.
Backtests call neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from backend.events import bus
from backend.notify import events as outbox
from backend.portfolio.book import PaperBook
from backend.portfolio.models import LIVE_PORTFOLIO
from backend.signals.candidates import CandidateRow
from backend.signals.generate import GenerationReport
from backend.signals.monitor import SessionReport


async def record_sessions(
    *, session: AsyncSession, book: PaperBook, sessions: Sequence[SessionReport]
) -> None:
    """Exits and kill-switch latches of processed sessions (the daily run and the monitor)."""
    for report in sessions:
        for trade in report.closed:
            await outbox.emit_exit(session=session, portfolio=LIVE_PORTFOLIO, trade=trade)
        if report.halted:
            await outbox.emit_halt(
                session=session,
                portfolio=LIVE_PORTFOLIO,
                trade_date=report.trade_date,
                reason=book.kill_switch_reason,
            )


async def record_day(
    *,
    session: AsyncSession,
    book: PaperBook,
    sessions: Sequence[SessionReport],
    report: GenerationReport | None,
    candidates: Sequence[CandidateRow] = (),
) -> None:
    """Everything the after-close run tells: exits, halts, new signals and the day's one digest of its
    ranked candidates (stored in `daily_candidates`)."""
    await record_sessions(session=session, book=book, sessions=sessions)
    if report is None or report.already_generated:
        return
    for record in report.approved:
        await outbox.emit_signal(session=session, portfolio=LIVE_PORTFOLIO, record=record)
    await outbox.emit_candidates_digest(
        session=session,
        portfolio=LIVE_PORTFOLIO,
        trade_date=report.trade_date,
        candidates=candidates,
    )


def _session_events(sessions: Sequence[SessionReport]) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    for report in sessions:
        for trade in report.closed:
            events.append(
                (
                    bus.POSITION_EXITED,
                    {
                        "portfolio": LIVE_PORTFOLIO,
                        "ticker": trade.ticker,
                        "exit_date": trade.exit_date.isoformat(),
                        "exit_reason": trade.trade.exit_reason,
                        "pnl": trade.trade.pnl,
                        "return_pct": trade.trade.return_pct,
                    },
                )
            )
        if report.halted:
            events.append(
                (
                    bus.PORTFOLIO_HALTED,
                    {"portfolio": LIVE_PORTFOLIO, "trade_date": report.trade_date.isoformat()},
                )
            )
    return events


async def publish_sessions(sessions: Sequence[SessionReport]) -> None:
    """Exits and halts of committed sessions on the live event bus (never raises: events are a courtesy)."""
    await bus.publish_many(_session_events(sessions))


async def publish_day(sessions: Sequence[SessionReport], report: GenerationReport | None) -> None:
    """A committed after-close run on the live event bus: its sessions' exits and halts, its new signals."""
    events = _session_events(sessions)
    if report is not None and not report.already_generated:
        events += [
            (
                bus.SIGNAL_CREATED,
                {
                    "portfolio": LIVE_PORTFOLIO,
                    "ticker": record.ticker,
                    "trade_date": record.trade_date.isoformat(),
                    "signal": record.signal,
                    "confidence": record.confidence,
                    "entry_price": record.entry_price,
                    "stop_price": record.stop_price,
                    "target_price": record.target_price,
                    "shares": record.shares,
                },
            )
            for record in report.approved
        ]
    await bus.publish_many(events)
