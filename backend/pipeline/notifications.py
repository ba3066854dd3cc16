"""The live chain's notification outbox: what a day's sessions and signals tell subscribers.

Called inside the pipeline's transaction, before its commit, so the events exist exactly when the signals,
trades and halts that cause them do. Backtests never call it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

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
