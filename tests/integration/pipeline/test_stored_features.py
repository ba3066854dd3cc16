"""The daily chain's predictions and signals read the features the features step stored for the date
instead of rebuilding them: same rows as the rebuild, and a rebuild whenever the stored rows cannot stand in.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from backend.core.calendar import trading_days
from backend.core.settings import override_settings
from backend.features import service as feature_service
from backend.features.models import FeatureRow
from backend.market.models import StockPrice
from backend.ml.members.lgbm import LightGBMMember
from backend.ml.models import Prediction
from backend.pipeline import daily
from backend.pipeline import ml as ml_pipeline
from tests.flows import SMALL_MODEL, in_db, run, sample_with_model

runner = CliRunner()
postgres = pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
SMALL = SMALL_MODEL
TICKERS = ["AAPL", "MSFT"]
D1, D2 = trading_days(date(2012, 6, 29), date(2012, 7, 2))


@pytest.fixture
def stored_db(fresh_db: str) -> Iterator[str]:
    """Sample prices, the synthetic feed, a small model trained at D1, and D2's features stored by the
    features step (every sample ticker, so the cross-sectional ranks rank more than two)."""
    with override_settings(ml=SMALL):
        version = sample_with_model(as_of=D1, tickers=TICKERS).model.version
        run(lambda: daily.aggregate_sentiment(as_of=D2))
        assert run(lambda: daily.build_features(as_of=D2)).rows >= 3
        yield version


class Rebuilt(Exception):
    pass


def predictions() -> list[tuple[Any, ...]]:
    async def work(session: AsyncSession) -> list[tuple[Any, ...]]:
        rows = await session.scalars(select(Prediction).order_by(Prediction.ticker))
        return [
            (p.ticker, p.trade_date, p.model_version, p.p_buy, p.signal, p.confidence, p.expected_value,
             p.member_probabilities, p.contributions)
            for p in rows
        ]  # fmt: skip

    return in_db(work)


def predict(*, stored: bool) -> ml_pipeline.PredictOutcome:
    async def work(session: AsyncSession) -> ml_pipeline.PredictOutcome:
        return await ml_pipeline.predict(session=session, as_of=D2, stored_features=stored)

    return in_db(work)


def market(*, stored: bool) -> dict[date, Any]:
    async def work(session: AsyncSession) -> dict[date, Any]:
        tickers = await ml_pipeline.resolve_tickers(session=session, tickers=None, end=D2)
        return await daily.load_market(
            session=session, tickers=tickers, start=D2, end=D2, stored_features=stored
        )

    return in_db(work)


@postgres
def test_predictions_and_market_day_from_stored_features_equal_the_rebuild(
    stored_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rebuilt = predict(stored=False)
    rebuilt_rows = predictions()
    rebuilt_market = market(stored=False)
    assert rebuilt.predictions >= 3 and len(rebuilt_rows) == rebuilt.predictions

    async def clear(session: AsyncSession) -> None:
        await session.execute(delete(Prediction))

    in_db(clear)

    async def refuse(**_: Any) -> None:
        raise Rebuilt("the features were rebuilt")

    monkeypatch.setattr(feature_service, "load_inputs", refuse)
    stored = predict(stored=True)
    assert (stored.model_version, stored.predictions, stored.skipped) == (
        rebuilt.model_version,
        rebuilt.predictions,
        rebuilt.skipped,
    )
    assert predictions() == rebuilt_rows  # bit for bit, SHAP drivers included
    from_store = market(stored=True)
    assert list(from_store) == [D2]
    assert from_store[D2].rows.keys() == rebuilt_market[D2].rows.keys()
    for ticker, row in rebuilt_market[D2].rows.items():
        mine = from_store[D2].rows[ticker]
        assert mine.keys() == row.keys()
        differ = [k for k, v in row.items() if k not in ("adv_20d", "atr_pct") and not _same(mine[k], v)]
        assert differ == [], ticker
        # The 20-day dollar volume is a rolling mean started on fewer bars: equal up to float rounding.
        assert mine["adv_20d"] == pytest.approx(row["adv_20d"], rel=1e-12), ticker
        # ATR is a recursive (Wilder) average: its value depends on the first bar loaded, and the features
        # step loads from a few weeks earlier than the rebuild here; both start 260+ sessions back.
        assert mine["atr_pct"] == pytest.approx(row["atr_pct"], rel=1e-8), ticker


@postgres
def test_a_model_reading_history_rebuilds_the_features(
    stored_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sequence member (the LSTM) reads earlier sessions' features too: one stored day is not enough.
    monkeypatch.setattr(LightGBMMember, "uses_history", True)

    async def refuse(**_: Any) -> None:
        raise Rebuilt("the features were rebuilt")

    monkeypatch.setattr(feature_service, "load_inputs", refuse)
    with pytest.raises(Rebuilt):
        predict(stored=True)
    monkeypatch.setattr(LightGBMMember, "uses_history", False)
    assert predict(stored=True).predictions >= 3  # the same stored rows, read once no member needs history


@postgres
def test_incomplete_or_outdated_stored_features_are_rebuilt(stored_db: str) -> None:
    tickers = ["AAPL", "MSFT"]

    def stored_day() -> feature_service.StoredDay | None:
        async def work(session: AsyncSession) -> feature_service.StoredDay | None:
            return await feature_service.stored_day(session=session, tickers=tickers, day=D2)

        return in_db(work)

    complete = stored_day()
    assert complete is not None and sorted(complete.features["ticker"]) == tickers

    # A price re-fetched after the features were stored: they may be stale.
    async def refetch(session: AsyncSession) -> None:
        await session.execute(
            update(StockPrice)
            .where(StockPrice.ticker == "MSFT", StockPrice.trade_date == D1)
            .values(volume=StockPrice.volume + 1)
        )

    in_db(refetch)
    assert stored_day() is None
    run(lambda: daily.build_features(as_of=D2))  # the features step again: fresh rows
    assert stored_day() is not None

    # A ticker with a bar that day but no stored row: a rebuild, not a silently missing prediction.
    async def drop(session: AsyncSession) -> None:
        await session.execute(delete(FeatureRow).where(FeatureRow.ticker == "MSFT"))

    in_db(drop)
    assert stored_day() is None
    rebuilt = predict(stored=True)
    assert rebuilt.predictions >= 3 and "MSFT" not in rebuilt.skipped


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN (an undefined value on both sides)."""
    nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return bool(nan or a == b)


@pytest.mark.parametrize("fresh_db", ["sqlite"], indirect=True)
def test_sqlite_always_rebuilds(stored_db: str) -> None:
    # Its one-second timestamps cannot tell a price written just after the features from one just before.
    def stored_day() -> feature_service.StoredDay | None:
        async def work(session: AsyncSession) -> feature_service.StoredDay | None:
            return await feature_service.stored_day(session=session, tickers=["AAPL", "MSFT"], day=D2)

        return in_db(work)

    assert stored_day() is None
    assert predict(stored=True).predictions >= 3
