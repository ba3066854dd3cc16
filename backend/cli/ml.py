"""`tft-trader train`, `predict`, `models` and `check`: the ensemble and its bias checks."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from backend.cli.common import console, err, fail, parse_date, progress_bar, run

if TYPE_CHECKING:
    from rich.table import Table

    from backend.pipeline import checks
    from backend.pipeline import ml as ml_pipeline

models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
check_app = typer.Typer(help="Bias checks.", no_args_is_help=True)

TickersOpt = Annotated[str | None, typer.Option("--tickers", help="Comma-separated, e.g. AAPL,MSFT.")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Trading date (default: newest settled session).")
]


def _tickers(value: str | None) -> list[str] | None:
    from backend.market.symbols import normalize_symbols

    return normalize_symbols(value.split(",")) if value else None


async def _as_of(value: str | None) -> date:
    from backend.db.engine import transaction
    from backend.market import service as market_service

    parsed = parse_date(value, "--as-of")
    if parsed is not None:
        return parsed
    async with transaction() as session:
        return await market_service.default_as_of(session=session)


def balance_text(balance: dict[str, float]) -> str:
    """{'BUY': 0.21, ...} as "BUY 21%, HOLD 55%, SELL 24%" (no Python values in messages)."""
    return ", ".join(f"{label} {share:.0%}" for label, share in balance.items()) or "-"


def _num(value: Any, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def edge_table(quality: dict[str, Any], title: str) -> Table:
    """The edge test: the model's daily top bucket against all candidates and both rules, same rows."""
    from rich.table import Table

    table = Table("rows", "n", "hit rate", "mean net return", title=title)
    for name, key in (
        ("model top bucket", "top_bucket"),
        ("all candidates", "all_candidates"),
        ("RSI rule BUYs", "rsi_rule"),
        ("MACD rule BUYs", "macd_rule"),
    ):
        bucket = quality[key]
        table.add_row(
            name, str(bucket["n"]), _num(bucket["hit_rate"], ".3f"), _num(bucket["net_return"], "+.4%")
        )
    return table


def edge_lines(quality: dict[str, Any], trusted: bool) -> list[str]:
    """Rank IC, log loss against the prior, calibration and the verdict, one line each."""
    lines = [
        f"rank IC {_num(quality['rank_ic'])} (t {_num(quality['rank_ic_t'], '.2f')}, "
        f"{quality['ic_periods']} non-overlapping periods, {quality['ic_days']} days)",
        f"log loss {quality['log_loss']:.4f} vs trailing prior {quality['prior_log_loss']:.4f}",
        f"base rate (net-profitable trades) {quality['base_rate']:.3f}; ECE {quality['ece']:.4f} "
        f"({quality['calibration_method']})",
    ]
    if trusted:
        lines.append("[green]trusted[/green]: an out-of-sample edge; it may make signals")
    else:
        lines.append(
            "[yellow]not trusted[/yellow]: it predicts and ranks but makes no signals ("
            + "; ".join(quality.get("untrusted_reasons", []))
            + ")"
        )
    return lines


def train(tickers: TickersOpt = None, as_of: AsOfOpt = None) -> None:
    """Train the ensemble walk-forward on data known at --as-of; print metrics and the promotion decision."""
    from backend.pipeline import ml as ml_pipeline

    symbols = _tickers(tickers)
    parse_date(as_of, "--as-of")  # a bad date fails before the progress bar

    async def flow() -> ml_pipeline.TrainOutcome:
        day = await _as_of(as_of)
        with progress_bar(f"training as of {day}", None) as advance:

            def step(message: str) -> None:
                err.print(f"  {message}", highlight=False)
                advance(1)

            return await ml_pipeline.train_detached(as_of=day, tickers=symbols, progress=step)

    outcome = run(flow)
    model = outcome.model
    quality = outcome.metrics
    console.print(
        edge_table(quality, f"model {model.version}: walk-forward out of sample, {quality['n_rows']} rows")
    )
    for line in edge_lines(quality, bool(model.trusted)):
        console.print(line)
    for note in model.notes:
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    for ticker, why in sorted(outcome.skipped.items()):
        err.print(f"[yellow]skipped {ticker}[/yellow]: {why}", highlight=False)
    verdict = "[green]promoted[/green]" if outcome.promotion.promoted else "[yellow]not promoted[/yellow]"
    console.print(f"{verdict}: {outcome.promotion.reason}")


def predict(
    as_of: AsOfOpt = None,
    tickers: TickersOpt = None,
    force: Annotated[bool, typer.Option(help="Use the active model even if it is stale.")] = False,
) -> None:
    """Features and predictions for one trading date with the active model."""
    from rich.table import Table

    from backend.db.engine import transaction
    from backend.ml import service as ml_service
    from backend.pipeline import ml as ml_pipeline

    symbols = _tickers(tickers)
    parse_date(as_of, "--as-of")

    async def flow() -> tuple[date, ml_pipeline.PredictOutcome, Any]:
        day = await _as_of(as_of)
        async with transaction() as session:
            outcome = await ml_pipeline.predict(session=session, as_of=day, tickers=symbols, force=force)
        async with transaction() as session:
            return (
                day,
                outcome,
                await ml_service.load_predictions(
                    session=session, trade_date=day, model_version=outcome.model_version
                ),
            )

    day, outcome, frame = run(flow)
    table = Table(
        "ticker",
        "signal",
        "P(win)",
        "EV",
        "top reasons",
        title=f"predictions for {day} (model {outcome.model_version})",
    )
    for r in frame.sort_values("expected_value", ascending=False).itertuples():
        reasons = ", ".join(f"{c['feature']} {c['contribution']:+.2f}" for c in r.contributions[:3])
        table.add_row(
            r.ticker,
            r.signal,
            f"{r.confidence:.2f}",
            _num(r.expected_value, "+.2%"),
            reasons,
        )
    if len(frame):
        console.print(table)
    console.print(f"{len(frame)} prediction(s) for {day} with model {outcome.model_version}")
    for ticker, why in sorted(outcome.skipped.items()):
        err.print(f"[yellow]no prediction for {ticker}[/yellow]: {why}", highlight=False)


@models_app.command("list")
def models_list() -> None:
    """Every trained version, newest first, with its out-of-sample score and promotion decision."""
    from rich import box
    from rich.table import Table

    from backend.db.engine import transaction
    from backend.ml import service as ml_service

    async def flow() -> list[Any]:
        async with transaction() as session:
            return list(await ml_service.list_models(session=session))

    models = run(flow)
    if not models:
        console.print("no trained model yet: run `tft-trader train` (or `tft-trader demo`)")
        return
    # Fits 80 columns: the version (which starts with its as-of date) never wraps, so it can be copied into
    # `models show`; the promotion reason, too long for a table cell, is printed for the active version.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("version", no_wrap=True)
    for header in ("active", "trusted"):
        table.add_column(header, no_wrap=True)
    table.add_column("members", overflow="fold")
    for header in ("samples", "rank IC (t)", "log loss"):
        table.add_column(header, justify="right", no_wrap=True)
    for m in models:
        table.add_row(
            m.version,
            "yes" if m.is_active else "",
            "yes" if m.trusted else "no",
            ",".join(m.members),
            str(m.n_samples),
            f"{_num(m.metrics.get('rank_ic'), '.3f')} ({_num(m.metrics.get('rank_ic_t'), '.1f')})",
            _num(m.metrics.get("log_loss"), ".3f"),
        )
    console.print(table)
    active = next((m for m in models if m.is_active), None)
    if active is not None:
        console.print(f"active {active.version}: {active.promotion['reason']}")
    console.print("details: tft-trader models show VERSION")


@models_app.command("show")
def models_show(version: str) -> None:
    """One version's full record as JSON (the edge test, calibration, outcome model, promotion)."""
    from backend.db.engine import transaction
    from backend.ml import service as ml_service

    async def flow() -> dict[str, Any]:
        async with transaction() as session:
            m = await ml_service.get(session=session, version=version)
            return {
                c: getattr(m, c)
                for c in (
                    "version",
                    "is_active",
                    "members",
                    "weights",
                    "feature_set_version",
                    "tickers",
                    "train_start",
                    "train_end",
                    "as_of",
                    "n_samples",
                    "class_balance",
                    "metrics",
                    "calibration",
                    "oos_score",
                    "trusted",
                    "quality",
                    "outcome",
                    "promotion",
                    "notes",
                    "created_at",
                )
            }

    typer.echo(json.dumps(run(flow), default=str, indent=2))


@check_app.command("lookahead")
def check_lookahead(
    tickers: TickersOpt = None,
    as_of: AsOfOpt = None,
    dates: Annotated[int, typer.Option(help="How many dates to truncate at.")] = 20,
) -> None:
    """Recompute features and predictions on history truncated at many dates; report any that change."""
    from backend.db.engine import transaction
    from backend.pipeline import checks

    if dates < 1:
        raise typer.BadParameter(f"--dates {dates}: check at least one date")
    symbols = _tickers(tickers)
    parse_date(as_of, "--as-of")

    async def flow() -> checks.LookaheadReport:
        day = await _as_of(as_of)
        with progress_bar("truncation check", dates) as advance:
            async with transaction() as session:
                return await checks.check_lookahead(
                    session=session, tickers=symbols, end=day, n_dates=dates, progress=advance
                )

    report = run(flow)
    console.print(
        f"checked {len(report.dates_checked)} dates ({report.dates_checked[0]}..{report.dates_checked[-1]}); "
        f"active model: {report.model_version or 'none'}"
        if report.dates_checked
        else "no date to check: no ticker has usable features yet"
    )
    for name, stats in report.layers.items():
        status = f"[red]{stats.mismatches} mismatch(es)[/red]" if stats.mismatches else "[green]ok[/green]"
        console.print(f"  {name:<12} {stats.compared:>9,} values compared  {status}")
    for note in report.notes:
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    if report.mismatches:
        for layer in report.failing_layers:
            for m in [m for m in report.mismatches if m.layer == layer][:10]:
                err.print(
                    f"{layer}: {m.ticker} {m.trade_date} {m.what}: stored {m.stored:.6g}, "
                    f"recomputed from data known then {m.recomputed:.6g}",
                    highlight=False,
                    markup=False,
                )
        raise fail(
            f"lookahead in {', '.join(report.failing_layers)}: {len(report.mismatches)} value(s) differ from "
            "their recomputation on data known at their date"
        )
    console.print(
        "[green]no lookahead: every value equals its recomputation from data known at its date[/green]"
    )
