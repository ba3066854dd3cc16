"""`tft-trader demo`: the whole system on the bundled real 505-stock history, offline, in minutes.

One flow, each step a function and its own transaction: migrate -> the US ticker list -> the 505-stock
history with GICS sectors -> a SYNTHETIC Reddit feed about those tickers -> the ensemble trained
walk-forward with its edge test (the live model) -> a replay of the last `demo.replay_sessions` sessions
through the live session steps with scheduled retraining, beside both rule baselines and buy-and-hold
(stored as portfolio `backtest-N` with its candidates) -> the live after-close chain on the last day ->
the dashboard build -> a local read key. The CLI (`backend/cli/demo.py`) only draws progress and prints.

The demo's models are smaller than production's (`DemoSettings.ml`, merged into `ml` for the demo's
fits) so the whole run fits the time budget; the summary says so, and whether the model is trusted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from backend.core.settings import get_settings, override_settings
from backend.db.engine import run_on_new_loop, transaction

Advance = Callable[[int], None]
FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"
READ_KEY_NAME = "demo-read"


class DemoUI(Protocol):
    """What the flow reports to: a progress bar per step and one-line notes."""

    def step(self, name: str, total: int | None) -> AbstractContextManager[Advance]: ...

    def note(self, message: str) -> None: ...


class SilentUI:
    """Reports nothing (tests, benchmarks)."""

    @contextmanager
    def step(self, name: str, total: int | None) -> Iterator[Advance]:
        yield lambda _n: None

    def note(self, message: str) -> None:
        return None


@dataclass
class DemoResult:
    """Everything the summary prints; `timings` is wall seconds per step, in order."""

    database: str
    tickers: list[str]
    history: tuple[date, date]
    replay: tuple[date, date]
    synthetic_posts: int = 0
    model_version: str | None = None
    model_trusted: bool = False
    model_quality: dict[str, Any] = field(default_factory=dict)
    promotion: str = ""
    backtest: dict[str, Any] = field(default_factory=dict)
    live_candidates: list[dict[str, Any]] = field(default_factory=list)
    live_signals: int = 0
    read_key: str | None = None
    dashboard: str = ""
    notes: list[str] = field(default_factory=list)
    url: str = "http://127.0.0.1:8000"  # where `serve` will listen (the CLI sets its --port)
    timings: dict[str, float] = field(default_factory=dict)


def run_demo(ui: DemoUI | None = None, *, build_dashboard: bool | None = None) -> DemoResult:
    """Run every step against the configured database (a fresh SQLite file by default); returns the result.

    Synchronous at the top: Alembic runs its own event loop, so the migration goes first, then the rest
    runs on one fresh loop whose engines are disposed at the end.
    """
    from backend.db import migrate

    ui = ui or SilentUI()
    settings = get_settings()
    started = time.perf_counter()
    with ui.step("migrating the database", None):
        migrate.upgrade()
    timings = {"migrate": time.perf_counter() - started}

    async def flow() -> DemoResult:
        with override_settings(ml=dict(settings.demo.ml)):
            return await _flow(ui, timings)

    result = run_on_new_loop(flow)
    build = settings.demo.build_dashboard if build_dashboard is None else build_dashboard
    started = time.perf_counter()
    result.dashboard = dashboard(ui) if build else "not built (--no-build)"
    result.timings["dashboard"] = time.perf_counter() - started
    return result


async def _flow(ui: DemoUI, timings: dict[str, float]) -> DemoResult:
    from sqlalchemy.engine import make_url

    from backend.market import bundled
    from backend.market.providers import PriceBatch

    settings = get_settings()
    demo = settings.demo
    batch = bundled.load_prices()
    all_tickers = sorted(batch.bars["ticker"].unique())
    tickers = all_tickers[: demo.tickers] if demo.tickers else all_tickers
    bars = batch.bars[batch.bars["ticker"].isin(tickers)]
    days = sorted(bars["trade_date"].unique())
    replay_days = days[-demo.replay_sessions :]
    result = DemoResult(
        database=make_url(settings.resolved_database_url).render_as_string(hide_password=True),
        tickers=tickers,
        history=(days[0], days[-1]),
        replay=(replay_days[0], replay_days[-1]),
        timings=timings,
    )
    if len(tickers) < len(all_tickers):
        result.notes.append(
            f"a subset: the first {len(tickers)} of the {len(all_tickers)} bundled tickers (DEMO__TICKERS)"
        )

    async def timed(name: str, step: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        try:
            return await step()
        finally:
            result.timings[name] = time.perf_counter() - began

    await timed("tickers", lambda: seed_tickers(ui))
    await timed("history", lambda: load_history(ui, PriceBatch(batch.source, bars)))
    result.synthetic_posts = await timed("reddit", lambda: synthetic_feed(ui, tickers, days))
    request, data = await timed("features", lambda: replay_data(ui, result))
    await timed("train", lambda: train(ui, result, data))
    await timed("replay", lambda: replay(ui, result, request, data))
    await timed("live_day", lambda: live_day(ui, result))
    result.read_key = await timed("read_key", create_read_key)
    return result


async def seed_tickers(ui: DemoUI) -> int:
    """The bundled US listing and ETFs (idempotent)."""
    from backend.market import service as market_service
    from backend.market.universe import bundled_universe

    infos, _skipped = bundled_universe()
    with ui.step("US ticker list (NASDAQ, NYSE, NYSE American, ETFs)", len(infos)) as advance:
        async with transaction() as session:
            seeded = await market_service.seed_universe(session=session, infos=infos, progress=advance)
    return seeded.total


async def load_history(ui: DemoUI, batch: Any) -> int:
    """The bundled real daily bars with GICS sectors, indicators and the data-quality check."""
    from backend.market import bundled

    n = int(batch.bars["ticker"].nunique())
    with ui.step(f"real history of {n} S&P 500 stocks: indicators", n) as advance:
        async with transaction() as session:
            loaded = await bundled.load_history(session=session, batch=batch, progress=advance)
    return int(loaded.totals().total)


async def synthetic_feed(ui: DemoUI, tickers: list[str], days: list[date]) -> int:
    """A SYNTHETIC Reddit feed about `tickers` on `days` (marked synthetic), scored and aggregated."""
    from backend.sentiment import sample_feed
    from backend.sentiment import service as sentiment_service
    from backend.sentiment.scoring import MemoScorer

    rate = get_settings().demo.posts_per_ticker_day
    items = sample_feed.generate(tickers, days, posts_per_day=rate)
    scorer = MemoScorer(max_chars=get_settings().sentiment.max_chars_scored)
    new = 0
    with ui.step("SYNTHETIC Reddit feed: scoring posts", len(items)) as advance:
        async with transaction() as session:
            known = await sentiment_service.known_tickers(session=session)
        for i in range(0, len(items), 5000):
            chunk = items[i : i + 5000]
            async with transaction() as session:
                stored = await sentiment_service.store_items(
                    session=session, items=chunk, known=known, scorer=scorer, synthetic=True
                )
            new += stored.new_posts
            advance(len(chunk))
        async with transaction() as session:
            await sentiment_service.aggregate_daily(session=session, start=days[0], end=days[-1])
    return new


def _members(result: DemoResult) -> list[str]:
    members = list(get_settings().backtest.members)
    if "lstm" not in members:
        message = "the LSTM member is skipped (it would not fit the time budget): XGBoost + LightGBM"
        if message not in result.notes:
            result.notes.append(message)
    return members


async def replay_data(ui: DemoUI, result: DemoResult) -> tuple[Any, Any]:
    """The replay's request and its history (prices, point-in-time features, market days), loaded once
    for both the live model's training and the replay."""
    from backend.backtest import service as backtest_service
    from backend.core.calendar import previous_trading_day
    from backend.market import service as market_service

    settings = get_settings()
    start, end = result.replay
    async with transaction() as session:
        before = await market_service.bar_counts(
            session=session, tickers=result.tickers, end=previous_trading_day(start)
        )
    # Listed late (e.g. spin-offs of 2016-2017): too little history to train on before the replay starts.
    need = backtest_service.required_history()
    replayed = [t for t in result.tickers if before.get(t, 0) >= need]
    if len(replayed) < len(result.tickers):
        result.notes.append(
            f"{len(result.tickers) - len(replayed)} tickers listed too late to train on before {start} "
            f"(fewer than {need} bars) are left out of the model and the replay"
        )
    request = backtest_service.BacktestRequest(
        start=start,
        end=end,
        tickers=replayed,
        retrain_every=settings.demo.retrain_every_days,
        members=_members(result),
    )
    with ui.step(f"point-in-time features for {len(replayed)} tickers", None):
        async with transaction() as session:
            data = await backtest_service.load(session=session, request=request)
    return request, data


async def train(ui: DemoUI, result: DemoResult, data: Any) -> None:
    """The live model: walk-forward on everything known at the last day, its edge test, registered."""
    from backend.features.labels import triple_barrier_labels
    from backend.ml import training
    from backend.pipeline import ml as ml_pipeline

    as_of = result.history[1]
    with ui.step(f"training the ensemble walk-forward (data known at {as_of})", None) as advance:

        def progress(message: str) -> None:
            ui.note(message)
            advance(1)

        labels = triple_barrier_labels(data.prices, get_settings().risk)
        ts = training.make_training_set(data.features, labels, data.prices)
        members = _members(result)
        fitted = ml_pipeline.fit(
            ml_pipeline.TrainingData(ts, dict(data.excluded)), progress=progress, member_names=members
        )
        async with transaction() as session:
            outcome = await ml_pipeline.register_fitted(session=session, as_of=as_of, fitted=fitted)
    result.model_version = outcome.model.version
    result.model_trusted = bool(outcome.model.trusted)
    result.model_quality = dict(outcome.metrics)
    result.promotion = outcome.promotion.reason


async def replay(ui: DemoUI, result: DemoResult, request: Any, data: Any) -> None:
    """The last sessions replayed through the live steps, retrained on schedule, beside the baselines."""
    from backend.backtest import service as backtest_service

    start, end = result.replay
    total = len(data.sessions) * (1 + len(backtest_service.BASELINE_RULES))
    label = f"replay {start}..{end}: model, RSI rule, MACD rule"
    with ui.step(label, total) as advance:
        result.backtest = await backtest_service.run_backtest(
            request, on_session=lambda _name, _day: advance(1), progress=ui.note, data=data
        )


async def live_day(ui: DemoUI, result: DemoResult) -> None:
    """The live after-close chain on the history's last day: predictions, the paper portfolio, candidates."""
    from backend.pipeline import daily
    from backend.signals import service as signal_service

    as_of = result.history[1]
    with ui.step(f"after-close pipeline for {as_of} (live paper portfolio)", None):
        outcome = await daily.run_daily(as_of=as_of, tickers=result.tickers, force=True)
    result.live_candidates = [c.as_dict() for c in outcome.candidates]
    result.live_signals = len(outcome.signals.approved) if outcome.signals is not None else 0
    if outcome.signals is not None and outcome.signals.already_generated:
        # A database the demo ran on before: the book cannot be rewound, so show what that run stored.
        result.notes.append(
            f"the live portfolio had already processed {as_of} (this database was used before): its "
            "stored candidates are shown, not predictions of the model trained now"
        )
        async with transaction() as session:
            _day, rows = await signal_service.list_candidates(session=session, trade_date=as_of)
        result.live_candidates = [
            {
                "rank": r.rank,
                "ticker": r.ticker,
                "confidence": r.confidence,
                "expected_value": r.expected_value,
                "why": r.why,
            }
            for r in rows
        ]
        result.live_signals = sum(bool(r.is_signal) for r in rows)


async def create_read_key() -> str:
    """A read-scope API key for the local dashboard and curl (printed once)."""
    from backend.auth import service as auth_service

    async with transaction() as session:
        created = await auth_service.create(session=session, name=READ_KEY_NAME, scope="read")
    return created.key


def dashboard(ui: DemoUI, frontend: Path = FRONTEND_DIR) -> str:
    """Build the dashboard (`npm ci && npm run build`) when `frontend/out` is missing; one line on why not."""
    if (frontend / "out" / "index.html").exists():
        return f"already built ({frontend / 'out'})"
    if not (frontend / "package.json").exists():
        return f"not built: no {frontend / 'package.json'}; the API still serves /api/v1 and /docs"
    npm = shutil.which("npm")
    if npm is None:
        return "not built: npm is not installed (install Node.js 20+ and rerun); the API still serves /docs"
    env = {"NEXT_TELEMETRY_DISABLED": "1"}
    with ui.step("building the dashboard (npm ci && npm run build, ~1 min)", 2) as advance:
        for args in (["ci", "--no-audit", "--no-fund"], ["run", "build"]):
            done = subprocess.run(
                [npm, *args],
                cwd=frontend,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                command = "npm " + " ".join(args)
                return f"not built: `{command}` failed ({tail[0][:160]}); the API still serves /docs"
            advance(1)
    return f"built ({frontend / 'out'})"
