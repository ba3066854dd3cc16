"""Paper books stored and restored on the real databases: every part of a book survives a round trip."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import next_trading_day, session_close, session_open, trading_days
from backend.core.errors import NotFound
from backend.core.settings import RiskSettings, get_settings
from backend.portfolio import service as portfolio_service
from backend.portfolio.book import PaperBook
from backend.portfolio.models import EquitySnapshotRow, Portfolio, PositionRow, TradeRow
from backend.signals.models import TradingSignal
from backend.signals.schemas import SignalRecord, SignalStatus

RISK = RiskSettings(starting_capital=100_000.0, commission_per_trade=1.0, slippage_bps=5.0)
D0, D1, D2, D3, D4, D5 = trading_days(date(2016, 3, 1), date(2016, 3, 10))[:6]  # Mar 1-4, 7, 8
NAN = float("nan")


def signal(ticker: str, day: date, status: SignalStatus, **extra: object) -> SignalRecord:
    """A signal record with every JSON and timestamp column filled, as `generate_signals` makes them."""
    values: dict[str, object] = {
        "ticker": ticker,
        "trade_date": day,
        "signal": "BUY",
        "confidence": 0.83,
        "status": status,
        "entry_price": 100.0,
        "generated_at": session_close(day),
        "expires_at": session_open(next_trading_day(day)),
        "stop_price": 95.0,
        "target_price": 110.0,
        "stop_pct": 0.05,
        "target_pct": 0.10,
        "risk_reward": 2.0,
        "position_size_pct": 0.1,
        "shares": 100,
        "sector": "Technology",
        "rsi": 41.5,
        "model_version": "20160301-000000",
        "explanation": {
            "text": "BUY with confidence 0.83",
            "probabilities": {"BUY": 0.83, "HOLD": 0.12, "SELL": 0.05},
            "contributions": [{"feature": "rsi_14", "contribution": 0.12}],
        },
        "reasons": [],
        "messages": ["approved"],
    }
    values.update(extra)
    return SignalRecord(**values)  # type: ignore[arg-type]


async def count(session: AsyncSession, model: type, portfolio_id: int) -> int:
    query = select(func.count()).select_from(model).where(model.portfolio_id == portfolio_id)
    return (await session.execute(query)).scalar_one()


async def reload(session: AsyncSession, name: str) -> tuple[Portfolio, PaperBook]:
    """What the next run sees: the header read again from the database, then the book from it."""
    session.expire_all()
    portfolio = await portfolio_service.get_portfolio(session=session, name=name)
    assert portfolio is not None
    return portfolio, await portfolio_service.load_book(session=session, portfolio=portfolio, settings=RISK)


def a_traded_book() -> tuple[PaperBook, SignalRecord, SignalRecord]:
    """A book with a closed trade, an open position with an exit order, a pending and an active signal,
    three snapshots, a latched kill switch and a peak of its own."""
    book = PaperBook.new(RISK)
    ledger = book.ledger
    ledger.open("MSFT", 200, 50.0, D1, 47.5, 55.0, sector="Technology", signal_date=D0)
    ledger.mark({"MSFT": 51.0}, D1)
    ledger.open("AAPL", 100, 100.0, D2, 95.0, 110.0, sector="Technology", signal_date=D1)
    ledger.mark({"MSFT": 52.0, "AAPL": 101.0}, D2)
    ledger.close("MSFT", 53.0, D3, "target")
    ledger.mark({"AAPL": 102.5}, D3)
    book.exit_orders["AAPL"] = "signal_flip"
    book.peak_equity = 101_234.5
    book.set_kill_switch(True, "halted in a test")
    book.last_session = book.last_signal_date = D3
    active = signal("AAPL", D1, "active", fill_price=100.05, filled_at=session_open(D2), shares=100)
    pending = signal("GOOG", D3, "pending", rsi=NAN, sentiment=0.25, sentiment_trend=-0.1)
    closed = signal("MSFT", D0, "closed", exit_price=53.0, exit_reason="target", pnl=587.7, return_pct=0.05)
    rejected = signal("IBM", D3, "rejected", shares=0, reasons=["min_confidence"], messages=["too unsure"])
    book.active["AAPL"], book.pending["GOOG"] = active, pending
    for record in (active, pending, closed, rejected):
        book.touch(record)
    return book, active, pending


async def test_save_then_load_round_trips_a_whole_book(session: AsyncSession) -> None:
    portfolio = await portfolio_service.create_portfolio(
        session=session, name="round-trip", kind="live", settings=RISK
    )
    book, active, pending = a_traded_book()
    await portfolio_service.save_book(session=session, portfolio=portfolio, book=book, since=None)
    assert book.touched == {}  # written back, so the next save does not write them again

    pid = portfolio.id
    assert await count(session, PositionRow, pid) == 1
    assert await count(session, TradeRow, pid) == 1
    assert await count(session, EquitySnapshotRow, pid) == 3
    assert await count(session, TradingSignal, pid) == 4  # the closed and rejected rows are stored too

    _, loaded = await reload(session, "round-trip")
    ledger = loaded.ledger
    # MSFT: fill 50 x 1.0005 = 50.025, cost 200 x 50.025 + 1 = 10,006.00 -> cash 89,994.00
    # AAPL: fill 100 x 1.0005 = 100.05, cost 100 x 100.05 + 1 = 10,006.00 -> cash 79,988.00
    # MSFT out at 53: fill 53 x 0.9995 = 52.9735, proceeds 200 x 52.9735 - 1 = 10,593.70 -> cash 90,581.70
    assert ledger.cash == pytest.approx(90_581.70)
    assert ledger.starting_cash == 100_000.0
    assert ledger.realized_pnl == pytest.approx(587.70)  # 10,593.70 - 10,006.00
    assert ledger.equity == pytest.approx(100_831.70)  # 90,581.70 + 100 x 102.5
    assert ledger.open_positions == book.ledger.open_positions
    held = ledger.open_positions["AAPL"]
    assert (held.shares, held.fill_price, held.cost_basis) == pytest.approx((100, 100.05, 10_006.0))
    assert (held.last_price, held.highest_close, held.signal_date) == (102.5, 102.5, D1)
    assert ledger.trade_records == book.ledger.trade_records
    assert [(t.ticker, t.exit_reason) for t in ledger.closed_trades] == [("MSFT", "target")]
    assert ledger.snapshots == book.ledger.snapshots
    assert [s.trade_date for s in ledger.snapshots] == [D1, D2, D3]
    assert [s.equity for s in ledger.snapshots] == pytest.approx(
        # D1: 89,994 + 200 x 51; D2: 79,988 + 200 x 52 + 100 x 101; D3: 90,581.70 + 100 x 102.5
        [100_194.0, 100_488.0, 100_831.70]
    )

    assert loaded.exit_orders == {"AAPL": "signal_flip"}
    assert (loaded.kill_switch, loaded.kill_switch_reason) == (True, "halted in a test")
    assert loaded.peak_equity == 101_234.5
    assert (loaded.last_session, loaded.last_signal_date) == (D3, D3)
    # Only open signals come back into the book; NaN was stored as NULL and comes back as None.
    assert loaded.active == {"AAPL": active}
    assert set(loaded.pending) == {"GOOG"}
    assert loaded.pending["GOOG"].rsi is None
    pending.rsi = None
    assert loaded.pending["GOOG"] == pending
    assert loaded.touched == {}


async def test_saving_since_the_last_session_appends_only_the_new_rows(session: AsyncSession) -> None:
    portfolio = await portfolio_service.create_portfolio(
        session=session, name="incremental", kind="live", settings=RISK
    )
    book, active, _ = a_traded_book()
    await portfolio_service.save_book(session=session, portfolio=portfolio, book=book, since=None)

    portfolio, loaded = await reload(session, "incremental")
    since = loaded.last_session
    loaded.ledger.mark({"AAPL": 104.0}, D4)
    loaded.ledger.close("AAPL", 106.0, D5, "target")
    loaded.ledger.mark({}, D5)
    loaded.exit_orders.clear()
    record = loaded.active.pop("AAPL")
    record.status, record.exit_price, record.exit_reason = "closed", 106.0, "target"
    loaded.touch(record)
    loaded.last_session = loaded.last_signal_date = D5
    await portfolio_service.save_book(session=session, portfolio=portfolio, book=loaded, since=since)

    pid = portfolio.id
    assert await count(session, TradeRow, pid) == 2  # MSFT not written again next to the new AAPL trade
    assert await count(session, EquitySnapshotRow, pid) == 5  # D1..D3 kept, D4 and D5 added
    assert await count(session, PositionRow, pid) == 0
    assert await count(session, TradingSignal, pid) == 4  # the AAPL signal updated in place

    _, again = await reload(session, "incremental")
    # AAPL out at 106: fill 106 x 0.9995 = 105.947, proceeds 100 x 105.947 - 1 = 10,593.70;
    # cash 90,581.70 + 10,593.70 = 101,175.40; pnl 10,593.70 - 10,006.00 = 587.70.
    assert again.ledger.cash == pytest.approx(101_175.40)
    assert again.ledger.equity == pytest.approx(101_175.40)
    assert [t.trade.pnl for t in again.ledger.trade_records] == pytest.approx([587.70, 587.70])
    assert again.ledger.open_positions == {} and again.exit_orders == {} and again.active == {}
    assert set(again.pending) == {"GOOG"}
    assert again.last_session == D5
    status = await session.scalar(
        select(TradingSignal.status).where(
            TradingSignal.portfolio_id == pid, TradingSignal.ticker == "AAPL", TradingSignal.trade_date == D1
        )
    )
    assert status == "closed" and active.status == "active"  # the first book's record was not mutated


async def test_save_signals_twice_updates_instead_of_duplicating(session: AsyncSession) -> None:
    first = await portfolio_service.create_portfolio(
        session=session, name="signals-a", kind="live", settings=RISK
    )
    other = await portfolio_service.create_portfolio(
        session=session, name="signals-b", kind="backtest", settings=RISK
    )
    assert await portfolio_service.save_signals(session=session, portfolio_id=first.id, records=[]) == 0
    aapl = signal("AAPL", D1, "pending", rsi=NAN)
    msft = signal("MSFT", D1, "rejected", shares=0, reasons=["max_positions"])
    assert (
        await portfolio_service.save_signals(session=session, portfolio_id=first.id, records=[aapl, msft])
        == 2
    )
    columns = (TradingSignal.id, TradingSignal.status, TradingSignal.shares, TradingSignal.fill_price)
    key = (
        TradingSignal.portfolio_id == first.id,
        TradingSignal.ticker == "AAPL",
        TradingSignal.trade_date == D1,
    )
    before = (await session.execute(select(*columns, TradingSignal.rsi).where(*key))).one()
    assert (before.status, before.shares, before.fill_price, before.rsi) == ("pending", 100, None, None)

    aapl.status, aapl.shares, aapl.fill_price = "active", 60, 101.25
    await portfolio_service.save_signals(session=session, portfolio_id=first.id, records=[aapl])
    await portfolio_service.save_signals(session=session, portfolio_id=first.id, records=[aapl])
    assert await count(session, TradingSignal, first.id) == 2
    after = (await session.execute(select(*columns).where(*key))).one()
    assert tuple(after) == (before.id, "active", 60, 101.25)  # the same row, updated

    # The key is (portfolio, ticker, trade date): another portfolio's signal is its own row.
    await portfolio_service.save_signals(session=session, portfolio_id=other.id, records=[aapl])
    assert await count(session, TradingSignal, other.id) == 1
    assert await count(session, TradingSignal, first.id) == 2
    rows = await portfolio_service.signals_for(session=session, portfolio_id=first.id, statuses=("active",))
    assert [(r.ticker, r.trade_date) for r in rows] == [("AAPL", D1)]


async def test_live_portfolio_is_created_once_and_not_without_asking(session: AsyncSession) -> None:
    with pytest.raises(NotFound, match="there is no live portfolio yet"):
        await portfolio_service.live_portfolio(session=session, create=False)
    live = await portfolio_service.live_portfolio(session=session)
    risk = get_settings().risk
    assert (live.name, live.kind, live.kill_switch, live.last_session) == ("live", "live", False, None)
    assert live.cash == live.starting_capital == live.peak_equity == risk.starting_capital
    assert live.settings == risk.model_dump(mode="json")
    again = await portfolio_service.live_portfolio(session=session, create=False)
    assert again.id == live.id
    assert (await portfolio_service.live_portfolio(session=session)).id == live.id
    n_live = await session.scalar(select(func.count()).select_from(Portfolio).where(Portfolio.name == "live"))
    assert n_live == 1
    book = await portfolio_service.load_book(session=session, portfolio=live, settings=risk)
    assert book.ledger.cash == risk.starting_capital and book.ledger.open_positions == {}
    assert book.ledger.snapshots == [] and book.pending == {} and book.last_session is None
