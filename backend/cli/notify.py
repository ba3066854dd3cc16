"""`tft-trader notify ...`: email and webhook subscriptions, test sends and the delivery log.

The notification services (SMTP, HTTP, templates) are imported inside the commands: `tft-trader --help`
stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from backend.cli.common import console, run

if TYPE_CHECKING:
    from backend.notify.schemas import AttemptOutcome, SubscriptionCreated

notify_app = typer.Typer(help="Notifications: email and signed webhooks.", no_args_is_help=True)

EventsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--events",
        "-e",
        help="Event types (repeat or comma-separate): signal.new, trade.closed, candidates.digest, "
        "risk.halted, pipeline.failed, model.untrusted. Default: all.",
    ),
]


def _print_created(created: SubscriptionCreated) -> None:
    console.print(f"subscription {created.id}: {created.channel} {created.target}")
    console.print(f"events: {', '.join(created.events)}")


@notify_app.command("add-email")
def add_email(address: str, events: EventsOpt = None) -> None:
    """Send the chosen events to an email address."""
    from backend.db.engine import transaction
    from backend.notify import service

    async def flow() -> SubscriptionCreated:
        async with transaction() as session:
            return await service.add_email(session=session, address=address, event_names=events)

    _print_created(run(flow))


@notify_app.command("add-webhook")
def add_webhook(url: str, events: EventsOpt = None) -> None:
    """POST the chosen events, signed, to a URL; prints the signing secret once."""
    from backend.db.engine import transaction
    from backend.notify import service

    async def flow() -> SubscriptionCreated:
        async with transaction() as session:
            return await service.add_webhook(session=session, url=url, event_names=events)

    created = run(flow)
    _print_created(created)
    console.print(f"signing secret (shown once, keep it): [bold]{created.secret}[/bold]", highlight=False)


@notify_app.command("list")
def list_subscriptions() -> None:
    """Every subscription (secrets are never shown again)."""
    from backend.db.engine import transaction
    from backend.notify import service
    from backend.notify.schemas import SubscriptionRead

    async def flow() -> list[SubscriptionRead]:
        async with transaction() as session:
            return await service.list_subscriptions(session=session)

    rows = run(flow)
    if not rows:
        console.print("no subscriptions: add one with `tft-trader notify add-email` or `notify add-webhook`")
        return
    table = Table("id", "channel", "target", "events", "active", "created")
    for r in rows:
        active = "yes" if r.active else f"[red]no[/red] ({r.disabled_reason or 'disabled'})"
        table.add_row(
            str(r.id), r.channel, r.target, ", ".join(r.events), active, f"{r.created_at:%Y-%m-%d %H:%M}"
        )
    console.print(table)


@notify_app.command("remove")
def remove(subscription_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Delete a subscription and its delivery log."""
    from backend.db.engine import transaction
    from backend.notify import service
    from backend.notify.schemas import SubscriptionRead

    async def flow() -> SubscriptionRead:
        async with transaction() as session:
            return await service.remove(session=session, subscription_id=subscription_id)

    removed = run(flow)
    console.print(f"removed subscription {removed.id} ({removed.channel} {removed.target})")


@notify_app.command("enable")
def enable(subscription_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """Re-activate a subscription (disabled by a 410 Gone); events from while it was off are not resent."""
    from backend.db.engine import transaction
    from backend.notify import service
    from backend.notify.schemas import SubscriptionRead

    async def flow() -> SubscriptionRead:
        async with transaction() as session:
            return await service.enable(session=session, subscription_id=subscription_id)

    enabled = run(flow)
    console.print(
        f"subscription {enabled.id} ({enabled.channel} {enabled.target}) is active: "
        f"check it with `tft-trader notify test {enabled.id}`",
        highlight=False,
    )


@notify_app.command("rotate-secret")
def rotate_secret(subscription_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """A new webhook signing secret; the old one also signs until its grace period ends."""
    from datetime import datetime

    from backend.core.calendar import utcnow
    from backend.db.engine import transaction
    from backend.notify import service

    async def flow() -> tuple[str, datetime]:
        async with transaction() as session:
            return await service.rotate_secret(session=session, subscription_id=subscription_id, now=utcnow())

    secret, expires = run(flow)
    console.print(f"new signing secret (shown once, keep it): [bold]{secret}[/bold]", highlight=False)
    console.print(f"the previous secret also signs until {expires:%Y-%m-%d %H:%M} UTC")


def _print_outcomes(outcomes: list[AttemptOutcome]) -> None:
    for o in outcomes:
        colour = {"sent": "green", "pending": "yellow"}.get(o.status, "red")
        detail = "; ".join(x for x in (o.reply, o.error) if x)
        retry = f", next try {o.next_attempt_at:%Y-%m-%d %H:%M} UTC" if o.next_attempt_at else ""
        console.print(
            f"[{colour}]{o.status}[/{colour}] #{o.subscription_id} {o.channel} {o.target} "
            f"({o.event_type}, attempt {o.attempts}{retry}){': ' + detail if detail else ''}",
            highlight=False,
        )


@notify_app.command("test")
def test(subscription_id: Annotated[int | None, typer.Argument(metavar="[ID]")] = None) -> None:
    """Send a test event now, in-process, to one subscription (or every active one)."""
    from backend.core.calendar import utcnow
    from backend.db.engine import transaction
    from backend.notify import delivery, outbox

    async def flow() -> list[AttemptOutcome]:
        now = utcnow()
        async with transaction() as session:
            ids = await outbox.create_test_deliveries(
                session=session, subscription_id=subscription_id, now=now
            )
        return await delivery.deliver(ids)

    outcomes = run(flow)
    _print_outcomes(outcomes)
    if any(o.status != "sent" for o in outcomes):
        raise typer.Exit(1)


@notify_app.command("deliver")
def deliver() -> None:
    """Deliver what is due now, in-process (what the worker's sweep does every minute)."""
    from backend.notify import delivery

    outcomes = run(lambda: delivery.deliver_due())
    _print_outcomes(outcomes)
    console.print(f"{len(outcomes)} deliveries attempted")


@notify_app.command("deliveries")
def deliveries(
    failed: Annotated[bool, typer.Option("--failed", help="Only deliveries that gave up.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 50,
) -> None:
    """The delivery log: status, attempts, last reply and error."""
    from backend.db.engine import transaction
    from backend.notify import outbox
    from backend.notify.schemas import DeliveryRead

    async def flow() -> list[DeliveryRead]:
        async with transaction() as session:
            return await outbox.list_deliveries(session=session, failed_only=failed, limit=limit)

    rows = run(flow)
    if not rows:
        console.print("no failed deliveries" if failed else "no deliveries yet")
        return
    table = Table(
        "id", "event", "sub", "target", "status", "tries", "last reply", "last error", "next / sent"
    )
    for r in rows:
        when = r.sent_at or r.next_attempt_at
        table.add_row(
            str(r.id), r.event_type, str(r.subscription_id), r.target, r.status, str(r.attempts),
            r.last_reply or "", r.last_error or "",
            f"{when:%Y-%m-%d %H:%M}" if when else "",
        )  # fmt: skip
    console.print(table)
