"""`tft-trader notify ...` against a committed database, a real SMTP server and a real HTTP receiver."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from backend.cli import app
from backend.core.settings import override_settings
from backend.notify.models import NotificationEvent, NotificationSubscription
from tests.flows import in_db
from tests.receivers import WebhookReceiver

runner = CliRunner()


def subscriptions() -> int:
    async def work(session: AsyncSession) -> int:
        return (
            await session.execute(select(func.count()).select_from(NotificationSubscription))
        ).scalar_one()

    return in_db(work)


def test_bad_input_is_one_line_and_stores_nothing() -> None:
    cases = [
        (["add-email", "not-an-email"], "error: invalid email address 'not-an-email'"),
        (
            ["add-email", "a@example.com", "--events", "signal.new,bogus"],
            "error: unknown event 'bogus': choose from",
        ),
        (["add-webhook", "ftp://example.com/x"], "error: invalid webhook URL 'ftp://example.com/x'"),
        (
            ["add-webhook", "https://169.254.169.254/latest"],
            "refused: 169.254.169.254 resolves to a non-public",
        ),
    ]
    with override_settings(notify={"allow_private_webhooks": False}):
        for args, message in cases:
            result = runner.invoke(app, ["notify", *args])
            assert result.exit_code == 1, result.output
            assert message in result.stderr
            assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    with override_settings(notify={"require_https": True}):
        result = runner.invoke(app, ["notify", "add-webhook", "http://127.0.0.1:9/x"])
        assert result.exit_code == 1 and "is not https: NOTIFY__REQUIRE_HTTPS is on" in result.stderr
    assert subscriptions() == 0


def test_add_list_test_deliveries_rotate_remove(smtp, receiver: WebhookReceiver) -> None:
    added = runner.invoke(
        app, ["notify", "add-email", "e@x.io", "-e", "signal.new", "-e", "candidates.digest"]
    )
    assert added.exit_code == 0, added.output
    assert (
        "subscription 1: email e@x.io" in added.output
        and "events: signal.new, candidates.digest" in added.output
    )
    hook = runner.invoke(app, ["notify", "add-webhook", receiver.url("/ok")])
    assert hook.exit_code == 0, hook.output
    secret = hook.output.split("keep it): ")[1].split()[0]
    assert secret.startswith("whsec_")

    listed = runner.invoke(app, ["notify", "list"])
    assert listed.exit_code == 0 and "e@x.io" in listed.output and secret not in listed.output

    tested = runner.invoke(app, ["notify", "test"])
    assert tested.exit_code == 0, tested.output
    assert "sent #1 email e@x.io (notification.test, attempt 1): 250 2.0.0 queued" in tested.output
    assert (
        f"sent #2 webhook {receiver.url('/ok')} (notification.test, attempt 1): HTTP 200 OK" in tested.output
    )
    assert (
        len(smtp[1].messages) == 1 and smtp[1].messages[0][1]["Subject"] == "[TFT Trader] Test notification"
    )
    assert len(receiver.hits("/ok")) == 1

    rotated = runner.invoke(app, ["notify", "rotate-secret", "2"])
    assert rotated.exit_code == 0 and "whsec_" in rotated.output and secret not in rotated.output
    assert runner.invoke(app, ["notify", "rotate-secret", "1"]).exit_code == 1  # email has no secret

    receiver.responses["/ok"] = [404]
    failing = runner.invoke(app, ["notify", "test", "2"])
    assert failing.exit_code == 1 and "failed #2 webhook" in failing.output and "404" in failing.output
    shown = runner.invoke(app, ["notify", "deliveries", "--failed"])
    assert shown.exit_code == 0 and "failed" in shown.output and "404" in shown.output

    removed = runner.invoke(app, ["notify", "remove", "2"])
    assert removed.exit_code == 0 and "removed subscription 2" in removed.output
    missing = runner.invoke(app, ["notify", "remove", "2"])
    assert missing.exit_code == 1 and "no notification subscription 2" in missing.stderr
    assert subscriptions() == 1


def halt_events() -> list[dict]:
    async def work(session: AsyncSession) -> list[dict]:
        query = select(NotificationEvent.payload).where(NotificationEvent.type == "risk.halted")
        return list((await session.scalars(query.order_by(NotificationEvent.id))).all())

    return in_db(work)


def test_a_halt_by_hand_reaches_subscribers_once_per_halt(receiver: WebhookReceiver) -> None:
    added = runner.invoke(app, ["notify", "add-webhook", receiver.url("/ok"), "--events", "risk.halted"])
    assert added.exit_code == 0, added.output
    try:
        assert runner.invoke(app, ["portfolio", "halt", "--reason", "earnings week"]).exit_code == 0
        assert runner.invoke(app, ["portfolio", "halt", "--reason", "again"]).exit_code == 0  # already on
        [event] = halt_events()
        assert (event["reason"], event["by_hand"], event["portfolio"]) == ("earnings week", True, "live")
        assert runner.invoke(app, ["notify", "deliver"]).exit_code == 0
        [hit] = receiver.hits("/ok")
        body = json.loads(hit.body)
        assert (body["type"], body["data"]["reason"]) == ("risk.halted", "earnings week")
        # Resumed and halted again the same day: a second halt, a second message.
        assert runner.invoke(app, ["portfolio", "resume"]).exit_code == 0
        assert runner.invoke(app, ["portfolio", "halt"]).exit_code == 0
        assert [e["reason"] for e in halt_events()] == ["earnings week", "set by hand"]
    finally:
        runner.invoke(app, ["portfolio", "resume"])


def test_enable_reactivates_and_an_unknown_id_is_one_line(receiver: WebhookReceiver) -> None:
    hook = runner.invoke(app, ["notify", "add-webhook", receiver.url("/ok")])
    assert hook.exit_code == 0, hook.output
    sub_id = int(hook.output.split("subscription ")[1].split(":")[0])
    enabled = runner.invoke(app, ["notify", "enable", str(sub_id)])
    assert enabled.exit_code == 0 and f"subscription {sub_id} (webhook" in enabled.output
    missing = runner.invoke(app, ["notify", "enable", "999"])
    assert missing.exit_code == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "no notification subscription 999" in missing.stderr
