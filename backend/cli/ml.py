"""`tft-trader train`, `predict`, `models` and `check`: the ensemble and its bias checks."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from backend.cli.common import console, err, fail, parse_date, progress_bar, run
from backend.core.calendar import last_completed_session
from backend.db.engine import transaction
from backend.market import service as market_service
from backend.market.symbols import normalize_symbols
from backend.ml import service as ml_service
from backend.pipeline import checks
from backend.pipeline import ml as ml_pipeline

models_app = typer.Typer(help="The model registry.", no_args_is_help=True)
check_app = typer.Typer(help="Bias checks.", no_args_is_help=True)

TickersOpt = Annotated[str | None, typer.Option("--tickers", help="Comma-separated, e.g. AAPL,MSFT.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Trading date (default: newest stored bar).")]


def _tickers(value: str | None) -> list[str] | None:
    return normalize_symbols(value.split(",")) if value else None


async def _as_of(value: str | None) -> date:
    parsed = parse_date(value, "--as-of")
    if parsed is not None:
        return parsed
    async with transaction() as session:
        newest = await market_service.newest_date(session=session)
    return newest or last_completed_session()


def _num(value: Any, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def edge_table(quality: dict[str, Any], title: str) -> Table:
    """The edge test: the model's daily top bucket against all candidates and both rules, same rows."""
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
    symbols = _tickers(tickers)

    async def flow() -> ml_pipeline.TrainOutcome:
        day = await _as_of(as_of)
        with progress_bar(f"training as of {day}", None) as advance:

            def step(message: str) -> None:
                err.print(f"  {message}", highlight=False)
                advance(1)

            async with transaction() as session:
                return await ml_pipeline.train(session=session, as_of=day, tickers=symbols, progress=step)

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
    symbols = _tickers(tickers)

    async def flow() -> tuple[ml_pipeline.PredictOutcome, Any]:
        day = await _as_of(as_of)
        async with transaction() as session:
            outcome = await ml_pipeline.predict(session=session, as_of=day, tickers=symbols, force=force)
        async with transaction() as session:
            return outcome, await ml_service.load_predictions(
                session=session, trade_date=day, model_version=outcome.model_version
            )

    outcome, frame = run(flow)
    table = Table(
        "ticker",
        "signal",
        "P(win)",
        "EV",
        "top reasons",
        title=f"predictions ({outcome.model_version})",
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
    console.print(table)
    for ticker, why in sorted(outcome.skipped.items()):
        err.print(f"[yellow]skipped {ticker}[/yellow]: {why}", highlight=False)


@models_app.command("list")
def models_list() -> None:
    """Every trained version, newest first, with its out-of-sample score and promotion decision."""

    async def flow() -> list[Any]:
        async with transaction() as session:
            return list(await ml_service.list_models(session=session))

    table = Table(
        "version",
        "active",
        "trusted",
        "as of",
        "members",
        "samples",
        "rank IC (t)",
        "oos log loss",
        "promotion",
    )
    for m in run(flow):
        table.add_row(
            m.version,
            "yes" if m.is_active else "",
            "yes" if m.trusted else "no",
            str(m.as_of),
            ",".join(m.members),
            str(m.n_samples),
            f"{_num(m.metrics.get('rank_ic'))} ({_num(m.metrics.get('rank_ic_t'), '.1f')})",
            _num(m.metrics.get("log_loss"), ".3f"),
            m.promotion["reason"],
        )
    console.print(table)


@models_app.command("show")
def models_show(version: str) -> None:
    """One version's full record as JSON: the edge test, calibration, outcome model, promotion."""

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
    symbols = _tickers(tickers)

    async def flow() -> checks.LookaheadReport:
        day = await _as_of(as_of)
        with progress_bar("truncation check", dates) as advance:
            async with transaction() as session:
                return await checks.check_lookahead(
                    session=session, tickers=symbols, end=day, n_dates=dates, progress=advance
                )

    report = run(flow)
    console.print(
        f"checked {len(report.dates_checked)} dates: {report.values_compared} feature values, "
        f"{report.predictions_compared} predictions (model {report.model_version or 'none'})"
    )
    if report.mismatches:
        for m in report.mismatches[:50]:
            err.print(f"{m.ticker} {m.trade_date} {m.what}: full {m.full!r} vs truncated {m.truncated!r}")
        raise fail(f"{len(report.mismatches)} value(s) depend on data after their date")
    console.print("[green]no lookahead: every value equals its truncated-history recomputation[/green]")
