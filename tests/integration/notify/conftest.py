"""Notification tests on committed databases (SQLite and PostgreSQL) with a real SMTP server and a real
HTTP receiver; the tables are emptied after each test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import utcnow
from backend.core.settings import override_settings
from backend.notify import events, service
from backend.notify.models import NotificationDelivery, NotificationEvent, NotificationSubscription
from backend.signals.candidates import CandidateRow
from backend.signals.schemas import SignalRecord
from tests.conftest import BACKENDS
from tests.flows import in_db
from tests.receivers import SMTP_PASSWORD, SMTP_USER, MailHandler, WebhookReceiver, certificates, smtp_server
from tests.receivers import webhook_receiver as _webhook_receiver

PUBLIC_URL = "https://trader.example.com"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    certs = certificates(tmp_path_factory.mktemp("tls"), "localhost", "127.0.0.1")
    with pytest.MonkeyPatch.context() as patch:
        # Clients (aiosmtplib's and httpx's default contexts) trust the throwaway CA through this variable.
        patch.setenv("SSL_CERT_FILE", str(certs.ca_file))
        yield certs


@pytest.fixture(scope="module")
def smtp(tls) -> Iterator[tuple[int, MailHandler]]:
    with smtp_server(tls.server) as server:  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with _webhook_receiver() as r:
        yield r


@pytest.fixture(scope="module", params=BACKENDS)
def notify_db(request: pytest.FixtureRequest, make_database, smtp) -> Iterator[str]:
    url = make_database(request.param)
    port, _ = smtp
    notify = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "smtp_from": "signals@trader.example.com",
        "smtp_security": "starttls",
        "allow_private_webhooks": True,  # the receiver is on 127.0.0.1
        "require_https": False,
        "webhook_timeout_seconds": 2.0,
        "max_attempts": 3,
        "smtp_timeout_seconds": 5.0,
    }
    with override_settings(database_url=url, public_url=PUBLIC_URL, notify=notify):
        yield url


@pytest.fixture(autouse=True)
def clean(notify_db: str, smtp, receiver: WebhookReceiver) -> Iterator[None]:
    yield
    smtp[1].messages.clear()
    receiver.received.clear()
    receiver.responses.clear()

    async def wipe(session: AsyncSession) -> None:
        for model in (NotificationDelivery, NotificationEvent, NotificationSubscription):
            await session.execute(delete(model))

    in_db(wipe)


def signal(
    ticker: str = "AAPL", *, status: str = "pending", confidence: float = 0.74, day: date = date(2013, 3, 1)
) -> SignalRecord:
    now = datetime(2013, 3, 1, 21, tzinfo=utcnow().tzinfo)
    return SignalRecord(
        ticker=ticker, trade_date=day, signal="BUY", confidence=confidence, status=status,  # type: ignore[arg-type]
        entry_price=430.47, stop_price=417.56, target_price=462.75, stop_pct=0.03, target_pct=0.075,
        risk_reward=2.5, position_size_pct=0.15, shares=34, sector="Technology", model_version="m-7",
        explanation={
            "text": f"BUY with confidence {confidence:.2f}",
            "probabilities": {"BUY": 0.6, "HOLD": 0.3, "SELL": 0.1},
            "contributions": [
                {"feature": "rsi_oversold", "contribution": 0.21},
                {"feature": "sentiment_trend", "contribution": 0.12},
                {"feature": "macd_cross_up", "contribution": 0.05},
                {"feature": "volume_ratio", "contribution": 0.01},
            ],
        },
        reasons=[] if status == "pending" else ["min_confidence"],
        generated_at=now, expires_at=now,
    )  # fmt: skip


def candidate(
    ticker: str = "AAPL", *, rank: int = 1, is_signal: bool = True, confidence: float = 0.64
) -> CandidateRow:
    """One of the day's ranked candidates, as the signal step stores it."""
    return CandidateRow(
        trade_date=date(2013, 3, 1), ticker=ticker, rank=rank, call="BUY", confidence=confidence,
        expected_value=0.012, entry_price=430.47, stop_price=417.56, target_price=462.75,
        is_signal=is_signal, reasons=[] if is_signal else ["below_confidence_bar"],
        why="a signal" if is_signal else f"P(win) {confidence:.2f} is below the 0.60 bar",
        drivers=[{"feature": "ret_5d_rank", "contribution": 0.21}], model_version="m-7", model_trusted=True,
    )  # fmt: skip


def add_email(address: str, names: list[str] | None = None) -> int:
    async def work(session: AsyncSession) -> int:
        return (await service.add_email(session=session, address=address, event_names=names)).id

    return in_db(work)


def add_webhook(url: str, names: list[str] | None = None) -> tuple[int, str]:
    async def work(session: AsyncSession) -> tuple[int, str]:
        created = await service.add_webhook(session=session, url=url, event_names=names)
        assert created.secret is not None
        return created.id, created.secret

    return in_db(work)


def emit_signal(record: SignalRecord | None = None) -> None:
    async def work(session: AsyncSession) -> None:
        assert await events.emit_signal(session=session, portfolio="live", record=record or signal())

    in_db(work)
