"""Overlapping writers of the live book (a monitor pass and `portfolio halt`, two first runs) on both
databases: the second waits for the first instead of overwriting it, and at most one model is active."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import trading_days
from backend.core.settings import get_settings
from backend.db.engine import transaction
from backend.ml.models import ModelVersion
from backend.portfolio import service as portfolio_service
from backend.portfolio.models import Portfolio, PositionRow, TradeRow
from tests.flows import run

both = pytest.mark.parametrize("fresh_db", ["sqlite", "postgresql"], indirect=True)
D1, D2 = trading_days(date(2016, 3, 1), date(2016, 3, 2))


async def holding_aapl() -> None:
    async with transaction() as session:
        portfolio = await portfolio_service.live_portfolio(session=session)
        book = await portfolio_service.load_book(
            session=session, portfolio=portfolio, settings=get_settings().risk
        )
        book.ledger.open("AAPL", 100, 100.0, D1, 95.0, 110.0)
        book.ledger.mark({"AAPL": 101.0}, D1)
        book.last_session = D1
        await portfolio_service.save_book(session=session, portfolio=portfolio, book=book, since=None)


async def monitor_sells_aapl(started: asyncio.Event) -> None:
    """A slow monitor pass: loads the book, waits for a quote, sells at the target."""
    async with transaction() as session:
        portfolio = await portfolio_service.live_portfolio(session=session, create=False)
        book = await portfolio_service.load_book(
            session=session, portfolio=portfolio, settings=get_settings().risk
        )
        since = book.last_session
        started.set()
        await asyncio.sleep(1.0)
        book.ledger.close("AAPL", 110.0, D2, "target")
        book.ledger.mark({}, D2)
        book.last_session = D2
        await portfolio_service.save_book(session=session, portfolio=portfolio, book=book, since=since)


async def halt(started: asyncio.Event) -> None:
    """`portfolio halt` while the monitor pass is between its read and its write."""
    await started.wait()
    async with transaction() as session:
        portfolio = await portfolio_service.live_portfolio(session=session)
        book = await portfolio_service.load_book(
            session=session, portfolio=portfolio, settings=get_settings().risk
        )
        book.set_kill_switch(True, "set by hand")
        await portfolio_service.save_book(
            session=session, portfolio=portfolio, book=book, since=book.last_session
        )


async def state() -> dict[str, Any]:
    async with transaction() as session:
        portfolio = await session.scalar(select(Portfolio))
        assert portfolio is not None
        held = (await session.scalars(select(PositionRow.ticker))).all()
        trades = (await session.scalars(select(TradeRow.ticker))).all()
        return {"held": list(held), "trades": list(trades), "halted": portfolio.kill_switch}


@both
def test_a_halt_overlapping_a_monitor_pass_loses_no_sale(fresh_db: str) -> None:
    async def flow() -> dict[str, Any]:
        await holding_aapl()
        started = asyncio.Event()
        await asyncio.gather(monitor_sells_aapl(started), halt(started))
        return await state()

    # Before the write lock on SQLite: AAPL still held, its sale also booked, or the halt dropped.
    assert run(flow) == {"held": [], "trades": ["AAPL"], "halted": True}


@both
def test_creating_the_live_portfolio_twice_at_once_does_not_raise(fresh_db: str) -> None:
    async def create() -> int:
        async with transaction() as session:
            portfolio = await portfolio_service.live_portfolio(session=session)
            await asyncio.sleep(0.3)  # both first runs are inside their transactions at once
            return portfolio.id

    async def flow() -> tuple[list[int], int]:
        ids = await asyncio.gather(create(), create())
        async with transaction() as session:
            rows = (await session.execute(select(func.count()).select_from(Portfolio))).scalar_one()
        return list(ids), rows

    ids, rows = run(flow)
    assert rows == 1 and ids[0] == ids[1]


def _model(version: str, active: bool) -> ModelVersion:
    return ModelVersion(
        version=version, members=["xgboost"], weights={"xgboost": 1.0}, feature_set_version="v1",
        feature_columns=["rsi_14"], tickers=["AAPL"], train_start=D1, train_end=D2, as_of=D2, n_samples=1,
        class_balance={}, metrics={}, calibration={}, oos_score=0.0, promotion={}, notes=[], is_active=active,
    )  # fmt: skip


async def test_at_most_one_model_is_active(session: AsyncSession) -> None:
    session.add_all([_model("a", True), _model("b", False), _model("c", False)])
    await session.flush()
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            session.add(_model("d", True))
            await session.flush()
