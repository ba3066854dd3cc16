"""Realistic rows for API tests and the API benchmark: prices through ingestion, the synthetic Reddit feed,
a live portfolio with signals in every status, closed trades and an equity curve, and API keys."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import numpy as np
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import service as auth_service
from backend.core.calendar import next_trading_day, session_close, session_open, trading_days
from backend.db.base import table_of
from backend.market import service as market_service
from backend.market.models import Ticker
from backend.market.providers import PriceBatch
from backend.portfolio import service as portfolio_service
from backend.portfolio.models import EquitySnapshotRow, Portfolio, PositionRow, TradeRow
from backend.sentiment import sample_feed
from backend.sentiment import service as sentiment_service
from backend.signals.schemas import SignalRecord
from tests.factories import make_bars

TICKERS = {
    "AAPL": ("Apple Inc.", "Information Technology"),
    "MSFT": ("Microsoft Corp.", "Information Technology"),
    "XOM": ("Exxon Mobil Corp.", "Energy"),
}
START = date(2012, 1, 3)
N_BARS = 260
STATUSES = ("pending", "active", "closed", "expired", "rejected")


async def seed_market(session: AsyncSession) -> date:
    """Bars with indicators for TICKERS; returns the last session."""
    for i, (symbol, (name, sector)) in enumerate(TICKERS.items()):
        bars = make_bars(symbol, n=N_BARS, start=START, seed=i, price=50.0 + 30 * i)
        await market_service.ingest(session=session, batch=PriceBatch("csv", bars), ticker_source="seed")
        await session.execute(update(Ticker).where(Ticker.symbol == symbol).values(name=name, sector=sector))
    return trading_days(START, date(2013, 12, 31))[N_BARS - 1]


async def seed_sentiment(session: AsyncSession, last: date) -> None:
    days = trading_days(last - timedelta(days=20), last)
    items = sample_feed.generate(sorted(TICKERS), days, seed=3)
    await sentiment_service.store_items(
        session=session, items=items, known=frozenset(TICKERS), synthetic=True
    )
    await sentiment_service.aggregate_daily(session=session, start=days[0], end=days[-1])


def signal_record(ticker: str, day: date, status: str, confidence: float, price: float) -> SignalRecord:
    """A signal record with every column filled, as `generate_signals` makes them."""
    stop, target = price * 0.96, price * 1.08
    return SignalRecord(
        ticker=ticker,
        trade_date=day,
        signal="BUY",
        confidence=confidence,
        status=status,  # type: ignore[arg-type]
        entry_price=price,
        generated_at=session_close(day),
        expires_at=session_open(next_trading_day(day)),
        stop_price=stop,
        target_price=target,
        stop_pct=0.04,
        target_pct=0.08,
        risk_reward=2.0,
        position_size_pct=0.1 if status != "rejected" else 0.0,
        shares=150 if status != "rejected" else 0,
        sector="Information Technology",
        rsi=45.0,
        macd=0.3,
        sentiment=0.12,
        sentiment_trend=0.05,
        model_version="20130101-000000",
        explanation={
            "text": f"BUY with confidence {confidence:.2f}; top drivers: rsi_14 +0.120",
            "probabilities": {"BUY": confidence, "HOLD": 1 - confidence - 0.05, "SELL": 0.05},
            "expected_value": round(confidence - 0.6, 4),
            "contributions": [{"feature": "rsi_14", "value": 45.0, "contribution": 0.12}],
        },
        reasons=["max_positions"] if status == "rejected" else [],
        messages=["5 positions held, the maximum is 5"] if status == "rejected" else ["approved"],
    )


async def seed_portfolio(
    session: AsyncSession, last: date, *, n_signals: int = 40, n_trades: int = 12, seed: int = 0
) -> Portfolio:
    """The live portfolio with `n_signals` signals over the sessions before `last` (statuses cycling),
    `n_trades` closed trades, an equity snapshot per session and one open position."""
    rng = np.random.default_rng(seed)
    portfolio, _ = await portfolio_service.live_book(session=session, create=True)
    days = trading_days(START, last)
    tickers = sorted(TICKERS)
    # (ticker, trade_date) is unique per portfolio: spread signals over tickers x sessions, newest first.
    slots = [(t, d) for d in reversed(days) for t in tickers]
    if n_signals > len(slots):
        extra = [f"T{i:04d}" for i in range(n_signals // len(days) + 1)]
        slots += [(t, d) for d in reversed(days) for t in extra]
    records = [
        signal_record(t, d, STATUSES[i % len(STATUSES)], round(float(rng.uniform(0.55, 0.95)), 3), 100.0)
        for i, (t, d) in enumerate(slots[:n_signals])
    ]
    await portfolio_service.save_signals(session=session, portfolio_id=portfolio.id, records=records)
    # (portfolio, ticker, entry_date) is unique: ten names x the sessions give room for 2,500 trades.
    pool = [*tickers, *(f"T{k}" for k in range(7))]
    span = len(days) - 10
    trades = []
    for i in range(n_trades):
        entry, exit_ = days[(i // len(pool)) % span], days[(i // len(pool)) % span + 5]
        pnl = round(float(rng.normal(50, 300)), 2)
        cost = 10_000.0
        trades.append(
            {
                "portfolio_id": portfolio.id,
                "ticker": pool[i % len(pool)],
                "signal_date": entry,
                "shares": 100,
                "entry_date": entry,
                "entry_fill": 100.0,
                "exit_date": exit_,
                "exit_price": 100.0 + pnl / 100,
                "exit_fill": 100.0 + pnl / 100,
                "exit_reason": ("target_hit", "stop_loss", "time_exit")[i % 3],
                "cost_basis": cost,
                "proceeds": cost + pnl,
                "pnl": pnl,
                "return_pct": pnl / cost,
            }
        )
    if trades:
        await session.execute(table_of(TradeRow).insert(), trades)
    realized = sum(t["pnl"] for t in trades)
    equity = 100_000.0
    snapshots = []
    for d in days:
        equity *= float(np.exp(rng.normal(0.0003, 0.006)))
        snapshots.append(
            {
                "portfolio_id": portfolio.id,
                "trade_date": d,
                "cash": equity * 0.8,
                "positions_value": equity * 0.2,
                "equity": equity,
                "n_positions": 1,
            }
        )
    await session.execute(table_of(EquitySnapshotRow).insert(), snapshots)
    await session.execute(
        table_of(PositionRow).insert(),
        [
            {
                "portfolio_id": portfolio.id,
                "ticker": "AAPL",
                "signal_date": days[-3],
                "shares": 150,
                "entry_price": 100.0,
                "fill_price": 100.05,
                "entry_date": days[-2],
                "stop_price": 96.0,
                "target_price": 108.0,
                "cost_basis": 15_008.5,
                "sector": "Information Technology",
                "last_price": 102.0,
                "highest_close": 102.0,
            }
        ],
    )
    cash = 100_000.0 + realized - 15_008.5
    await session.execute(
        update(Portfolio)
        .where(Portfolio.id == portfolio.id)
        .values(
            cash=cash,
            peak_equity=max(cash + 150 * 102.0, 100_000.0),
            last_session=last,
            last_signal_date=last,
        )
    )
    return portfolio


async def create_key(session: AsyncSession, name: str, scope: str) -> str:
    return (await auth_service.create(session=session, name=name, scope=scope)).key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
