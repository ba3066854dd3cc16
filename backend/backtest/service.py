"""Backtest runs: check the request, load history once, replay strategy and baselines, store the run.

Bad requests fail before any work with an error that names the problem: END before START, dates outside
the stored history, unknown tickers, tickers without enough history to train a model before START.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.backtest import engine, quality
from backend.backtest import runs as backtest_runs
from backend.backtest.models import BacktestRun
from backend.backtest.runs import get_run  # noqa: F401  (re-exported: the CLI and tests call it here)
from backend.core.calendar import previous_trading_day, trading_days, utcnow
from backend.core.errors import ValidationFailed
from backend.core.settings import get_settings
from backend.db.base import table_of
from backend.db.engine import transaction
from backend.features import service as feature_service
from backend.features.labels import triple_barrier_labels
from backend.market import service as market_service
from backend.market.models import StockPrice
from backend.portfolio import service as portfolio_service
from backend.portfolio.book import PaperBook
from backend.portfolio.metrics import performance_report, with_start
from backend.signals import service as signal_service
from backend.signals.candidates import CandidateRow
from backend.signals.market import MarketDay, market_days, market_frame

log = logging.getLogger(__name__)
EARLIEST = date(1990, 1, 1)
BASELINE_RULES = ("rsi_mean_reversion", "macd_momentum")
STRATEGY_KEYS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "n_trades",
    "avg_trade_return",
    "profit_factor",
    "exposure",
)


@dataclass(frozen=True)
class BacktestRequest:
    start: date
    end: date
    tickers: list[str] | None = None
    retrain_every: int | None = None
    members: list[str] | None = None


@dataclass
class ReplayData:
    tickers: list[str]
    sessions: list[date]
    prices: pd.DataFrame
    features: pd.DataFrame
    market: dict[date, MarketDay]
    excluded: dict[str, str]


def required_history() -> int:
    """Bars a ticker needs before START: feature warm-up, one label window, a training span, the embargo
    and one out-of-sample fold for the edge test (the same minimums `train` enforces)."""
    settings = get_settings()
    return (
        feature_service.min_history_rows()
        + settings.risk.max_hold_days
        + settings.ml.min_train_days
        + settings.ml.embargo_days
        + settings.ml.validation_days
    )


async def validate(*, session: AsyncSession, request: BacktestRequest) -> tuple[list[str], dict[str, str]]:
    """The tickers to replay and those left out (with why); raises on a request that cannot run."""
    start, end = request.start, request.end
    if end < start:
        raise ValidationFailed(f"--end {end} is before --start {start}")
    if request.retrain_every is not None and request.retrain_every < 1:
        raise ValidationFailed(f"--retrain-every must be at least 1 session, got {request.retrain_every}")
    if not trading_days(start, end):
        raise ValidationFailed(f"there is no NYSE session between {start} and {end}")
    table = table_of(StockPrice)
    query = select(table.c.ticker, func.min(table.c.trade_date), func.max(table.c.trade_date)).group_by(
        table.c.ticker
    )
    if request.tickers:
        query = query.where(table.c.ticker.in_(request.tickers))
    spans = {t: (first, last) for t, first, last in (await session.execute(query)).all()}
    index = get_settings().features.market_index
    if request.tickers:
        unknown = [t for t in request.tickers if t not in spans]
        if unknown:
            raise ValidationFailed(f"unknown tickers (no stored prices): {', '.join(unknown)}")
    else:
        spans.pop(index, None)
    if not spans:
        raise ValidationFailed("no prices are stored: load them first (`tft-trader prices load-sample`)")
    first = min(f for f, _ in spans.values())
    last = max(ls for _, ls in spans.values())
    if start < first or end > last:
        raise ValidationFailed(
            f"{start}..{end} is outside the stored history ({first}..{last}); pick dates inside it"
        )
    need = required_history()
    before = await market_service.bar_counts(
        session=session, tickers=list(spans), end=previous_trading_day(start)
    )
    short = {t: before.get(t, 0) for t in spans if before.get(t, 0) < need}
    if request.tickers and short:
        listed = ", ".join(f"{t} has {n}" for t, n in sorted(short.items()))
        raise ValidationFailed(
            f"not enough history to train before {start}: {listed} daily bars; a replay needs {need} per "
            "ticker (feature warm-up + label window + ML__MIN_TRAIN_DAYS + ML__EMBARGO_DAYS + "
            "ML__VALIDATION_DAYS)"
        )
    tickers = sorted(t for t in spans if t not in short)
    if not tickers:
        raise ValidationFailed(
            f"not enough history to train before {start}: no ticker has {need} daily bars before it "
            f"(most: {max(before.values(), default=0)}); start later"
        )
    excluded = {t: f"{n} bars before {start}; needs {need}" for t, n in short.items()}
    return tickers, excluded


async def load(*, session: AsyncSession, request: BacktestRequest) -> ReplayData:
    tickers, excluded = await validate(session=session, request=request)
    end = request.end
    inputs = await feature_service.load_inputs(session=session, tickers=tickers, start=EARLIEST, end=end)
    features = feature_service.features_between(inputs, EARLIEST, request.end)
    sectors = await market_service.sectors(session=session, tickers=tickers)
    frame = market_frame(inputs.prices, features, inputs.sentiment, sectors)
    return ReplayData(
        tickers=tickers,
        sessions=trading_days(request.start, request.end),
        prices=inputs.prices,
        features=features,
        market=market_days(frame, request.start, request.end),
        excluded={**excluded, **inputs.skipped},
    )


def summarize(book: PaperBook, start_equity: float, before: date) -> dict[str, Any]:
    """The strategy keys of the JSON output, plus the breakdowns, from a finished book."""
    ledger = book.ledger
    equity = with_start(ledger.equity_curve(), start_equity, before)
    counts = with_start(ledger.positions_count(), 0, before)
    report = performance_report(equity, ledger.closed_trades, counts)
    eq, tr = report.equity, report.trades
    return {
        "total_return": eq.total_return,
        "cagr": eq.cagr,
        "sharpe": eq.sharpe,
        "sortino": eq.sortino,
        "calmar": eq.calmar,
        "max_drawdown": eq.drawdown.max_drawdown,
        "max_drawdown_duration_days": eq.drawdown.longest_duration_days,
        "win_rate": tr.win_rate,
        "n_trades": tr.trades,
        "avg_trade_return": tr.avg_trade_return,
        "profit_factor": tr.profit_factor,
        "expectancy": tr.expectancy,
        "avg_win": tr.avg_win,
        "avg_loss": tr.avg_loss,
        "exposure": eq.exposure,
        "end_equity": eq.end_equity,
        "open_positions_at_end": len(ledger.open_positions),
        "by_exit_reason": {k: dataclasses.asdict(v) for k, v in tr.by_exit_reason.items()},
        "by_ticker": {k: dataclasses.asdict(v) for k, v in tr.by_ticker.items()},
        "by_month": {k: dataclasses.asdict(v) for k, v in tr.by_month.items()},
    }


def benchmark_summary(equity: pd.Series) -> dict[str, Any]:
    report = performance_report(equity)
    return {
        "total_return": report.equity.total_return,
        "cagr": report.equity.cagr,
        "sharpe": report.equity.sharpe,
        "max_drawdown": report.equity.drawdown.max_drawdown,
    }


def replay_book(
    data: ReplayData,
    predictor: engine.Predictor,
    on_session: Callable[[date], None] | None = None,
    candidates: list[CandidateRow] | None = None,
) -> PaperBook:
    book = PaperBook.new(get_settings().risk)
    return engine.replay(data.sessions, data.market, predictor, book, on_session, candidates)


def _run_settings(request: BacktestRequest) -> tuple[list[str], int, dict[str, Any]]:
    settings = get_settings()
    members = request.members or list(settings.backtest.members)
    retrain_every = request.retrain_every or settings.backtest.retrain_every_days
    return members, retrain_every, {"risk": settings.risk.model_dump(mode="json"), "members": members}


async def create_queued(*, session: AsyncSession, request: BacktestRequest) -> BacktestRun:
    """Check the request (an impossible one raises before anything is stored) and record it as a `queued`
    run for a worker to replay (`run_backtest(request, run_id=...)`)."""
    tickers, _ = await validate(session=session, request=request)
    _, retrain_every, run_settings = _run_settings(request)
    run = BacktestRun(
        status="queued",
        start_date=request.start,
        end_date=request.end,
        tickers=tickers,
        retrain_every=retrain_every,
        settings=run_settings,
    )
    session.add(run)
    await session.flush()
    return run


async def _fail(run_id: int, exc: BaseException) -> None:
    async with transaction() as session:
        await session.execute(
            update(BacktestRun)
            .where(BacktestRun.id == run_id)
            .values(status="failed", error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=utcnow())
        )


async def run_backtest(
    request: BacktestRequest,
    *,
    run_id: int | None = None,
    on_session: Callable[[str, date], None] | None = None,
    progress: Callable[[str], None] | None = None,
    data: ReplayData | None = None,
) -> dict[str, Any]:
    """Validate, replay the strategy and the baselines, store the run and its book; returns the results.

    `run_id`: a run `create_queued` recorded (the API's POST); it is marked running, then finished or
    failed. Without it a new run row is created here. `data`: the request's history already loaded by
    `load` (the demo trains its live model on the same frames instead of loading and building the features
    twice)."""
    settings = get_settings()
    members, retrain_every, run_settings = _run_settings(request)
    try:
        async with transaction() as session:
            if data is None:
                data = await load(session=session, request=request)
            if run_id is None:
                run = BacktestRun(
                    status="running",
                    start_date=request.start,
                    end_date=request.end,
                    tickers=data.tickers,
                    retrain_every=retrain_every,
                    settings=run_settings,
                )
                session.add(run)
                await session.flush()
                run_id = run.id
            else:
                await backtest_runs.get_run(session=session, run_id=run_id)  # NotFound names the id
                await session.execute(
                    update(BacktestRun)
                    .where(BacktestRun.id == run_id)
                    .values(status="running", tickers=data.tickers)
                )
    except BaseException as exc:
        if run_id is not None:  # a queued run whose data changed since it was checked: say so on the run
            await _fail(run_id, exc)
        raise
    try:
        results, book, candidates = _replay_all(data, members, retrain_every, on_session, progress)
        results["run_id"] = run_id
        async with transaction() as session:
            portfolio = await portfolio_service.create_portfolio(
                session=session, name=f"backtest-{run_id}", kind="backtest", settings=settings.risk
            )
            await portfolio_service.save_book(session=session, portfolio=portfolio, book=book, since=None)
            await signal_service.store_candidates(session=session, portfolio_id=portfolio.id, rows=candidates)
            await session.execute(
                update(BacktestRun)
                .where(BacktestRun.id == run_id)
                .values(status="finished", results=results, portfolio_id=portfolio.id, finished_at=utcnow())
            )
    except BaseException as exc:
        await _fail(run_id, exc)
        raise
    return results


def _replay_all(
    data: ReplayData,
    members: list[str],
    retrain_every: int,
    on_session: Callable[[str, date], None] | None,
    progress: Callable[[str], None] | None,
) -> tuple[dict[str, Any], PaperBook, list[CandidateRow]]:
    settings = get_settings()
    risk = settings.risk
    before = previous_trading_day(data.sessions[0])

    def ticking(name: str) -> Callable[[date], None] | None:
        return (lambda day: on_session(name, day)) if on_session is not None else None

    model = engine.RetrainingPredictor(
        prices=data.prices,
        features=data.features,
        sessions=data.sessions,
        risk=risk,
        members=members,
        retrain_every=retrain_every,
        sequence_length=settings.features.sequence_length,
        progress=progress,
    )
    candidates: list[CandidateRow] = []
    started = time.perf_counter()
    book = replay_book(data, model, ticking("strategy"), candidates)
    strategy_seconds = time.perf_counter() - started
    baselines = {}
    curves: dict[str, list[list[Any]]] = {}
    for rule in BASELINE_RULES:
        rule_book = replay_book(data, engine.rule_predictor(data.prices, rule), ticking(rule))
        baselines[rule] = summarize(rule_book, risk.starting_capital, before)
        curves[rule] = equity_points(
            with_start(rule_book.ledger.equity_curve(), risk.starting_capital, before)
        )
    hold = engine.buy_and_hold(data.prices, data.sessions, risk)
    curves["buy_and_hold"] = equity_points(with_start(hold, risk.starting_capital, before))
    labels = triple_barrier_labels(data.prices, risk)  # scoring only, after the replay
    strategy = summarize(book, risk.starting_capital, before)
    signals = list(book.touched.values())
    results = {
        "start": data.sessions[0].isoformat(),
        "end": data.sessions[-1].isoformat(),
        "sessions": len(data.sessions),
        "tickers": data.tickers,
        "excluded_tickers": data.excluded,
        "retrain_every": retrain_every,
        "members": members,
        "strategy": strategy,
        "benchmark": benchmark_summary(with_start(hold, risk.starting_capital, before)),
        "baselines": baselines,
        "model": {
            **engine.prediction_accuracy(model.predictions, labels, risk.min_confidence),
            "retrains": model.retrains,
            "signals_approved": sum(1 for s in signals if s.status != "rejected"),
            "signals_rejected": sum(1 for s in signals if s.status == "rejected"),
            "rejection_reasons": _reason_counts(signals),
        },
        "model_quality": quality.model_quality(model.predictions, labels, data.prices, risk),
        "caveats": quality.caveats(data.prices),
        "timings_seconds": {
            "strategy_replay": round(strategy_seconds, 1),
            **{k: round(v, 1) for k, v in model.timings.items()},
            # What a session costs without (re)training and block prediction: fills, exits, signals, ranking.
            "daily_loop_per_session": round(
                max(0.0, strategy_seconds - sum(model.timings.values())) / len(data.sessions), 4
            ),
        },
        "equity_curve": equity_points(with_start(book.ledger.equity_curve(), risk.starting_capital, before)),
        # The same sessions for every book: the dashboard draws them on one chart.
        "baseline_equity_curves": curves,
        "assumptions": assumptions(),
    }
    return results, book, candidates


def equity_points(curve: pd.Series) -> list[list[Any]]:
    """[[ISO date, value], ...] for the JSON output."""
    dates = pd.DatetimeIndex(curve.index)
    return [[d.date().isoformat(), round(float(v), 2)] for d, v in zip(dates, curve.to_numpy(), strict=True)]


def _reason_counts(signals: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in signals:
        if record.status == "rejected":
            for reason in record.reasons:
                counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def assumptions() -> dict[str, Any]:
    risk = get_settings().risk
    return {
        "entry": "next session's open after the signal's close; stop and target re-anchored on the fill",
        "same_bar": "a bar touching stop and target counts as the stop, unless it opened beyond the target",
        "gaps": "an open through the stop (or over the target) fills at the open",
        "exit_orders": "SELL predictions and bearish sentiment sell at the next open",
        "time_decay": f"close of the {risk.max_hold_days}th session held",
        "signals": "only a model trusted by its out-of-sample edge test makes signals "
        f"(RISK__REQUIRE_TRUSTED_MODEL={risk.require_trusted_model}); BUY needs P(win) >= "
        f"{risk.min_confidence} and EV after costs > 0",
        "commission_per_trade": risk.commission_per_trade,
        "slippage_bps": risk.slippage_bps,
        "starting_capital": risk.starting_capital,
    }
