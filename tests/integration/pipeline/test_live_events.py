"""What a committed after-close run publishes on the live event bus, read by a real Redis subscriber:
one `signal.created` per approved entry, one `position.exited` per closed trade, a `portfolio.halted`, in
that order (exits and halts of the sessions first), and nothing for a rerun."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import redis

from backend.core.settings import get_settings, override_settings
from backend.events import bus
from backend.pipeline import notifications
from backend.portfolio.ledger import TradeRecord
from backend.portfolio.metrics import ClosedTrade
from backend.signals.generate import GenerationReport
from backend.signals.monitor import SessionReport
from tests.api_data import signal_record
from tests.flows import run

DAY = date(2012, 7, 2)


@pytest.fixture
def subscriber() -> Iterator[Any]:
    """A subscriber on a channel of this test's own (named after a unique task queue)."""
    with override_settings(tasks={"queue": f"tft-events-{uuid.uuid4().hex[:8]}"}):
        client: Any = redis.Redis.from_url(get_settings().redis_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(bus.channel())
        try:
            yield pubsub
        finally:
            pubsub.close()
            client.close()


def received(pubsub: Any, seconds: float = 1.5) -> list[bus.Event]:
    """What arrived within `seconds` (None from `get_message` also means "a subscribe confirmation")."""
    events = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message is not None:
            events.append(bus.Event.model_validate_json(message["data"]))
    return events


def closed(ticker: str, pnl: float) -> TradeRecord:
    return TradeRecord(
        ticker=ticker, shares=100, entry_date=date(2012, 6, 25), entry_fill=50.0, exit_date=DAY,
        exit_price=50.0 + pnl / 100, exit_fill=50.0 + pnl / 100, cost_basis=5_000.0, proceeds=5_000.0 + pnl,
        trade=ClosedTrade(
            ticker=ticker, exit_date=DAY, exit_reason="stop_loss", pnl=pnl, return_pct=pnl / 5000
        ),
    )  # fmt: skip


def test_a_day_s_signals_exits_and_halt_reach_a_subscriber(subscriber: Any) -> None:
    approved = [signal_record(t, DAY, "pending", p, 61.5) for t, p in (("AAPL", 0.7), ("MSFT", 0.8))]
    report = GenerationReport(
        DAY, approved=approved, rejected=[signal_record("XOM", DAY, "rejected", 0.6, 80)]
    )
    session = SessionReport(DAY, closed=[closed("IBM", -120.0)], halted=True)
    run(lambda: notifications.publish_day([session], report))
    events = received(subscriber)
    assert [(e.type, e.data.get("ticker")) for e in events] == [
        (bus.POSITION_EXITED, "IBM"),
        (bus.PORTFOLIO_HALTED, None),
        (bus.SIGNAL_CREATED, "AAPL"),
        (bus.SIGNAL_CREATED, "MSFT"),
    ]
    assert events[0].data == {
        "portfolio": "live", "ticker": "IBM", "exit_date": "2012-07-02", "exit_reason": "stop_loss",
        "pnl": -120.0, "return_pct": -0.024,
    }  # fmt: skip
    assert events[1].data == {"portfolio": "live", "trade_date": "2012-07-02"}
    msft = events[3].data
    assert (msft["confidence"], msft["entry_price"], msft["shares"]) == (0.8, 61.5, 150)
    assert msft["stop_price"] == pytest.approx(61.5 * 0.96) and msft["trade_date"] == "2012-07-02"

    run(
        lambda: notifications.publish_day(
            [], GenerationReport(DAY, already_generated=True, approved=approved)
        )
    )
    assert received(subscriber) == []  # a rerun that changed nothing says nothing


def test_publishing_without_redis_does_not_fail_the_step() -> None:
    with override_settings(redis_url="redis://127.0.0.1:6399/0"):
        report = GenerationReport(DAY, approved=[signal_record("AAPL", DAY, "pending", 0.7, 61.5)])
        run(lambda: notifications.publish_day([], report))  # logged, not raised
        assert run(lambda: bus.publish(bus.PIPELINE_STEP, {"task": "prices"})) == 0
