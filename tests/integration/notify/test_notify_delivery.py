"""Delivering the outbox to a real SMTP server and a real HTTP receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook

from backend.core.calendar import utcnow
from backend.core.settings import override_settings
from backend.db.engine import transaction
from backend.notify import delivery, events, outbox, service
from backend.notify.models import NotificationEvent, NotificationSubscription
from backend.notify.schemas import ClaimedDelivery, DeliveryRead
from tests.flows import in_db, run
from tests.integration.notify.conftest import (
    PUBLIC_URL,
    add_email,
    add_webhook,
    candidate,
    emit_signal,
    signal,
)
from tests.receivers import WebhookReceiver


def log() -> list[DeliveryRead]:
    async def work(session: AsyncSession) -> list[DeliveryRead]:
        return await outbox.list_deliveries(session=session)

    return in_db(work)


def subscription(sub_id: int) -> NotificationSubscription:
    async def work(session: AsyncSession) -> NotificationSubscription:
        row = await session.get(NotificationSubscription, sub_id)
        assert row is not None
        return row

    return in_db(work)


def deliver_due(now=None):
    return run(lambda: delivery.deliver_due(now=now))


def test_signal_email_arrives_with_every_number_in_text_and_html(smtp) -> None:
    _, mailbox = smtp
    add_email("Alice@Example.com", ["signal.new"])
    add_email("bob@example.com", ["trade.closed"])  # not subscribed to signals: gets nothing
    emit_signal()
    outcomes = deliver_due()
    assert [(o.status, o.code, o.target) for o in outcomes] == [("sent", 250, "Alice@example.com")]
    assert len(mailbox.messages) == 1
    rcpts, mail = mailbox.messages[0]
    assert rcpts == ["Alice@example.com"]
    assert mail["Subject"] == "[TFT Trader] BUY AAPL (confidence 0.74) for 2013-03-01"
    assert mail["From"] == "signals@trader.example.com"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    # EV from the class probabilities: 0.6 x 7.5% - 0.1 x 3% = +4.20%.
    for expected in ("confidence   0.74", "EV           +4.20%", "entry        430.47", "stop         417.56",
                     "target       462.75", "reward:risk  2.5", "34 shares (15.0% of the portfolio)",
                     "rsi_oversold 0.210, sentiment_trend 0.120, macd_cross_up 0.050",
                     f"Dashboard: {PUBLIC_URL}/signals/?ticker=AAPL&date=2013-03-01"):  # fmt: skip
        assert expected in text, expected
    assert "volume_ratio" not in text  # the top three reasons only
    assert "<td>Reward:risk</td><td>2.5</td>" in html and "+4.20%" in html
    assert f'href="{PUBLIC_URL}/signals/?ticker=AAPL&amp;date=2013-03-01"' in html
    [row] = log()
    assert (row.status, row.attempts, row.last_code) == ("sent", 1, 250) and row.sent_at is not None
    assert deliver_due() == [] and len(mailbox.messages) == 1  # nothing left to send


def test_one_digest_mail_per_day_lists_every_candidate(smtp) -> None:
    _, mailbox = smtp
    add_email("carol@example.com", ["candidates.digest"])
    day = date(2013, 3, 1)
    candidates = [
        candidate("MSFT", rank=3, is_signal=False, confidence=0.55),
        candidate("AAPL", rank=1),
        candidate("IBM", rank=2, is_signal=False),
    ]

    async def work(session: AsyncSession) -> list[bool]:
        return [
            await events.emit_candidates_digest(
                session=session, portfolio="live", trade_date=day, candidates=candidates
            )
            for _ in range(2)  # a rerun of the same day adds nothing
        ]

    assert in_db(work) == [True, False]
    deliver_due()
    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0][1]
    assert mail["Subject"] == "[TFT Trader] Candidates for 2013-03-01: 1 approved, 2 rejected"
    text = mail.get_body(("plain",)).get_content()
    assert (
        text.index("BUY AAPL (approved)")
        < text.index("BUY IBM (not a signal)")
        < text.index("BUY MSFT (not a signal)")
    )
    assert "rejected because: below_confidence_bar" in text
    assert "EV           +1.20%" in text


def test_smtp_login_refused_fails_at_once_with_the_reply(smtp) -> None:
    add_email("dave@example.com", ["signal.new"])
    emit_signal()
    with override_settings(notify={"smtp_password": "wrong"}):
        [outcome] = deliver_due()
        assert deliver_due(utcnow() + timedelta(days=1)) == []  # not retried
    assert outcome.status == "failed" and outcome.code == 535
    [row] = log()
    assert (row.status, row.attempts, row.last_code) == ("failed", 1, 535)
    assert row.last_reply and row.last_reply.startswith("535") and row.last_error == "SMTP login refused"
    assert smtp[1].messages == []


def test_smtp_4xx_is_retried_with_backoff_and_5xx_fails(smtp) -> None:
    busy = add_email("busy@example.com", ["signal.new"])
    add_email("nouser@example.com", ["signal.new"])
    emit_signal()
    before = utcnow()
    outcomes = {o.subscription_id: o for o in deliver_due(before)}
    assert outcomes[busy].status == "pending" and outcomes[busy].code == 450
    next_at = outcomes[busy].next_attempt_at
    assert next_at is not None and 30 <= (next_at - before).total_seconds() <= 60  # base 60 s, equal jitter
    failed = next(o for o in outcomes.values() if o.subscription_id != busy)
    assert (failed.status, failed.code) == ("failed", 550) and "no such user" in (failed.reply or "")
    assert smtp[1].messages == []


def test_webhook_is_signed_and_verifies_with_the_library(receiver: WebhookReceiver) -> None:
    _, secret = add_webhook(receiver.url("/ok"), ["signal.new"])
    emit_signal()
    [outcome] = deliver_due()
    assert (outcome.status, outcome.code) == ("sent", 200)
    [hit] = receiver.hits("/ok")
    payload = Webhook(secret).verify(hit.body, hit.headers)

    async def public_id(session: AsyncSession) -> str:
        return (await session.scalars(select(NotificationEvent.public_id))).one()

    assert payload["id"] == hit.headers["webhook-id"] == in_db(public_id)
    assert (payload["type"], payload["version"]) == ("signal.new", 1)
    assert payload["data"]["signal"]["ticker"] == "AAPL" and payload["data"]["signal"]["reward_risk"] == 2.5
    assert payload["data"]["dashboard_url"] == f"{PUBLIC_URL}/signals/?ticker=AAPL&date=2013-03-01"
    assert hit.headers["content-type"] == "application/json"
    [row] = log()
    assert row.last_reply == "HTTP 200 OK"  # the status line only: the body is never read back


def test_5xx_is_retried_with_backoff_then_marked_failed(receiver: WebhookReceiver) -> None:
    receiver.responses["/fail"] = [503]
    add_webhook(receiver.url("/fail"), ["signal.new"])
    emit_signal()
    now = utcnow()
    statuses = []
    for attempt in (1, 2, 3):
        [outcome] = deliver_due(now)
        statuses.append(outcome.status)
        assert outcome.attempts == attempt and outcome.code == 503
        assert deliver_due(now) == []  # not due again before its next attempt
        if outcome.next_attempt_at:
            now = outcome.next_attempt_at
    assert statuses == ["pending", "pending", "failed"]
    assert len(receiver.hits("/fail")) == 3
    [row] = log()
    assert row.status == "failed" and row.attempts == 3 and row.next_attempt_at is None
    assert row.last_error == "gave up after 3 attempts; last: the receiver answered 503"
    assert "internal detail" not in json.dumps(row.model_dump(mode="json"))  # response bodies never shown
    assert deliver_due(now + timedelta(days=1)) == []


def test_429_then_success(receiver: WebhookReceiver) -> None:
    receiver.responses["/busy"] = [429, 200]
    add_webhook(receiver.url("/busy"), ["signal.new"])
    emit_signal()
    [first] = deliver_due()
    assert (first.status, first.code) == ("pending", 429)
    [second] = deliver_due(first.next_attempt_at)
    assert (second.status, second.code, second.attempts) == ("sent", 200, 2)


def test_410_disables_the_subscription(receiver: WebhookReceiver) -> None:
    receiver.responses["/gone"] = [410]
    sub_id, _ = add_webhook(receiver.url("/gone"), ["signal.new"])
    emit_signal(signal("AAPL"))
    emit_signal(signal("MSFT"))
    outcomes = run(lambda: delivery.deliver_due(limit=1))
    assert [(o.status, o.code) for o in outcomes] == [("disabled", 410)]
    sub = subscription(sub_id)
    assert not sub.active and "410" in (sub.disabled_reason or "")
    assert sorted(r.status for r in log()) == ["disabled", "disabled"]  # the queued one too
    emit_signal(signal("IBM"))
    assert deliver_due() == [] and len(receiver.hits("/gone")) == 1


def test_redirect_is_not_followed(receiver: WebhookReceiver) -> None:
    receiver.responses["/moved"] = ["redirect"]
    add_webhook(receiver.url("/moved"), ["signal.new"])
    emit_signal()
    [outcome] = deliver_due()
    assert (outcome.status, outcome.code) == ("failed", 302)
    assert "redirect" in (outcome.error or "")
    assert receiver.hits("/ok") == [] and len(receiver.hits("/moved")) == 1


def test_hanging_receiver_times_out_and_is_retried(receiver: WebhookReceiver) -> None:
    receiver.responses["/hang"] = ["hang:3"]
    add_webhook(receiver.url("/hang"), ["signal.new"])
    emit_signal()
    with override_settings(notify={"webhook_timeout_seconds": 0.5}):
        [outcome] = deliver_due()
    # The receiver answers 200 after 3 s: "pending" with this error means the 0.5 s deadline cut it off.
    assert outcome.status == "pending" and outcome.error == "no answer within 0.5 s"
    assert outcome.code is None


def test_outbox_survives_a_crash_between_commit_and_send(receiver: WebhookReceiver) -> None:
    """The event is committed with its cause; the process dies before sending; a later sweep sends it.
    A worker that dies after claiming leaves the row to a later sweep once its claim expires."""
    add_webhook(receiver.url("/ok"), ["signal.new"])
    emit_signal()  # committed; "the process dies" here: nothing was sent
    assert receiver.received == []

    async def claim_and_die() -> None:
        now = utcnow()
        async with transaction() as session:
            await outbox.fan_out(session=session, now=now)
        async with transaction() as session:
            [delivery_id] = await outbox.due_ids(session=session, now=now, limit=10)
            assert await outbox.claim(session=session, delivery_id=delivery_id, now=now) is not None

    run(claim_and_die)  # a worker claimed the delivery and died before sending
    assert deliver_due() == []  # still claimed: no one else sends it meanwhile
    [outcome] = deliver_due(utcnow() + timedelta(seconds=301))  # the claim (300 s) expired
    assert (outcome.status, outcome.attempts) == ("sent", 2)
    assert len(receiver.hits("/ok")) == 1


def test_redelivered_or_concurrent_attempts_send_once(receiver: WebhookReceiver) -> None:
    add_webhook(receiver.url("/ok"), ["signal.new"])
    emit_signal(signal("AAPL"))
    emit_signal(signal("MSFT"))

    async def twice_each() -> list[object]:
        now = utcnow()
        async with transaction() as session:
            await outbox.fan_out(session=session, now=now)
        async with transaction() as session:
            first, second = await outbox.due_ids(session=session, now=now, limit=10)
        # the same task delivered twice in a row, and three copies racing each other
        sequential = [await delivery.deliver_one(first), await delivery.deliver_one(first)]
        concurrent = await asyncio.gather(*(delivery.deliver_one(second) for _ in range(3)))
        return [*sequential, *concurrent]

    results = run(twice_each)
    assert sum(r is not None for r in results) == 2
    assert len(receiver.hits("/ok")) == 2
    assert sorted(json.loads(h.body)["data"]["signal"]["ticker"] for h in receiver.hits("/ok")) == [
        "AAPL",
        "MSFT",
    ]


def test_rotation_signs_with_both_secrets_until_the_grace_period_ends(receiver: WebhookReceiver) -> None:
    sub_id, old = add_webhook(receiver.url("/ok"), ["signal.new"])

    async def rotate(session: AsyncSession) -> str:
        return (await service.rotate_secret(session=session, subscription_id=sub_id, now=utcnow()))[0]

    new = in_db(rotate)
    assert new != old and new.startswith("whsec_")
    emit_signal(signal("AAPL"))
    deliver_due()
    hit = receiver.hits("/ok")[0]
    assert len(hit.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(hit.body, hit.headers)
    Webhook(old).verify(hit.body, hit.headers)
    emit_signal(signal("MSFT"))
    deliver_due(utcnow() + timedelta(hours=25))  # past the 24 h grace period: only the new secret signs
    late = receiver.hits("/ok")[1]
    assert len(late.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(late.body, late.headers)


def test_each_claim_of_a_sweep_reads_the_clock_when_it_is_taken(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lease counted from the sweep's start would have run out for its last deliveries (a long sweep),
    letting the next sweep send them again: each claim gets its own time, and its own lease from it."""
    add_webhook(receiver.url("/ok"), ["signal.new"])
    emit_signal(signal("AAPL"))
    emit_signal(signal("MSFT"))
    start = utcnow()
    ticks = iter(range(1, 100))
    # Every reading of the clock is 400 s after the previous one (longer than the 300 s lease).
    monkeypatch.setattr(delivery, "utcnow", lambda: start + timedelta(seconds=400 * next(ticks)))
    claimed_at: list[datetime] = []
    real_claim = outbox.claim

    async def spy(*, session: AsyncSession, delivery_id: int, now: datetime) -> ClaimedDelivery | None:
        claimed_at.append(now)
        return await real_claim(session=session, delivery_id=delivery_id, now=now)

    monkeypatch.setattr(outbox, "claim", spy)
    outcomes = deliver_due()
    assert sorted(o.status for o in outcomes) == ["sent", "sent"]
    sweep_at = start + timedelta(seconds=400)  # the sweep's own first reading
    assert len(claimed_at) == 2 and len(set(claimed_at)) == 2 and min(claimed_at) > sweep_at
    assert len(receiver.hits("/ok")) == 2


def test_a_subscription_disabled_by_410_can_be_enabled_again(receiver: WebhookReceiver) -> None:
    receiver.responses["/back"] = [410, 200]
    sub_id, _ = add_webhook(receiver.url("/back"), ["signal.new"])
    emit_signal(signal("AAPL"))
    assert [o.status for o in deliver_due()] == ["disabled"]

    async def enable(session: AsyncSession) -> bool:
        return (await service.enable(session=session, subscription_id=sub_id)).active

    assert in_db(enable) is True
    sub = subscription(sub_id)
    assert sub.active and sub.disabled_reason is None
    emit_signal(signal("MSFT"))
    [outcome] = deliver_due()
    assert (outcome.status, outcome.code) == ("sent", 200)
    # The event of while it was off is not resent: the receiver saw AAPL (410) and then MSFT only.
    tickers = [json.loads(h.body)["data"]["signal"]["ticker"] for h in receiver.hits("/back")]
    assert tickers == ["AAPL", "MSFT"]


def test_old_sent_events_are_pruned_and_failed_ones_kept(receiver: WebhookReceiver) -> None:
    add_webhook(receiver.url("/prune"), ["signal.new"])
    emit_signal(signal("AAPL"))
    [sent] = deliver_due()
    receiver.responses["/prune"] = [400]
    emit_signal(signal("MSFT"))
    [failed] = deliver_due()
    assert (sent.status, failed.status) == ("sent", "failed")

    async def tickers(session: AsyncSession) -> list[str]:
        payloads = await session.scalars(select(NotificationEvent.payload).order_by(NotificationEvent.id))
        return [p["signal"]["ticker"] for p in payloads]

    deliver_due(utcnow() + timedelta(days=29))  # within the 30 days' retention: both stay
    assert in_db(tickers) == ["AAPL", "MSFT"]
    deliver_due(utcnow() + timedelta(days=31))
    assert in_db(tickers) == ["MSFT"]  # the failed one stays visible
    assert [(r.event_type, r.status) for r in log()] == [("signal.new", "failed")]


def test_an_attempt_ends_inside_its_claim_whatever_the_channel_timeout(receiver: WebhookReceiver) -> None:
    receiver.responses["/slow"] = ["hang:3"]
    add_webhook(receiver.url("/slow"), ["signal.new"])
    emit_signal()
    # The webhook timeout alone would wait 10 s; the claim (1 s) bounds the attempt to half of it.
    with override_settings(notify={"webhook_timeout_seconds": 10.0, "claim_seconds": 1.0}):
        [outcome] = deliver_due()
    assert outcome.status == "pending" and outcome.code is None
    assert outcome.error == "attempt cut off after 0.5 s (half of NOTIFY__CLAIM_SECONDS)"
