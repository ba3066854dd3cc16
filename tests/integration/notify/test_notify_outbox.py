"""The live chain's outbox hook: events written in the caller's transaction, once per natural key."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.settings import RiskSettings
from backend.db.engine import transaction
from backend.notify import events
from backend.notify.models import NotificationEvent
from backend.pipeline import notifications
from backend.portfolio.book import PaperBook
from backend.portfolio.ledger import TradeRecord
from backend.portfolio.metrics import ClosedTrade
from backend.signals.candidates import CandidateRow
from backend.signals.generate import GenerationReport
from backend.signals.monitor import SessionReport
from tests.flows import in_db, run
from tests.integration.notify.conftest import candidate, signal

DAY = date(2013, 3, 1)


def trade() -> TradeRecord:
    closed = ClosedTrade("MSFT", DAY, "target", 512.0, 0.0512)
    return TradeRecord(
        ticker="MSFT", shares=40, entry_date=date(2013, 2, 25), entry_fill=250.0, exit_date=DAY,
        exit_price=262.8, exit_fill=262.8, cost_basis=10_001.0, proceeds=10_511.0, trade=closed,
        signal_date=date(2013, 2, 22),
    )  # fmt: skip


def stored() -> list[tuple[str, str]]:
    async def work(session: AsyncSession) -> list[tuple[str, str]]:
        rows = await session.execute(select(NotificationEvent.type, NotificationEvent.dedupe_key))
        return sorted((t, k) for t, k in rows)

    return in_db(work)


def record(
    report: GenerationReport,
    sessions: list[SessionReport],
    book: PaperBook,
    candidates: list[CandidateRow] | None = None,
) -> None:
    async def work(session: AsyncSession) -> None:
        await notifications.record_day(
            session=session, book=book, sessions=sessions, report=report, candidates=candidates or []
        )

    in_db(work)


def test_a_day_writes_signals_exits_halt_and_one_digest_once() -> None:
    book = PaperBook.new(RiskSettings())
    book.kill_switch, book.kill_switch_reason = True, "drawdown 15.2% from the peak 120,000.00 passed 15%"
    report = GenerationReport(DAY, approved=[signal("AAPL")], rejected=[signal("IBM", status="rejected")])
    sessions = [SessionReport(DAY, closed=[trade()], halted=True)]
    ranked = [candidate("AAPL", rank=1), candidate("IBM", rank=2, is_signal=False)]
    record(report, sessions, book, ranked)
    expected = [
        ("candidates.digest", "candidates.digest:live:2013-03-01"),
        ("risk.halted", "risk.halted:live:2013-03-01"),
        ("signal.new", "signal.new:live:AAPL:2013-03-01"),
        ("trade.closed", "trade.closed:live:MSFT:2013-02-25"),
    ]
    assert stored() == expected
    record(report, sessions, book, ranked)  # a rerun of the same day adds nothing
    assert stored() == expected

    async def digest(session: AsyncSession) -> dict:
        return (
            await session.scalars(
                select(NotificationEvent.payload).where(NotificationEvent.type == "candidates.digest")
            )
        ).one()

    payload = in_db(digest)
    assert (payload["approved"], payload["rejected"]) == (1, 1)
    assert [c["ticker"] for c in payload["candidates"]] == ["AAPL", "IBM"]


def test_events_roll_back_with_the_step_that_caused_them() -> None:
    class StepFailed(Exception):
        pass

    async def failing_step() -> None:
        async with transaction() as session:
            await events.emit_signal(session=session, portfolio="live", record=signal("NVDA"))
            raise StepFailed

    with pytest.raises(StepFailed):
        run(failing_step)
    assert stored() == []

    async def failure(session: AsyncSession) -> bool:
        return await events.emit_pipeline_failure(
            session=session, step="daily", trade_date=DAY, error=StepFailed("boom")
        )

    assert in_db(failure) is True
    assert stored() == [("pipeline.failed", "pipeline.failed:daily:2013-03-01")]


def test_already_generated_day_writes_no_signal_events() -> None:
    record(GenerationReport(DAY, already_generated=True), [], PaperBook.new(RiskSettings()))
    assert stored() == []
