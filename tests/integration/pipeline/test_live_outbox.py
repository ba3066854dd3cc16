"""The live after-close chain writes its notification events in its own transaction (trained model, sample
prices): one digest per day, one event per approved signal, nothing new on a rerun."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.notify.models import NotificationEvent
from tests.flows import in_db
from tests.integration.portfolio.test_live_pipeline import D1, D2, both, daily_run, live_db

__all__ = ["live_db"]  # the fixture, shared with the live pipeline's tests


def outbox() -> Counter[tuple[str, str | None]]:
    async def work(session: AsyncSession) -> Counter[tuple[str, str | None]]:
        rows = await session.execute(select(NotificationEvent.type, NotificationEvent.trade_date))
        return Counter((t, d.isoformat() if d else None) for t, d in rows)

    return in_db(work)


@both
def test_daily_runs_write_the_outbox_with_their_signals(live_db: str) -> None:
    expected: Counter[tuple[str, str | None]] = Counter()
    for day in (D1, D2):
        outcome = daily_run(day)
        assert outcome.signals is not None
        expected[("candidates.digest", day.isoformat())] += 1
        expected[("signal.new", day.isoformat())] += len(outcome.signals.approved)
        for report in outcome.sessions:
            expected[("trade.closed", report.trade_date.isoformat())] += len(report.closed)
    assert outbox() == +expected
    daily_run(D2)  # a rerun of the latest day changes nothing, in the outbox too
    assert outbox() == +expected
