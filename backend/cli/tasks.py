"""`tft-trader schedule`, `pipeline enqueue` and `runs list`: the unattended side (Celery beat, workers,
`pipeline_runs`). Celery is imported inside the commands: `tft-trader --help` stays fast."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from backend.cli.common import console, fail, run
from backend.cli.ml import AsOfOpt, TickersOpt, _as_of, _tickers

runs_app = typer.Typer(help="Scheduled pipeline runs (the pipeline_runs table).", no_args_is_help=True)


def next_run_times(schedule: Any, after: datetime, count: int = 3) -> list[datetime]:
    """The next `count` times a beat schedule fires after `after` (aware datetimes, in UTC)."""
    times, last = [], after
    for _ in range(count):
        start, delta, _now = schedule.remaining_delta(last)
        last = (start + delta).astimezone(UTC)
        times.append(last)
    return times


def schedule_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each beat entry with its next three run times in New York time and UTC."""
    from backend.core.calendar import ET, utcnow
    from backend.tasks.app import celery_app

    now = utcnow()
    rows = []
    for name, entry in celery_app.conf.beat_schedule.items():
        schedule = entry["schedule"]
        schedule.app = celery_app  # its timezone (America/New_York) comes from the app
        times = next_run_times(schedule, now)
        rows.append(
            {
                "name": name,
                "task": entry["task"],
                "schedule": str(schedule),
                "expires_s": entry.get("options", {}).get("expires"),
                "next_et": [t.astimezone(ET).isoformat(timespec="minutes") for t in times],
                "next_utc": [t.isoformat(timespec="minutes") for t in times],
            }
        )
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("entry", "task", "next three runs: New York = UTC", "expires", title="beat schedule")
    for r, entry in zip(rows, celery_app.conf.beat_schedule.values(), strict=True):
        times = next_run_times(entry["schedule"], now)
        when = "\n".join(f"{t.astimezone(ET):%a %Y-%m-%d %H:%M %Z} = {t:%Y-%m-%d %H:%M} UTC" for t in times)
        table.add_row(r["name"], r["task"], when, f"{r['expires_s'] // 60} min")
    console.print(table)
    console.print("tasks check the NYSE calendar themselves: holidays and half days are skipped at run time")


def enqueue(as_of: AsOfOpt = None, tickers: TickersOpt = None) -> None:
    """Queue the daily chain (prices -> features -> predictions -> signals) on the workers; print task ids."""
    day = run(lambda: _as_of(as_of))
    symbols = _tickers(tickers)
    from backend.core.errors import DataSourceError
    from backend.tasks import dispatch

    try:
        queued = dispatch.enqueue_daily(as_of=day, tickers=symbols)
    except DataSourceError as exc:
        raise fail(str(exc)) from None
    console.print(f"queued the daily chain for {day}: task id {queued.task_id}")
    console.print("steps: " + " -> ".join(s.task_id for s in queued.steps), highlight=False)


@runs_app.command("list")
def runs_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
    limit: Annotated[int, typer.Option(help="Most rows shown (newest first).", min=1)] = 30,
    task: Annotated[str | None, typer.Option(help="Only this task (prices, signals, ...).")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only runs with this status: running, success, failed or skipped.")
    ] = None,
) -> None:
    """Recent pipeline runs: task, trading date, status, start, end, counts, error."""
    from backend.pipeline.models import RUN_STATUSES

    if status is not None and status not in RUN_STATUSES:
        raise fail(f"--status {status!r} is not a run status: use one of {', '.join(RUN_STATUSES)}")
    from backend.db.engine import transaction
    from backend.pipeline import runs as runs_service

    async def flow() -> list[dict[str, Any]]:
        async with transaction() as session:
            rows = await runs_service.list_runs(session=session, limit=limit, task=task, status=status)
        return [
            {
                "task": r.task,
                "trading_date": r.trading_date.isoformat(),
                "status": r.status,
                "started_at": r.started_at.isoformat(timespec="seconds"),
                "finished_at": r.finished_at.isoformat(timespec="seconds") if r.finished_at else None,
                "attempts": r.attempts,
                "counts": r.counts,
                "error": r.error,
            }
            for r in rows
        ]

    rows = run(flow)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str))
        return
    colour = {"success": "green", "failed": "red", "skipped": "yellow", "running": "cyan"}
    table = Table("task", "date", "status", "started", "finished", "tries", "counts / error")
    for r in rows:
        detail = r["error"] or json.dumps(r["counts"], default=str)
        table.add_row(
            r["task"],
            r["trading_date"],
            f"[{colour[r['status']]}]{r['status']}[/]",
            r["started_at"],
            r["finished_at"] or "",
            str(r["attempts"]),
            detail[:160],
        )
    console.print(table)
