"""`tft-trader pipeline run`, `monitor`, `portfolio ...` and `backtest`: signals and the paper books."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from backend.cli.common import check_range, console, err, fail, parse_date, progress_bar, run
from backend.cli.ml import AsOfOpt, TickersOpt, _as_of, _tickers

if TYPE_CHECKING:
    from backend.pipeline import daily
    from backend.signals.monitor import SessionReport

pipeline_app = typer.Typer(help="The daily after-close chain.", no_args_is_help=True)
portfolio_app = typer.Typer(help="The live paper portfolio.", no_args_is_help=True)


def _print_sessions(reports: list[SessionReport]) -> None:
    for report in reports:
        for record in report.filled:
            console.print(
                f"{report.trade_date} [green]bought[/green] {record.shares} {record.ticker} at "
                f"{record.fill_price:,.2f} (stop {record.stop_price:,.2f}, target {record.target_price:,.2f})"
            )
        for record in report.expired:
            console.print(
                f"{report.trade_date} [yellow]expired[/yellow] {record.ticker}: {record.messages[-1]}"
            )
        for trade in report.closed:
            console.print(
                f"{report.trade_date} [cyan]sold[/cyan] {trade.shares} {trade.ticker} at "
                f"{trade.exit_price:,.2f} ({trade.trade.exit_reason}): "
                f"P&L {trade.trade.pnl:+,.2f} ({trade.trade.return_pct:+.2%})"
            )
        if report.halted:
            err.print(f"[red]{report.trade_date}: kill switch latched: no new entries[/red]")


@pipeline_app.command("run")
def pipeline_run(
    as_of: AsOfOpt = None,
    tickers: TickersOpt = None,
    force: Annotated[bool, typer.Option(help="Use the active model even if it is stale.")] = False,
) -> None:
    """After the close: sentiment -> predictions -> portfolio catch-up -> signals for --as-of."""
    from rich.table import Table

    from backend.pipeline import daily

    parse_date(as_of, "--as-of")

    async def flow() -> daily.DailyOutcome:
        day = await _as_of(as_of)
        return await daily.run_daily(as_of=day, tickers=_tickers(tickers), force=force)

    outcome = run(flow)
    _print_sessions(outcome.sessions)
    model = f"model {outcome.model_version}" if outcome.model_version else "no active model"
    console.print(f"{outcome.predictions} prediction(s) for {outcome.as_of} ({model})")
    from backend.cli.signals import print_candidates

    print_candidates([c.as_dict() for c in outcome.candidates], outcome.as_of)
    report = outcome.signals
    if report is None:
        return
    if report.already_generated:
        console.print(f"signals for {outcome.as_of} were already generated: nothing changed")
        return
    for ticker, why in report.exit_orders.items():
        console.print(f"[cyan]exit order[/cyan] {ticker} at the next open ({why})")
    table = Table("ticker", "status", "confidence", "entry", "stop", "target", "size", "reasons")
    for r in [*report.approved, *report.rejected]:
        table.add_row(
            r.ticker,
            "[green]BUY[/green]" if r.status == "pending" else "rejected",
            f"{r.confidence:.2f}",
            f"{r.entry_price:,.2f}",
            f"{r.stop_price:,.2f}" if r.stop_price else "",
            f"{r.target_price:,.2f}" if r.target_price else "",
            f"{r.shares} ({r.position_size_pct:.1%})",
            "; ".join(r.messages),
        )
    console.print(table)
    console.print(f"{len(report.approved)} signals, {len(report.rejected)} rejected candidates")


def monitor(
    through: Annotated[str | None, typer.Option("--through", help="Last session (default: newest)")] = None,
    quotes: Annotated[
        bool, typer.Option(help="While the market is open, check holdings against Yahoo's latest prices.")
    ] = True,
) -> None:
    """One position-monitor pass: stored sessions not processed yet, then (in market hours) latest prices."""
    from backend.market.yahoo import YahooProvider
    from backend.pipeline import daily

    last = parse_date(through, "--through")
    source = YahooProvider().latest_prices if quotes else None
    reports = run(lambda: daily.monitor(through=last, quotes=source))
    if not reports:
        console.print("the live portfolio is up to date; no stop or target was reached")
    _print_sessions(reports)


@portfolio_app.command("show")
def portfolio_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Cash, positions with unrealised P&L, pending entries, recent trades and performance."""
    from rich.table import Table

    from backend.db.engine import transaction
    from backend.portfolio import service as portfolio_service
    from backend.portfolio.schemas import PortfolioRead

    async def flow() -> PortfolioRead:
        async with transaction() as session:
            return await portfolio_service.report(session=session)

    report = run(flow)
    summary = report.model_dump(mode="json")
    if as_json:
        console.print_json(json.dumps(summary, default=str))
        return
    halt = f"[red]ON[/red] ({report.kill_switch_reason})" if report.kill_switch else "off"
    console.print(
        f"live portfolio {'as of ' + summary['as_of'] if summary['as_of'] else '(no session booked yet)'}: "
        f"equity {report.equity:,.2f}, cash {report.cash:,.2f}, "
        f"realized {report.realized_pnl:+,.2f}, unrealized {report.unrealized_pnl:+,.2f}, "
        f"drawdown {report.drawdown:.1%}, kill switch {halt}"
    )
    table = Table("ticker", "shares", "entry", "fill", "last", "stop", "target", "unrealized", "exit order")
    for p in summary["positions"]:
        table.add_row(
            p["ticker"],
            str(p["shares"]),
            p["entry_date"],
            f"{p['fill_price']:,.2f}",
            f"{p['last_price']:,.2f}",
            f"{p['stop_price']:,.2f}",
            f"{p['target_price']:,.2f}",
            f"{p['unrealized_pnl']:+,.2f}",
            p["exit_order"] or "",
        )
    console.print(table)
    for s in report.pending:
        console.print(f"pending entry: {s.shares} {s.ticker} at the next open (signal of {s.signal_date})")
    if report.performance is not None:
        eq, tr = report.performance["equity"], report.performance["trades"]
        console.print(
            f"return {eq['total_return']:+.2%}, Sharpe {_num(eq['sharpe'])}, max drawdown "
            f"{eq['drawdown']['max_drawdown']:.1%}, {tr['trades']} trades, win rate {_pct(tr['win_rate'])}, "
            f"profit factor {_num(tr['profit_factor'])}"
        )


@portfolio_app.command("halt")
def portfolio_halt(
    reason: Annotated[str, typer.Option(help="Why (shown with the portfolio).")] = "set by hand",
) -> None:
    """Turn the kill switch on: no new entries until `portfolio resume`."""
    run(lambda: _set_kill_switch(True, reason))
    console.print("kill switch ON: no new entries")


@portfolio_app.command("resume")
def portfolio_resume() -> None:
    """Turn the kill switch off; the drawdown is measured from today's equity again."""
    run(lambda: _set_kill_switch(False, None))
    console.print("kill switch off: new entries allowed; high-water mark rebased on today's equity")


async def _set_kill_switch(on: bool, reason: str | None) -> None:
    from backend.db.engine import transaction
    from backend.pipeline import notifications
    from backend.portfolio import service as portfolio_service

    async with transaction() as session:
        await portfolio_service.set_kill_switch(session=session, on=on, reason=reason)
    await notifications.publish_kill_switch(on=on, reason=reason)


def backtest(
    start: Annotated[str, typer.Option("--start", help="First session (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last session (YYYY-MM-DD).")],
    tickers: TickersOpt = None,
    retrain_every: Annotated[
        int | None, typer.Option("--retrain-every", help="Sessions between retrains (default 5).")
    ] = None,
    lstm: Annotated[bool, typer.Option("--lstm", help="Include the LSTM member (slow).")] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the results as JSON here.")] = None,
) -> None:
    """Replay START..END through the live pipeline steps; compare with buy-and-hold and rule baselines."""
    from backend.backtest import service as backtest_service
    from backend.core.calendar import trading_days
    from backend.core.settings import get_settings

    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    assert first is not None and last is not None
    check_range(first, last)
    if retrain_every is not None and retrain_every < 1:
        raise typer.BadParameter(f"--retrain-every {retrain_every}: must be at least 1")
    members = list(get_settings().backtest.members) + (["lstm"] if lstm else [])
    request = backtest_service.BacktestRequest(
        start=first, end=last, tickers=_tickers(tickers), retrain_every=retrain_every, members=members
    )
    n = len(trading_days(first, last)) * (1 + len(backtest_service.BASELINE_RULES))

    async def flow() -> dict[str, Any]:
        with progress_bar(f"replaying {first}..{last}", n) as advance:
            return await backtest_service.run_backtest(
                request,
                on_session=lambda _name, _day: advance(1),
                progress=lambda message: err.print(f"  {message}", highlight=False),
            )

    results = run(flow)
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2, default=str))
        console.print(f"results written to {json_path}")
    _print_backtest(results)


def _print_backtest(results: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(
        "strategy",
        "total return",
        "CAGR",
        "Sharpe",
        "Sortino",
        "max DD",
        "trades",
        "win rate",
        "PF",
        "exposure",
        title=f"backtest run {results['run_id']}: {results['start']}..{results['end']}",
    )
    rows = [
        ("ensemble", results["strategy"]),
        *results["baselines"].items(),
        ("buy & hold", results["benchmark"]),
    ]
    for name, m in rows:
        table.add_row(
            name,
            _pct(m.get("total_return")),
            _pct(m.get("cagr")),
            _num(m.get("sharpe")),
            _num(m.get("sortino")),
            _pct(m.get("max_drawdown")),
            str(m.get("n_trades", "")),
            _pct(m.get("win_rate")),
            _num(m.get("profit_factor")),
            _pct(m.get("exposure")),
        )
    console.print(table)
    model = results["model"]
    reasons = model["rejection_reasons"]
    why = ": " + ", ".join(f"{reason} ({n})" for reason, n in reasons.items()) if reasons else ""
    console.print(
        f"model: {model['n_predictions']} predictions, out-of-sample accuracy {_pct(model['oos_accuracy'])} "
        f"(always HOLD: {_pct(model.get('always_hold_accuracy'))}), {model['retrains']} retrains, "
        f"{model['signals_approved']} signals, {model['signals_rejected']} rejected{why}"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


__all__ = ["backtest", "fail", "monitor", "pipeline_app", "portfolio_app"]
