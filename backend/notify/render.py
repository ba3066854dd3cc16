"""Email subject, plain-text and HTML bodies of an event (Jinja templates in `templates/`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from backend.notify import events


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("backend.notify", "templates"),
        # HTML escaping matters: tickers, reasons and error texts end up in the HTML body.
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v, digits=1: "n/a" if v is None else f"{float(v) * 100:.{digits}f}%"
    env.filters["money"] = lambda v: "n/a" if v is None else f"{float(v):,.2f}"
    env.filters["num"] = lambda v, digits=2: "n/a" if v is None else f"{float(v):.{digits}f}"
    env.filters["signed_pct"] = lambda v: "n/a" if v is None else f"{float(v) * 100:+.2f}%"
    return env


def dashboard_link(public_url: str, type: str, payload: dict[str, Any]) -> str | None:
    """The dashboard page about the event, when PUBLIC_URL is set."""
    if not public_url:
        return None
    base = public_url.rstrip("/")
    if type == events.SIGNAL_NEW:
        signal = payload["signal"]
        return f"{base}/signals/?{urlencode({'ticker': signal['ticker'], 'date': signal['trade_date']})}"
    if type == events.CANDIDATES_DIGEST:
        return f"{base}/signals/?{urlencode({'date': payload['trade_date']})}"
    if type in (events.TRADE_CLOSED, events.RISK_HALTED):
        return f"{base}/portfolio/"
    if type == events.MODEL_UNTRUSTED:
        return f"{base}/models/"
    return f"{base}/"


def subject(type: str, payload: dict[str, Any]) -> str:
    """The email subject line of an event."""
    if type == events.SIGNAL_NEW:
        s = payload["signal"]
        return f"[TFT Trader] BUY {s['ticker']} (confidence {s['confidence']:.2f}) for {s['trade_date']}"
    if type == events.TRADE_CLOSED:
        t = payload["trade"]
        return f"[TFT Trader] Sold {t['ticker']} ({t['exit_reason']}): {t['return_pct'] * 100:+.2f}%"
    if type == events.CANDIDATES_DIGEST:
        return (
            f"[TFT Trader] Candidates for {payload['trade_date']}: {payload['approved']} approved, "
            f"{payload['rejected']} rejected"
        )
    if type == events.RISK_HALTED:
        return f"[TFT Trader] Trading halted on {payload['trade_date']}"
    if type == events.PIPELINE_FAILED:
        return (
            f"[TFT Trader] Pipeline step {payload['step']} FAILED for {payload.get('trade_date') or 'today'}"
        )
    if type == events.MODEL_UNTRUSTED:
        return f"[TFT Trader] Model {payload['model_version']} is no longer trusted: no new signals"
    return "[TFT Trader] Test notification"


def render(type: str, payload: dict[str, Any], *, public_url: str = "") -> Message:
    """The email for an event."""
    name = type if type in (events.SIGNAL_NEW, events.TRADE_CLOSED, events.CANDIDATES_DIGEST) else "generic"
    context = {
        "type": type,
        "title": subject(type, payload).removeprefix("[TFT Trader] "),
        "p": payload,
        "link": dashboard_link(public_url, type, payload),
        "description": events.EVENT_TYPES.get(type, "a test of this subscription"),
    }
    env = _env()
    return Message(
        subject=subject(type, payload),
        text=env.get_template(f"{name}.txt").render(context),
        html=env.get_template(f"{name}.html").render(context),
    )
