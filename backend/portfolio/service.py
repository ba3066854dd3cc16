"""Store and restore paper books: the live portfolio between runs, a backtest's book at its end.

A book is written in the caller's transaction, so a session's fills, exits, snapshot and signals land
together or not at all.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import previous_trading_day, trading_date_for, utcnow
from backend.core.errors import NotFound
from backend.core.settings import RiskSettings, get_settings
from backend.db.base import table_of
from backend.db.upsert import dialect_insert
from backend.notify import events as notify_events
from backend.portfolio.book import PaperBook
from backend.portfolio.ledger import EquitySnapshot, Holding, Ledger, TradeRecord
from backend.portfolio.models import (
    LIVE_PORTFOLIO,
    EquitySnapshotRow,
    Portfolio,
    PositionRow,
    TradeRow,
    TradingSignal,
)
from backend.portfolio.positions import OPEN_STATUSES, SignalRecord
from backend.portfolio.schemas import PendingEntryRead, PortfolioRead, PortfolioSummaryRead, PositionRead
from backend.portfolio.trades import ClosedTrade

SIGNAL_FIELDS = tuple(f.name for f in dataclasses.fields(SignalRecord))
# Rows per statement: well under PostgreSQL's 32,767 bind parameters with ~35 columns a row.
CHUNK = 500


async def get_portfolio(*, session: AsyncSession, name: str, lock: bool = False) -> Portfolio | None:
    """The portfolio by name; `lock` holds it until the transaction ends, so a monitor pass, the daily run
    and `portfolio halt` never load the same book and overwrite each other's work."""
    if lock:
        await lock_books(session=session)
    query = select(Portfolio).where(Portfolio.name == name)
    return await session.scalar(query.with_for_update() if lock else query)


async def lock_books(*, session: AsyncSession) -> None:
    """On SQLite, take the database's write lock now (what `BEGIN IMMEDIATE` does).

    SQLite ignores `SELECT ... FOR UPDATE`, and Python's driver only begins a transaction at the first
    write: two book transactions would both read the same book and the later save would drop the other's
    sale. A no-op write as the first statement makes the second writer wait (busy_timeout) until the first
    commits, and only then read. PostgreSQL locks the portfolio row instead.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(update(Portfolio).where(Portfolio.id == -1).values(name=Portfolio.name))


async def create_portfolio(
    *, session: AsyncSession, name: str, kind: str, settings: RiskSettings
) -> Portfolio:
    portfolio = Portfolio(
        name=name,
        kind=kind,
        starting_capital=settings.starting_capital,
        cash=settings.starting_capital,
        peak_equity=settings.starting_capital,
        kill_switch=False,
        settings=settings.model_dump(mode="json"),
    )
    session.add(portfolio)
    await session.flush()
    return portfolio


async def live_portfolio(*, session: AsyncSession, create: bool = True, lock: bool = True) -> Portfolio:
    """The live paper portfolio, created with the current risk settings on first use.

    `lock` (for writers) holds the book until the transaction ends (the row on PostgreSQL, the database's
    write lock on SQLite); readers pass False so they never wait behind a monitor pass. Two first runs at
    once both insert with ON CONFLICT DO NOTHING: the loser waits for the winner's row and uses it instead
    of failing on the unique name.
    """
    if lock:
        await lock_books(session=session)
    if create:
        settings = get_settings().risk
        await session.execute(
            dialect_insert(session, table_of(Portfolio))
            .values(
                name=LIVE_PORTFOLIO,
                kind="live",
                starting_capital=settings.starting_capital,
                cash=settings.starting_capital,
                peak_equity=settings.starting_capital,
                kill_switch=False,
                settings=settings.model_dump(mode="json"),
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
    query = select(Portfolio).where(Portfolio.name == LIVE_PORTFOLIO)
    if lock:
        query = query.with_for_update()
    portfolio = await session.scalar(query.execution_options(populate_existing=True))
    if portfolio is None:
        raise NotFound("there is no live portfolio yet: run `tft-trader pipeline run` first")
    return portfolio


async def held_tickers(*, session: AsyncSession, name: str = LIVE_PORTFOLIO) -> list[str]:
    """Tickers the portfolio holds or has pending entries for (their prices must keep coming)."""
    portfolio = await get_portfolio(session=session, name=name)
    if portfolio is None:
        return []
    held = await session.scalars(select(PositionRow.ticker).where(PositionRow.portfolio_id == portfolio.id))
    pending = await session.scalars(
        select(TradingSignal.ticker).where(
            TradingSignal.portfolio_id == portfolio.id, TradingSignal.status.in_(list(OPEN_STATUSES))
        )
    )
    return sorted(set(held.all()) | set(pending.all()))


async def live_book(
    *, session: AsyncSession, create: bool = True, lock: bool = True
) -> tuple[Portfolio, PaperBook]:
    """The live portfolio's header and its whole book, with the current risk settings."""
    portfolio = await live_portfolio(session=session, create=create, lock=lock)
    book = await load_book(session=session, portfolio=portfolio, settings=get_settings().risk)
    return portfolio, book


async def load_book(*, session: AsyncSession, portfolio: Portfolio, settings: RiskSettings) -> PaperBook:
    """The stored book: holdings, every trade and snapshot, open signals, exit orders, kill switch."""
    pid = portfolio.id
    positions = (await session.scalars(select(PositionRow).where(PositionRow.portfolio_id == pid))).all()
    trades = (
        await session.scalars(select(TradeRow).where(TradeRow.portfolio_id == pid).order_by(TradeRow.id))
    ).all()
    snapshots = (
        await session.scalars(
            select(EquitySnapshotRow)
            .where(EquitySnapshotRow.portfolio_id == pid)
            .order_by(EquitySnapshotRow.trade_date)
        )
    ).all()
    ledger = Ledger.restore(
        settings,
        starting_cash=portfolio.starting_capital,
        cash=portfolio.cash,
        holdings=[_holding(p) for p in positions],
        trades=[_trade(t) for t in trades],
        snapshots=[_snapshot(s) for s in snapshots],
        last_date=portfolio.last_session,
    )
    book = PaperBook(
        ledger=ledger,
        peak_equity=portfolio.peak_equity,
        kill_switch=portfolio.kill_switch,
        kill_switch_reason=portfolio.kill_switch_reason,
        last_session=portfolio.last_session,
        last_signal_date=portfolio.last_signal_date,
        exit_orders={p.ticker: p.exit_order for p in positions if p.exit_order},
    )
    open_signals = await session.scalars(
        select(TradingSignal).where(
            TradingSignal.portfolio_id == pid, TradingSignal.status.in_(list(OPEN_STATUSES))
        )
    )
    for row in open_signals:
        record = SignalRecord(**{name: getattr(row, name) for name in SIGNAL_FIELDS})
        (book.pending if record.status == "pending" else book.active)[record.ticker] = record
    return book


async def save_book(
    *, session: AsyncSession, portfolio: Portfolio, book: PaperBook, since: date | None
) -> None:
    """Write the book back; `since` is the last session already stored (what `load_book` saw)."""
    pid = portfolio.id
    ledger = book.ledger
    await session.execute(
        update(Portfolio)
        .where(Portfolio.id == pid)
        .values(
            cash=ledger.cash,
            peak_equity=book.peak_equity,
            kill_switch=book.kill_switch,
            kill_switch_reason=book.kill_switch_reason,
            last_session=book.last_session,
            last_signal_date=book.last_signal_date,
            settings=book.settings.model_dump(mode="json"),
        )
    )
    await session.execute(delete(PositionRow).where(PositionRow.portfolio_id == pid))
    positions = [
        {
            "portfolio_id": pid,
            **{f: getattr(h, f) for f in _HOLDING_COLUMNS},
            "exit_order": book.exit_orders.get(h.ticker),
        }
        for h in ledger.open_positions.values()
    ]
    if positions:
        await session.execute(table_of(PositionRow).insert(), positions)
    new_trades = [t for t in ledger.trade_records if since is None or t.exit_date > since]
    await _insert_new(session, table_of(TradeRow), [_trade_row(pid, t) for t in new_trades])
    new_snapshots = [s for s in ledger.snapshots if since is None or s.trade_date > since]
    await _insert_new(
        session,
        table_of(EquitySnapshotRow),
        [{"portfolio_id": pid, **dataclasses.asdict(s)} for s in new_snapshots],
    )
    await save_signals(session=session, portfolio_id=pid, records=list(book.touched.values()))
    book.touched.clear()


async def save_signals(*, session: AsyncSession, portfolio_id: int, records: Sequence[SignalRecord]) -> int:
    """Upsert signal records by (portfolio, ticker, trading date): a rerun updates, never duplicates."""
    if not records:
        return 0
    table = table_of(TradingSignal)
    rows = [{"portfolio_id": portfolio_id, **_clean(dataclasses.asdict(r))} for r in records]
    key = ("portfolio_id", "ticker", "trade_date")
    for start in range(0, len(rows), CHUNK):
        stmt = dialect_insert(session, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={c: stmt.excluded[c] for c in rows[0] if c not in key},
        )
        await session.execute(stmt, rows[start : start + CHUNK])
    return len(rows)


async def signals_for(
    *, session: AsyncSession, portfolio_id: int, trade_date: date | None = None, statuses: Sequence[str] = ()
) -> list[TradingSignal]:
    query = select(TradingSignal).where(TradingSignal.portfolio_id == portfolio_id)
    if trade_date is not None:
        query = query.where(TradingSignal.trade_date == trade_date)
    if statuses:
        query = query.where(TradingSignal.status.in_(list(statuses)))
    return list((await session.scalars(query.order_by(TradingSignal.trade_date, TradingSignal.ticker))).all())


# --- what the CLI and the API show ----------------------------------------------------------------------


async def report(*, session: AsyncSession, with_performance: bool = True) -> PortfolioRead:
    """The live portfolio: summary, positions, pending entries and (optionally) performance metrics.

    Raises NotFound before the first pipeline run. Reads without locking the portfolio row.
    """
    _, book = await live_book(session=session, create=False, lock=False)
    return build_report(book, with_performance=with_performance)


async def summary(*, session: AsyncSession) -> PortfolioSummaryRead:
    """The live portfolio's summary from aggregates, without restoring the whole book.

    The same numbers as `report()` (a test holds them equal): equity is cash plus the holdings at their last
    price, drawdown is measured from the stored high-water mark (never below today's equity). Restoring
    every trade and open signal on each call made the API's most-read endpoint the slowest one.
    """
    portfolio = await live_portfolio(session=session, create=False, lock=False)
    pid = portfolio.id
    holdings = [
        _holding(p) for p in await session.scalars(select(PositionRow).where(PositionRow.portfolio_id == pid))
    ]
    # One round trip for both aggregates: each query costs more in the driver than in PostgreSQL here.
    realized, n_pending = (
        await session.execute(
            select(
                select(func.coalesce(func.sum(TradeRow.pnl), 0.0))
                .where(TradeRow.portfolio_id == pid)
                .scalar_subquery(),
                # One pending entry per ticker in the book (the newest signal's): count tickers, not rows.
                select(func.count(func.distinct(TradingSignal.ticker)))
                .where(TradingSignal.portfolio_id == pid, TradingSignal.status == "pending")
                .scalar_subquery(),
            )
        )
    ).one()
    last_two = (
        await session.scalars(
            select(EquitySnapshotRow.equity)
            .where(EquitySnapshotRow.portfolio_id == pid)
            .order_by(EquitySnapshotRow.trade_date.desc())
            .limit(2)
        )
    ).all()
    positions_value = float(sum(h.market_value for h in holdings))
    equity = portfolio.cash + positions_value
    peak = max(portfolio.peak_equity, equity)
    today_pnl = None
    if last_two:
        today_pnl = last_two[0] - (last_two[1] if len(last_two) > 1 else portfolio.starting_capital)
    return PortfolioSummaryRead(
        as_of=portfolio.last_session,
        starting_capital=portfolio.starting_capital,
        cash=portfolio.cash,
        equity=equity,
        positions_value=positions_value,
        realized_pnl=float(realized or 0.0),
        unrealized_pnl=float(sum(h.market_value - h.cost_basis for h in holdings)),
        total_pnl=equity - portfolio.starting_capital,
        today_pnl=today_pnl,
        peak_equity=portfolio.peak_equity,
        drawdown=max(0.0, 1.0 - equity / peak) if peak > 0 else 0.0,
        max_drawdown=get_settings().risk.max_drawdown_pct,
        kill_switch=portfolio.kill_switch,
        kill_switch_reason=portfolio.kill_switch_reason,
        n_positions=len(holdings),
        n_pending=int(n_pending or 0),
    )


def build_report(book: PaperBook, *, with_performance: bool = True) -> PortfolioRead:
    """The `PortfolioRead` of a loaded book (pure)."""
    ledger = book.ledger
    positions = [
        PositionRead(
            ticker=h.ticker,
            shares=h.shares,
            signal_date=h.signal_date,
            entry_date=h.entry_date,
            fill_price=h.fill_price,
            last_price=h.price,
            stop_price=h.stop_price,
            target_price=h.target_price,
            cost_basis=h.cost_basis,
            market_value=h.market_value,
            unrealized_pnl=h.market_value - h.cost_basis,
            unrealized_pct=(h.market_value - h.cost_basis) / h.cost_basis if h.cost_basis else 0.0,
            exit_order=book.exit_orders.get(h.ticker),
        )
        for h in ledger.open_positions.values()
    ]
    pending = [
        PendingEntryRead(ticker=s.ticker, shares=s.shares, signal_date=s.trade_date)
        for s in sorted(book.pending.values(), key=lambda r: (r.trade_date, r.ticker))
    ]
    snapshots = ledger.snapshots
    today_pnl = None
    if snapshots:
        before = snapshots[-2].equity if len(snapshots) > 1 else ledger.starting_cash
        today_pnl = snapshots[-1].equity - before
    return PortfolioRead(
        as_of=book.last_session,
        starting_capital=ledger.starting_cash,
        cash=ledger.cash,
        equity=ledger.equity,
        positions_value=ledger.positions_value,
        realized_pnl=ledger.realized_pnl,
        unrealized_pnl=ledger.unrealized_pnl(),
        total_pnl=ledger.equity - ledger.starting_cash,
        today_pnl=today_pnl,
        peak_equity=book.peak_equity,
        drawdown=book.drawdown,
        max_drawdown=book.settings.max_drawdown_pct,
        kill_switch=book.kill_switch,
        kill_switch_reason=book.kill_switch_reason,
        n_positions=len(positions),
        n_pending=len(pending),
        positions=positions,
        pending=pending,
        performance=performance(book) if with_performance else None,
    )


def performance(book: PaperBook) -> dict[str, Any] | None:
    """Equity and trade metrics counted from the starting capital (None before the first session)."""
    # Imported here: the metrics need pandas and numpy (about a second), which reads that skip the
    # performance (the API's summary, `portfolio show` before the first session) should not pay for.
    from backend.portfolio.metrics import performance_report, with_start

    ledger = book.ledger
    curve, counts = ledger.equity_curve(), ledger.positions_count()
    if not len(curve):
        return None
    before = previous_trading_day(curve.index[0].date())
    curve = with_start(curve, ledger.starting_cash, before)
    return performance_report(curve, ledger.closed_trades, with_start(counts, 0, before)).to_dict()


async def set_kill_switch(*, session: AsyncSession, on: bool, reason: str | None = None) -> PortfolioRead:
    """Turn the live portfolio's kill switch on (no new entries) or off (rebases the high-water mark).

    Turning it on by hand puts a "halted" event in the notification outbox in the same transaction, so
    subscribers hear of it exactly when it is stored (the CLI and the API both come through here).
    """
    portfolio, book = await live_book(session=session, create=True, lock=True)
    was_on = book.kill_switch
    book.set_kill_switch(on, reason)
    await save_book(session=session, portfolio=portfolio, book=book, since=book.last_session)
    if on and not was_on:
        now = utcnow()
        await notify_events.emit_halt(
            session=session,
            portfolio=portfolio.name,
            trade_date=trading_date_for(now),
            reason=book.kill_switch_reason,
            by_hand_at=now,
        )
    return build_report(book, with_performance=False)


async def closed_trades(
    *, session: AsyncSession, portfolio_id: int, after_id: int | None = None, limit: int = 100
) -> list[TradeRow]:
    """Closed trades, newest first (by id), after the cursor `after_id`."""
    query = select(TradeRow).where(TradeRow.portfolio_id == portfolio_id)
    if after_id is not None:
        query = query.where(TradeRow.id < after_id)
    return list((await session.scalars(query.order_by(TradeRow.id.desc()).limit(limit))).all())


async def equity_curve(
    *,
    session: AsyncSession,
    portfolio_id: int,
    start: date | None = None,
    end: date | None = None,
    after: date | None = None,
    limit: int = 500,
) -> list[EquitySnapshotRow]:
    """Equity snapshots oldest first, from `start` to `end`, after the cursor date `after`."""
    query = select(EquitySnapshotRow).where(EquitySnapshotRow.portfolio_id == portfolio_id)
    if start is not None:
        query = query.where(EquitySnapshotRow.trade_date >= start)
    if end is not None:
        query = query.where(EquitySnapshotRow.trade_date <= end)
    if after is not None:
        query = query.where(EquitySnapshotRow.trade_date > after)
    rows = await session.scalars(query.order_by(EquitySnapshotRow.trade_date).limit(limit))
    return list(rows.all())


# --- row <-> domain ------------------------------------------------------------------------------------

_HOLDING_COLUMNS = tuple(f.name for f in dataclasses.fields(Holding))


def _holding(row: PositionRow) -> Holding:
    return Holding(**{f: getattr(row, f) for f in _HOLDING_COLUMNS})


def _trade(row: TradeRow) -> TradeRecord:
    closed = ClosedTrade(row.ticker, row.exit_date, row.exit_reason, row.pnl, row.return_pct)
    return TradeRecord(
        ticker=row.ticker,
        shares=row.shares,
        entry_date=row.entry_date,
        entry_fill=row.entry_fill,
        exit_date=row.exit_date,
        exit_price=row.exit_price,
        exit_fill=row.exit_fill,
        cost_basis=row.cost_basis,
        proceeds=row.proceeds,
        trade=closed,
        signal_date=row.signal_date,
    )


def _trade_row(portfolio_id: int, t: TradeRecord) -> dict[str, Any]:
    return {
        "portfolio_id": portfolio_id,
        "ticker": t.ticker,
        "signal_date": t.signal_date,
        "shares": t.shares,
        "entry_date": t.entry_date,
        "entry_fill": t.entry_fill,
        "exit_date": t.exit_date,
        "exit_price": t.exit_price,
        "exit_fill": t.exit_fill,
        "exit_reason": t.trade.exit_reason,
        "cost_basis": t.cost_basis,
        "proceeds": t.proceeds,
        "pnl": t.trade.pnl,
        "return_pct": t.trade.return_pct,
    }


def _snapshot(row: EquitySnapshotRow) -> EquitySnapshot:
    return EquitySnapshot(row.trade_date, row.cash, row.positions_value, row.equity, row.n_positions)


async def _insert_new(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        stmt = dialect_insert(session, table).on_conflict_do_nothing()
        await session.execute(stmt, rows[start : start + CHUNK])


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """NaN is not JSON and not a price: store it as NULL."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
