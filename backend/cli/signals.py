"""`tft-trader signals candidates`: the day's ranked candidates and why each is or is not a signal.

Light at import time (no pandas or ML libraries): the service is imported inside the command.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from backend.cli.common import console, parse_date, run

signals_app = typer.Typer(help="Signals and the day's candidates.", no_args_is_help=True)


def candidate_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Rank, call, P(win), EV, entry / stop / target, signal or why not, top drivers."""
    table = Table(
        "#",
        "ticker",
        "call",
        "P(win)",
        "EV",
        "entry",
        "stop",
        "target",
        "signal?",
        "top drivers",
        title=title,
    )
    for r in rows:
        drivers = ", ".join(f"{d['feature']} {d['contribution']:+.2f}" for d in r["drivers"][:3])
        table.add_row(
            str(r["rank"]),
            r["ticker"],
            r["call"],
            f"{r['confidence']:.2f}",
            "" if r["expected_value"] is None else f"{r['expected_value']:+.2%}",
            "" if r["entry_price"] is None else f"{r['entry_price']:,.2f}",
            "" if r["stop_price"] is None else f"{r['stop_price']:,.2f}",
            "" if r["target_price"] is None else f"{r['target_price']:,.2f}",
            "[green]yes[/green]" if r["is_signal"] else ", ".join(r["reasons"]),
            drivers,
        )
    return table


def print_candidates(rows: list[dict[str, Any]], day: Any) -> None:
    if not rows:
        console.print(
            f"no candidates for {day or 'any session'}: run `tft-trader pipeline run` after a prediction"
        )
        return
    trusted = rows[0]["model_trusted"]
    verdict = (
        "[green]trusted[/green]"
        if trusted
        else "[yellow]NOT trusted (no out-of-sample edge): no signals[/yellow]"
    )
    console.print(f"model {rows[0]['model_version']}: {verdict}")
    console.print(candidate_table(rows, f"candidates for {day} (top {len(rows)} by expected value)"))
    console.print("why not a signal, in words: `tft-trader signals candidates --json`")


@signals_app.command("candidates")
def candidates(
    day: Annotated[
        str | None, typer.Option("--date", help="Trading date (default: the newest with candidates).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    portfolio: Annotated[
        str, typer.Option(help="Portfolio name (a backtest's is backtest-<run id>).")
    ] = "live",
) -> None:
    """The day's top candidates by expected value: confidence, EV, entry/stop/target, drivers, why (not)."""
    wanted = parse_date(day, "--date")

    async def flow() -> tuple[Any, list[dict[str, Any]]]:
        from backend.db.engine import transaction
        from backend.signals import service as signal_service

        async with transaction() as session:
            found, rows = await signal_service.list_candidates(
                session=session, trade_date=wanted, portfolio=portfolio
            )
            return found, [_row(r) for r in rows]

    found, rows = run(flow)
    if as_json:
        typer.echo(json.dumps({"trade_date": found, "candidates": rows}, default=str, indent=2))
        return
    print_candidates(rows, found)


def _row(model: Any) -> dict[str, Any]:
    keys = (
        "trade_date",
        "ticker",
        "rank",
        "call",
        "confidence",
        "expected_value",
        "entry_price",
        "stop_price",
        "target_price",
        "is_signal",
        "reasons",
        "why",
        "drivers",
        "model_version",
        "model_trusted",
    )
    return {k: getattr(model, k) for k in keys}
