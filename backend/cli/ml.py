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
METRIC_KEYS = ("accuracy", "macro_f1", "buy_precision", "log_loss", "brier", "ece", "buy_share")


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


def metrics_table(metrics: dict[str, Any], title: str) -> Table:
    """Ensemble, members and baselines side by side on the same out-of-sample rows."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("model")
    for key in METRIC_KEYS:
        table.add_column(key, justify="right")
    rows = [
        ("ensemble (calibrated)", metrics["ensemble"]),
        ("ensemble (raw)", metrics["ensemble_uncalibrated"]),
    ]
    rows += [(f"member {k}", v) for k, v in metrics["members"].items()]
    rows += [(f"baseline {k}", v) for k, v in metrics["baselines"].items()]
    for name, values in rows:
        table.add_row(name, *(f"{values[k]:.3f}" for k in METRIC_KEYS))
    return table


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
    console.print(
        metrics_table(outcome.metrics, f"model {model.version}: out-of-sample, {model.n_samples} samples")
    )
    cal = outcome.calibration
    console.print(
        f"calibration ({cal['method']}): Brier {cal['brier_before']:.4f} -> {cal['brier_after']:.4f}, "
        f"ECE {cal['ece_before']:.4f} -> {cal['ece_after']:.4f}"
    )
    rate = outcome.metrics["signal_rate"]
    console.print(
        f"class balance {balance_text(model.class_balance)}; BUY > {rate['confidence_bar']:.2f}: "
        f"{rate['buy_signals']} "
        f"out of sample ({rate['per_week']:.2f}/week, "
        f"{rate['per_week_per_50_tickers']:.2f}/week per 50 tickers)"
    )
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
        "confidence",
        "p_buy",
        "p_hold",
        "p_sell",
        "top reasons",
        title=f"predictions for {day} (model {outcome.model_version})",
    )
    for r in frame.sort_values("confidence", ascending=False).itertuples():
        reasons = ", ".join(f"{c['feature']} {c['contribution']:+.2f}" for c in r.contributions[:3])
        table.add_row(
            r.ticker,
            r.signal,
            f"{r.confidence:.2f}",
            f"{r.p_buy:.2f}",
            f"{r.p_hold:.2f}",
            f"{r.p_sell:.2f}",
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
    table.add_column("active", no_wrap=True)
    table.add_column("members", overflow="fold")
    for header in ("samples", "oos acc", "log loss", "promoted"):
        table.add_column(header, justify="right", no_wrap=True)
    for m in models:
        table.add_row(
            m.version,
            "yes" if m.is_active else "",
            ",".join(m.members),
            str(m.n_samples),
            f"{m.metrics['ensemble']['accuracy']:.3f}",
            f"{m.metrics['ensemble']['log_loss']:.3f}",
            "yes" if m.promotion.get("promoted") else "no",
        )
    console.print(table)
    active = next((m for m in models if m.is_active), None)
    if active is not None:
        console.print(f"active {active.version}: {active.promotion['reason']}")
    console.print("details: tft-trader models show VERSION")


@models_app.command("show")
def models_show(version: str) -> None:
    """One version's full record as JSON (metrics per member and baseline, calibration, promotion)."""
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
