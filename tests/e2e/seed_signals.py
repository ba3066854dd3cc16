"""TEST DATA ONLY: signals for the browser tests, made from the demo day's stored candidates.

The bundled sample's model is not trusted and calls every ticker HOLD with a negative EV, so the demo (even
with the trust requirement off) records no signal, and the Signals pages would only show their empty state.
This writes a few signals into the live portfolio through the same service the pipeline uses
(`portfolio.service.save_signals`), priced from the candidates' own entry / stop / target: two approved
(pending), one closed at its target, one rejected by the risk manager.
Run: `python -m tests.e2e.seed_signals`.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

from backend.db.engine import transaction
from backend.events import bus
from backend.portfolio import service as portfolio_service
from backend.signals import service as signals_service
from backend.signals.schemas import SignalRecord


async def seed(*, live: bool = False) -> int:
    """The four TEST signals; with `live`, one more (a day earlier) and a `signal.created` event, as the
    pipeline would publish, to check that open pages update themselves."""
    async with transaction() as session:
        portfolio = await portfolio_service.live_portfolio(session=session, create=False, lock=True)
        day, candidates = await signals_service.list_candidates(session=session)
        if day is None or len(candidates) < 3:
            raise SystemExit("the demo stored fewer than 3 candidates: nothing to seed signals from")
        at = datetime(day.year, day.month, day.day, 22, 0, tzinfo=UTC)
        records = []
        picked = [(i, c) for i, c in enumerate(candidates[:4])]
        if live:
            picked = [(0, candidates[-1])]
            day = day - timedelta(days=1)
        for i, c in picked:
            entry = c.entry_price or 100.0
            stop = c.stop_price or entry * 0.96
            target = c.target_price or entry * 1.08
            status = ["pending", "pending", "closed", "rejected"][i]
            trade_date = day if status != "closed" else day - timedelta(days=7)
            records.append(
                SignalRecord(
                    ticker=c.ticker,
                    trade_date=trade_date,
                    signal="BUY",
                    confidence=c.confidence,
                    status=status,  # type: ignore[arg-type]
                    entry_price=entry,
                    generated_at=at,
                    expires_at=at + timedelta(days=3),
                    stop_price=stop,
                    target_price=target,
                    stop_pct=1 - stop / entry,
                    target_pct=target / entry - 1,
                    risk_reward=(target - entry) / (entry - stop),
                    position_size_pct=0.1 if status != "rejected" else 0.0,
                    shares=int(10_000 // entry) if status != "rejected" else 0,
                    rsi=55.0,
                    macd=0.4,
                    sentiment=0.12,
                    sentiment_trend=0.02,
                    model_version=c.model_version,
                    explanation={
                        "text": f"BUY with confidence {c.confidence:.2f} (TEST DATA for the browser tests)",
                        "probabilities": {"BUY": c.confidence, "HOLD": 0.3, "SELL": 0.7 - c.confidence},
                        "contributions": c.drivers,
                    },
                    reasons=["max_positions"] if status == "rejected" else [],
                    messages=["5 positions open: the limit is 5"] if status == "rejected" else [],
                    fill_price=entry if status == "closed" else None,
                    closed_at=at if status == "closed" else None,
                    exit_price=target if status == "closed" else None,
                    exit_reason="target" if status == "closed" else None,
                    pnl=(target - entry) * int(10_000 // entry) if status == "closed" else None,
                    return_pct=target / entry - 1 if status == "closed" else None,
                )
            )
        saved = await portfolio_service.save_signals(
            session=session, portfolio_id=portfolio.id, records=records
        )
    if live:
        listeners = await bus.publish("signal.created", {"ticker": records[0].ticker, "test_data": True})
        print(f"published signal.created to {listeners} listener(s)")
    return saved


if __name__ == "__main__":
    print(f"seeded {asyncio.run(seed(live='--live' in sys.argv))} TEST signals")
