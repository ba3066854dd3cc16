"""The lookahead check recomputes every layer from raw data: a leak planted in any one of them is found
and named; the clean pipeline passes."""

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import select, update

from backend.core.calendar import next_trading_day, session_close, trading_days
from backend.core.settings import override_settings
from backend.features.models import FeatureRow
from backend.market import service as market_service
from backend.market.models import StockPrice
from backend.market.providers import PriceBatch
from backend.ml.models import Prediction
from backend.pipeline import checks
from backend.pipeline import ml as ml_pipeline
from backend.sentiment import sample_feed
from backend.sentiment import service as sentiment_service
from backend.sentiment.models import RedditPost, TickerMention
from tests.factories import make_bars

SMALL = {
    "xgb_n_estimators": 15, "lgbm_n_estimators": 15, "walk_forward_splits": 2, "validation_days": 40,
    "calibration_days": 60, "min_train_days": 150,
}  # fmt: skip
TICKERS = ["AAA", "BBB", "CCC"]
AS_OF = date(2016, 9, 30)
N_DATES = 4


@pytest.fixture
async def pipeline_db(session):
    """Prices, a Reddit feed around AS_OF (including posts after its close), a model and its predictions."""
    for i, ticker in enumerate(TICKERS):
        bars = make_bars(ticker, n=700, seed=10 + i, vol=0.02, start=date(2014, 1, 2))
        await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    days = trading_days(AS_OF - timedelta(days=40), next_trading_day(AS_OF))
    items = sample_feed.generate(TICKERS, days, posts_per_day=4.0)
    await sentiment_service.store_items(
        session=session, items=items, known=frozenset(TICKERS), synthetic=True
    )
    await sentiment_service.aggregate_daily(session=session, start=days[0], end=AS_OF)
    with override_settings(ml=SMALL):
        await ml_pipeline.train(session=session, as_of=AS_OF, tickers=TICKERS, member_names=["xgboost"])
        await ml_pipeline.predict(session=session, as_of=AS_OF)
        yield session


async def check(session) -> checks.LookaheadReport:
    return await checks.check_lookahead(session=session, tickers=None, end=AS_OF, n_dates=N_DATES)


async def plant_rsi_five_rows_ahead(session) -> None:
    rows = (
        await session.execute(
            select(StockPrice.trade_date, StockPrice.rsi_14)
            .where(StockPrice.ticker == "AAA")
            .order_by(StockPrice.trade_date)
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["trade_date", "rsi_14"])
    frame["leaked"] = frame["rsi_14"].shift(-5)
    for day, value in zip(frame["trade_date"], frame["leaked"], strict=True):
        if pd.notna(value):
            await session.execute(
                update(StockPrice)
                .where(StockPrice.ticker == "AAA", StockPrice.trade_date == day)
                .values(rsi_14=float(value))
            )


async def plant_post_after_the_close(session) -> None:
    """A post written after AS_OF's close is counted for AS_OF (its mention re-dated), then re-aggregated."""
    late = (
        await session.execute(
            select(TickerMention.id, RedditPost.created_at)
            .join(RedditPost, RedditPost.id == TickerMention.post_id)
            .where(TickerMention.ticker == "AAA", RedditPost.created_at >= session_close(AS_OF))
            .order_by(RedditPost.created_at)
            .limit(1)
        )
    ).one()
    await session.execute(update(TickerMention).where(TickerMention.id == late.id).values(trading_date=AS_OF))
    await sentiment_service.aggregate_daily(session=session, start=AS_OF, end=AS_OF)


async def plant_stored_feature(session) -> None:
    row = await session.scalar(
        select(FeatureRow).where(FeatureRow.ticker == "BBB", FeatureRow.trade_date == AS_OF)
    )
    assert row is not None
    row.values = {**row.values, "ret_1d": (row.values["ret_1d"] or 0.0) + 0.013}  # tomorrow's move
    await session.flush()


async def plant_stored_prediction(session) -> None:
    row = await session.scalar(
        select(Prediction).where(Prediction.ticker == "CCC", Prediction.trade_date == AS_OF)
    )
    assert row is not None
    # A stored P(win) that is not what the model says on the data known that day (e.g. it saw the outcome).
    row.confidence = min(1.0, row.confidence + 0.1)
    await session.flush()


async def test_clean_pipeline_passes_every_layer(pipeline_db):
    report = await check(pipeline_db)
    assert report.mismatches == [], report.mismatches[:5]
    assert AS_OF in report.dates_checked and len(report.dates_checked) >= N_DATES
    assert report.layers["indicators"].compared >= N_DATES * len(TICKERS) * 12
    # every session of the feed's last weeks, for every ticker
    assert report.layers["sentiment"].compared >= 20 * len(TICKERS) * len(checks.SENTIMENT_VALUES)
    assert report.layers["features"].compared > N_DATES * len(TICKERS) * len(checks.FEATURE_COLUMNS)
    # the stored predictions of AS_OF and the active model on every checked date
    assert report.predictions_compared >= len(TICKERS) * (N_DATES + 1)


PLANTS = [
    (plant_rsi_five_rows_ahead, "indicators", "AAA"),
    (plant_post_after_the_close, "sentiment", "AAA"),
    (plant_stored_feature, "features", "BBB"),
    (plant_stored_prediction, "predictions", "CCC"),
]


async def test_a_planted_leak_is_found_in_its_layer(pipeline_db):
    """One leak at a time (each in a savepoint rolled back after): the check names its layer first."""
    session = pipeline_db
    for plant, layer, ticker in PLANTS:
        savepoint = await session.begin_nested()
        await plant(session)
        report = await check(session)
        await savepoint.rollback()
        assert report.failing_layers and report.failing_layers[0] == layer, (plant.__name__, report.layers)
        found = [m for m in report.mismatches if m.layer == layer]
        assert {m.ticker for m in found} == {ticker}, found[:5]
        earlier = checks.LAYERS[: checks.LAYERS.index(layer)]
        assert not [m for m in report.mismatches if m.layer in earlier]  # upstream layers stay clean
    assert (await check(session)).mismatches == []  # and every plant was rolled back
