"""The live paper portfolio's after-close chain and the position monitor pass.

`run_daily(as_of)`: sentiment aggregates -> features and predictions (stored) -> the portfolio catches up
every unprocessed session up to `as_of` (fills at the open, exits, marks) -> that close's signals through
the risk manager -> everything written back in one transaction. Each step is its own function (and its
own transaction), so the scheduled tasks run them at their own times (backend/tasks/daily.py).
`monitor()` is the catch-up part alone,
through the newest stored prices, plus an intraday check of the holdings' latest prices. The backtest
calls the same `run_session` and `generate_signals`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import (
    add_trading_days,
    calendar_days_back,
    is_market_open,
    last_completed_session,
    next_trading_day,
    previous_trading_day,
    trading_date_for,
    trading_days,
    utcnow,
)
from backend.core.errors import DataSourceError, ValidationFailed
from backend.db.engine import transaction
from backend.features import service as feature_service
from backend.market import service as market_service
from backend.ml import service as ml_service
from backend.pipeline import ml as ml_pipeline
from backend.pipeline import notifications
from backend.portfolio import service as portfolio_service
from backend.portfolio.book import PaperBook
from backend.portfolio.models import LIVE_PORTFOLIO, Portfolio
from backend.sentiment import service as sentiment_service
from backend.signals import service as signal_service
from backend.signals.candidates import CandidateRow
from backend.signals.generate import GenerationReport, generate_signals
from backend.signals.market import (
    LIQUIDITY_WINDOW,
    MARKET_PRICE_COLUMNS,
    MarketDay,
    market_days,
    market_frame,
)
from backend.signals.monitor import SessionReport, check_quotes, run_session

log = logging.getLogger(__name__)
SENTIMENT_REFRESH_SESSIONS = 10  # the aggregates' 5-session average needs the days before as_of too


@dataclass
class DailyOutcome:
    as_of: date
    model_version: str | None = None
    predictions: int = 0
    sessions: list[SessionReport] = field(default_factory=list)
    signals: GenerationReport | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    alert: str | None = None  # e.g. a model past its age limit: exits ran, no new entries
    candidates: list[CandidateRow] = field(default_factory=list)


@dataclass
class FeaturesOutcome:
    rows: int
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class PredictStep:
    model_version: str | None
    predictions: int
    skipped: dict[str, str] = field(default_factory=dict)
    alert: str | None = None


@dataclass
class SignalsStep:
    sessions: list[SessionReport]
    signals: GenerationReport
    candidates: list[CandidateRow] = field(default_factory=list)


async def load_market(
    *,
    session: AsyncSession,
    tickers: Sequence[str],
    start: date,
    end: date,
    stored_features: bool = False,
) -> dict[date, MarketDay]:
    """Market days `start`..`end` for `tickers`, from stored prices, features inputs and sentiment.

    `stored_features` (one session only): its ATR and market regime from the features the features step
    stored, instead of rebuilding every feature from a year of bars; a rebuild when they are incomplete.
    """
    if stored_features and start == end:
        days = await _market_from_stored(session=session, tickers=tickers, day=end)
        if days is not None:
            return days
    inputs = await feature_service.load_inputs(session=session, tickers=tickers, start=start, end=end)
    features = feature_service.features_between(inputs, start, end)
    sectors = await market_service.sectors(session=session, tickers=tickers)
    frame = market_frame(inputs.prices, features, inputs.sentiment, sectors)
    return market_days(frame, start, end)


async def _market_from_stored(
    *, session: AsyncSession, tickers: Sequence[str], day: date
) -> dict[date, MarketDay] | None:
    stored = await feature_service.stored_day(session=session, tickers=tickers, day=day)
    if stored is None:
        return None
    # The 20-session dollar volume needs 20 bars before `day`; the rest of the row is that day's bar.
    since = calendar_days_back(day, 2 * LIQUIDITY_WINDOW)
    prices = await market_service.load_usable_bars(
        session=session, tickers=tickers, start=since, end=day, columns=MARKET_PRICE_COLUMNS
    )
    prices = prices[~prices["ticker"].isin(list(stored.skipped))].reset_index(drop=True)
    sentiment = await sentiment_service.load_daily(session=session, tickers=tickers, start=since, end=day)
    sectors = await market_service.sectors(session=session, tickers=sorted(prices["ticker"].unique()))
    frame = market_frame(prices, stored.features, sentiment, sectors)
    return market_days(frame, day, day)


def sessions_to_process(book: PaperBook, through: date) -> list[date]:
    """Sessions after the book's last one up to `through`; a new book starts at `through`."""
    if book.last_session is None:
        return [through]
    if book.last_session > through:
        raise ValidationFailed(
            f"the live portfolio has already processed {book.last_session.isoformat()}, after "
            f"{through.isoformat()}: a portfolio cannot go back in time"
        )
    return trading_days(next_trading_day(book.last_session), through)


async def catch_up(
    *,
    session: AsyncSession,
    book: PaperBook,
    through: date,
    universe: Sequence[str],
    stored_features: bool = False,
) -> tuple[list[SessionReport], dict[date, MarketDay]]:
    sessions = sessions_to_process(book, through)
    if not sessions:
        return [], {}
    held = set(book.ledger.open_positions) | set(book.pending)
    tickers = sorted(set(universe) | held)
    days = await load_market(
        session=session, tickers=tickers, start=sessions[0], end=through, stored_features=stored_features
    )
    reports = []
    for day in sessions:
        if day not in days:
            # No ticker has a bar: the day was not fetched, not halted. Processing it would expire the
            # pending entries and mark stale prices for good, so stop and wait for its prices.
            log.warning("no prices stored for %s: the portfolio waits at %s", day, book.last_session)
            break
        reports.append(run_session(book, days[day]))
    return reports, days


async def _newest_prices() -> date:
    async with transaction() as session:
        newest = await market_service.newest_date(session=session)
    if newest is None:
        raise DataSourceError("no prices are stored: run `tft-trader prices fetch` (or `prices load-sample`)")
    return newest


async def check_as_of(as_of: date) -> GenerationReport | None:
    """Refuse a date the chain cannot run for; a report when its signals were already generated."""
    newest = await _newest_prices()
    closed = last_completed_session(utcnow())
    if as_of > closed:
        raise ValidationFailed(
            f"the session of {as_of.isoformat()} has not closed yet (last close: {closed})"
        )
    if as_of > newest:
        raise DataSourceError(
            f"no prices stored for {as_of.isoformat()} (newest: {newest.isoformat()}): fetch them first"
        )
    async with transaction() as session:
        portfolio = await portfolio_service.get_portfolio(session=session, name=LIVE_PORTFOLIO)
        done = portfolio.last_signal_date if portfolio is not None else None
        processed = portfolio.last_session if portfolio is not None else None
    # Refused before anything is predicted or stored: the book cannot be rewound.
    if done is not None and as_of < done:
        raise ValidationFailed(
            f"the live portfolio has generated signals up to {done.isoformat()}, after {as_of.isoformat()}: "
            "a portfolio cannot go back in time"
        )
    if processed is not None and as_of < processed:
        raise ValidationFailed(
            f"the live portfolio has already processed {processed.isoformat()}, after {as_of.isoformat()}: "
            "a portfolio cannot go back in time"
        )
    return GenerationReport(as_of, already_generated=True) if done == as_of else None


async def universe(*, as_of: date, tickers: Sequence[str] | None = None) -> list[str]:
    """The tickers the per-ticker steps work on for `as_of` (default: all with enough history)."""
    async with transaction() as session:
        return await ml_pipeline.resolve_tickers(session=session, tickers=tickers, end=as_of)


async def aggregate_sentiment(*, as_of: date) -> int:
    """Step 1: the daily Reddit aggregates for `as_of` and the sessions its averages look back on."""
    async with transaction() as session:
        refresh_from = add_trading_days(as_of, -SENTIMENT_REFRESH_SESSIONS)
        result = await sentiment_service.aggregate_daily(session=session, start=refresh_from, end=as_of)
    return result.totals().total


async def build_features(
    *, as_of: date, tickers: Sequence[str] | None = None, cross_section: bool = True
) -> FeaturesOutcome:
    """Step 2: features for `as_of` stored (what the predictions of that close will read).

    `cross_section=False`: one ticker batch's per-ticker columns; `complete_features` finishes the day.
    """
    # The universe and the history check ask the same bar counts.
    with market_service.bar_counts_once():
        async with transaction() as session:
            stored = await ml_pipeline.store_features(
                session=session, as_of=as_of, tickers=tickers, cross_section=cross_section
            )
    return FeaturesOutcome(stored.rows, stored.skipped)


async def complete_features(*, as_of: date, tickers: Sequence[str]) -> int:
    """Step 2, after ticker batches: the cross-sectional columns of the rows they stored for `as_of`."""
    async with transaction() as session:
        return await feature_service.complete_day(session=session, day=as_of, tickers=tickers)


async def predict(
    *,
    as_of: date,
    tickers: Sequence[str] | None = None,
    force: bool = False,
    stored_features: bool = False,
) -> PredictStep:
    """Step 3: the active model's predictions for `as_of` (`stored_features`: see `ml_pipeline.predict`).

    A model past the age limit does not stop the chain: it raises an alert and predicts nothing, so the
    portfolio step still runs its exits (no new entries come from a model that is not trusted any more).
    """
    async with transaction() as session:
        alert = await stale_model_alert(session=session, as_of=as_of, force=force)
    if alert is not None:
        log.warning("%s", alert)
        return PredictStep(model_version=None, predictions=0, alert=alert)
    # The universe, the skipped tickers and the stored features' completeness ask the same bar counts.
    with market_service.bar_counts_once():
        async with transaction() as session:
            predicted = await ml_pipeline.predict(
                session=session, as_of=as_of, tickers=tickers, force=force, stored_features=stored_features
            )
    return PredictStep(predicted.model_version, predicted.predictions, predicted.skipped)


async def stale_model_alert(*, session: AsyncSession, as_of: date, force: bool = False) -> str | None:
    """Why the active model may not predict `as_of` because of its age (None when it may)."""
    model = await ml_service.active_model(session=session)
    if model is None or force:
        return None  # no model at all is an error the prediction step reports itself
    try:
        ml_service.check_fresh(model, as_of)
    except ValidationFailed as exc:
        if model.as_of > as_of:
            raise  # the future leaking in is never just an alert
        return f"ALERT: {exc}"
    return None


async def model_alert(*, as_of: date) -> str | None:
    """The stale-model alert for `as_of`, if the active model is past its age limit."""
    async with transaction() as session:
        return await stale_model_alert(session=session, as_of=as_of)


async def active_version() -> str | None:
    async with transaction() as session:
        model = await ml_service.active_model(session=session)
    return model.version if model is not None else None


async def make_signals(
    *,
    as_of: date,
    tickers: Sequence[str] | None = None,
    model_version: str | None = None,
    stored_features: bool = False,
) -> SignalsStep:
    """Step 4: the portfolio catches up to `as_of` (fills, exits, marks), then that close's signals and
    its ranked candidates.

    `model_version` None means no trusted predictions: exit orders still come from the day's data.
    `stored_features`: a one-session market day reads the stored features (see `load_market`).
    """
    # The universe and the stored features' completeness ask the same bar counts.
    with market_service.bar_counts_once():
        return await _make_signals(as_of, tickers, model_version, stored_features)


async def _make_signals(
    as_of: date, tickers: Sequence[str] | None, model_version: str | None, stored_features: bool
) -> SignalsStep:
    async with transaction() as session:
        portfolio, book = await _live_book(session)
        since = book.last_session
        if book.last_signal_date is not None and book.last_signal_date >= as_of:  # a concurrent run won
            return SignalsStep([], GenerationReport(as_of, already_generated=True))
        universe = await ml_pipeline.resolve_tickers(session=session, tickers=tickers, end=as_of)
        sessions, days = await catch_up(
            session=session, book=book, through=as_of, universe=universe, stored_features=stored_features
        )
        if as_of not in days:  # the monitor processed the session already; its signals are still due
            days = await load_market(
                session=session, tickers=universe, start=as_of, end=as_of, stored_features=stored_features
            )
        predictions = (
            await ml_service.load_predictions(session=session, trade_date=as_of, model_version=model_version)
            if model_version is not None
            else pd.DataFrame()
        )
        market_day = days.get(as_of, MarketDay(as_of, {}))
        report = generate_signals(book, market_day, predictions)
        candidates = await signal_service.record_candidates(
            session=session,
            portfolio_id=portfolio.id,
            predictions=predictions,
            report=report,
            market=market_day,
            risk=book.settings,
        )
        # The day's events go to the outbox in this transaction: stored signals and their messages together.
        await notifications.record_day(
            session=session, book=book, sessions=sessions, report=report, candidates=candidates
        )
        await portfolio_service.save_book(session=session, portfolio=portfolio, book=book, since=since)
    await notifications.publish_day(sessions, report)
    return SignalsStep(sessions, report, candidates)


async def run_daily(
    *, as_of: date, tickers: Sequence[str] | None = None, force: bool = False
) -> DailyOutcome:
    """The after-close chain for `as_of` on the live portfolio, its steps in one process.

    Rerunning the latest date changes nothing (not even predictions); an earlier date than the portfolio's
    latest signals is refused, since the book cannot be rewound.
    """
    outcome = DailyOutcome(as_of)
    done = await check_as_of(as_of)
    if done is not None:
        outcome.signals = done
        return outcome
    await aggregate_sentiment(as_of=as_of)
    predicted = await predict(as_of=as_of, tickers=tickers, force=force)
    outcome.model_version, outcome.predictions = predicted.model_version, predicted.predictions
    outcome.skipped, outcome.alert = predicted.skipped, predicted.alert
    step = await make_signals(as_of=as_of, tickers=tickers, model_version=predicted.model_version)
    outcome.sessions, outcome.signals, outcome.candidates = step.sessions, step.signals, step.candidates
    return outcome


Quotes = Callable[[list[str]], dict[str, float]]


async def monitor(
    *, through: date | None = None, quotes: Quotes | None = None, now: datetime | None = None
) -> list[SessionReport]:
    """One monitor pass on the live portfolio.

    First every stored session it has not processed (fills, exits, marks, through `through` or the newest
    stored bar); then, while the market is open and `quotes` is given, the holdings' latest prices against
    their stops and targets.
    """
    newest = await _newest_prices()
    now = now or utcnow()
    # A bar stored during the session is partial: the session step waits for the close.
    through = min(through or newest, newest, last_completed_session(now))
    async with transaction() as session:
        portfolio, book = await _live_book(session, create=False)
        since = book.last_session
        reports: list[SessionReport] = []
        if book.last_session is None or book.last_session < through:
            held = sorted(set(book.ledger.open_positions) | set(book.pending))
            reports, _ = await catch_up(session=session, book=book, through=through, universe=held)
        today = trading_date_for(now)
        # Quotes only once yesterday's session is booked: today's exits must not come before it.
        caught_up = book.last_session is not None and book.last_session == previous_trading_day(today)
        live = quotes is not None and is_market_open(now) and caught_up
        if live and book.ledger.open_positions:
            assert quotes is not None
            prices = await asyncio.to_thread(quotes, sorted(book.ledger.open_positions))
            reports.append(check_quotes(book, today, prices, now))
        if reports:
            await notifications.record_sessions(session=session, book=book, sessions=reports)
            await portfolio_service.save_book(session=session, portfolio=portfolio, book=book, since=since)
    await notifications.publish_sessions(reports)
    return [r for r in reports if not r.intraday or r.closed]


async def _live_book(session: AsyncSession, *, create: bool = True) -> tuple[Portfolio, PaperBook]:
    return await portfolio_service.live_book(session=session, create=create)
