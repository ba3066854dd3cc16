"""Email bodies: every event type renders; HTML escapes what came from data; links need PUBLIC_URL."""

from __future__ import annotations

from datetime import datetime

from backend.notify import events
from backend.notify.render import render


def test_every_event_type_renders_text_and_html() -> None:
    payloads = {
        events.RISK_HALTED: {"portfolio": "live", "trade_date": "2013-03-01", "reason": "drawdown 15.2% <b>"},
        events.PIPELINE_FAILED: {
            "step": "daily", "trade_date": "2013-03-01", "error": "DataSourceError: <no prices>"
        },
        events.MODEL_UNTRUSTED: {"model_version": "m-7", "reason": "no out-of-sample edge"},
        events.TEST: events.probe_data(datetime(2026, 1, 1)),
        events.CANDIDATES_DIGEST: {
            "portfolio": "live", "trade_date": "2013-03-01", "approved": 0, "rejected": 0, "candidates": []
        },
        events.TRADE_CLOSED: {"portfolio": "live", "trade": {
            "ticker": "MSFT", "action": "SELL", "shares": 40, "signal_date": None, "entry_date": "2013-02-25",
            "entry_price": 250.0, "exit_date": "2013-03-01", "exit_price": 262.8, "exit_reason": "target",
            "pnl": 512.0, "return_pct": 0.0512,
        }},
    }  # fmt: skip
    for type_, payload in payloads.items():
        message = render(type_, payload, public_url="")
        assert (
            message.subject.startswith("[TFT Trader]") and message.text and message.html.startswith("<html>")
        )
        assert "Dashboard" not in message.text
    halted = render(events.RISK_HALTED, payloads[events.RISK_HALTED], public_url="https://t.example/")
    assert "drawdown 15.2% &lt;b&gt;" in halted.html and "drawdown 15.2% <b>" in halted.text
    assert "Dashboard: https://t.example/portfolio/" in halted.text
    failed = render(events.PIPELINE_FAILED, payloads[events.PIPELINE_FAILED])
    assert failed.subject == "[TFT Trader] Pipeline step daily FAILED for 2013-03-01"
    assert "&lt;no prices&gt;" in failed.html
    empty = render(events.CANDIDATES_DIGEST, payloads[events.CANDIDATES_DIGEST])
    assert "No BUY candidates today." in empty.text
    sold = render(events.TRADE_CLOSED, payloads[events.TRADE_CLOSED])
    assert sold.subject == "[TFT Trader] Sold MSFT (target): +5.12%"
    assert "P&L     512.00 (+5.12%)" in sold.text and "P&amp;L" in sold.html
