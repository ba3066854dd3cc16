"""Train, register, promote, predict and check for lookahead on the real databases (small models)."""

from datetime import date

import pytest
from sqlalchemy import select

from backend.core.calendar import previous_trading_day
from backend.core.errors import NotFound, ValidationFailed
from backend.core.settings import override_settings
from backend.market import service as market_service
from backend.market.providers import PriceBatch
from backend.ml import service as ml_service
from backend.ml.models import ModelVersion, Prediction
from backend.pipeline import checks
from backend.pipeline import ml as ml_pipeline
from tests.factories import make_bars

SMALL = {
    "xgb_n_estimators": 15, "lgbm_n_estimators": 15, "lstm_epochs": 1, "lstm_max_train_samples": 1500,
    "walk_forward_splits": 2, "validation_days": 40, "calibration_days": 60, "min_train_days": 150,
}  # fmt: skip
TICKERS = ["AAA", "BBB", "CCC"]
AS_OF = date(2016, 9, 30)  # the bundled S&P 500 (market regime) covers 1999-2018


@pytest.fixture
async def priced(session):
    for i, ticker in enumerate(TICKERS):
        bars = make_bars(ticker, n=700, seed=10 + i, vol=0.02, start=date(2014, 1, 2))
        await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    with override_settings(ml=SMALL):
        yield session


async def test_train_registers_promotes_and_predicts(priced):
    session = priced
    with pytest.raises(NotFound, match="no trained model"):
        await ml_pipeline.predict(session=session, as_of=AS_OF)
    first = await ml_pipeline.train(
        session=session, as_of=AS_OF, tickers=TICKERS, member_names=["xgboost", "lightgbm"]
    )
    # No active model: it goes live, either beating the prior or (on noise) for ranking only.
    assert first.promotion.promoted
    assert "no active model" in first.promotion.reason or "ranking only" in first.promotion.reason
    model = first.model
    assert model.is_active and model.train_end <= AS_OF and model.as_of == AS_OF
    quality = model.quality
    assert {"rank_ic", "rank_ic_t", "top_bucket", "all_candidates", "rsi_rule", "macd_rule"} <= set(quality)
    assert quality["log_loss"] > 0 and quality["prior_log_loss"] > 0 and 0 < quality["base_rate"] < 1
    assert model.trusted == (not quality["untrusted_reasons"])
    assert model.oos_score == pytest.approx(-quality["log_loss"])
    assert abs(sum(model.class_balance.values()) - 1) < 1e-9
    assert "missing" in " ".join(model.notes)  # LSTM left out: weights renormalised and recorded
    assert model.calibration["ece"] >= 0 and model.calibration["reliability"]
    assert set(model.outcome) == {"calibration", "payoffs", "base_rate"}

    outcome = await ml_pipeline.predict(session=session, as_of=AS_OF)
    assert outcome.predictions == 3
    rows = (await session.scalars(select(Prediction).where(Prediction.trade_date == AS_OF))).all()
    assert {r.ticker for r in rows} == set(TICKERS)
    for r in rows:
        assert 0 < r.confidence < 1 and r.confidence == pytest.approx(r.p_buy)
        assert r.p_sell == pytest.approx(1 - r.p_buy) and r.p_hold == 0.0
        assert r.expected_value is not None and r.signal in ("BUY", "HOLD", "SELL")
        assert len(r.contributions) == 5 and set(r.member_probabilities) == {"xgboost", "lightgbm"}


async def test_promotion_gate_keeps_a_better_active_model(priced):
    session = priced
    first = await ml_pipeline.train(session=session, as_of=AS_OF, tickers=TICKERS, member_names=["lightgbm"])
    first.model.oos_score = 10.0  # pretend the active model was unbeatable, and better than the prior
    first.model.quality = {**first.model.quality, "log_loss": 0.01}
    await session.flush()
    second = await ml_pipeline.train(session=session, as_of=AS_OF, tickers=TICKERS, member_names=["lightgbm"])
    assert not second.promotion.promoted
    assert second.promotion.active_version == first.model.version and second.promotion.active_score == 10.0
    assert second.model.promotion["promoted"] is False
    active = await ml_service.active_model(session=session)
    assert active.version == first.model.version
    versions = (await session.scalars(select(ModelVersion.version))).all()
    assert len(versions) == 2


async def test_stale_model_is_refused_unless_forced(priced):
    session = priced
    await ml_pipeline.train(
        session=session, as_of=date(2016, 6, 30), tickers=TICKERS, member_names=["xgboost"]
    )
    with pytest.raises(ValidationFailed, match="days old"):
        await ml_pipeline.predict(session=session, as_of=AS_OF)
    forced = await ml_pipeline.predict(session=session, as_of=AS_OF, force=True)
    assert forced.predictions == 3


async def test_a_model_trained_after_the_date_is_refused_even_forced(priced):
    # It learned from sessions after the one it would predict: that is lookahead, not staleness.
    session = priced
    await ml_pipeline.train(session=session, as_of=AS_OF, tickers=TICKERS, member_names=["xgboost"])
    earlier = previous_trading_day(AS_OF)
    for force in (False, True):
        with pytest.raises(ValidationFailed, match="would use the future"):
            await ml_pipeline.predict(session=session, as_of=earlier, force=force)


async def test_model_from_another_feature_set_is_refused(priced):
    session = priced
    outcome = await ml_pipeline.train(session=session, as_of=AS_OF, tickers=TICKERS, member_names=["xgboost"])
    outcome.model.feature_set_version = "v0"
    with pytest.raises(ValidationFailed, match="feature set v0"):
        await ml_service.load_ensemble(session=session, model=outcome.model)


async def test_unknown_tickers_and_single_class_are_clear_errors(priced):
    session = priced
    with pytest.raises(ValidationFailed, match="no stored prices for ZZZ"):
        await ml_pipeline.train(session=session, as_of=AS_OF, tickers=["AAA", "ZZZ"])
    flat = make_bars(
        "FLAT", n=400, seed=1, vol=0.0001, drift=0.0, start=date(2014, 1, 2)
    )  # never moves: every trade loses its costs
    await market_service.ingest(session=session, batch=PriceBatch("csv", flat))
    with pytest.raises(ValidationFailed, match="both winning and losing trades"):
        await ml_pipeline.train(session=session, as_of=date(2015, 7, 31), tickers=["FLAT"])


async def test_lookahead_check_finds_nothing_on_our_pipeline(priced):
    session = priced
    await ml_pipeline.train(session=session, as_of=AS_OF, tickers=TICKERS, member_names=["xgboost"])
    report = await checks.check_lookahead(session=session, tickers=TICKERS, end=AS_OF, n_dates=6)
    assert (
        len(report.dates_checked) == 6 and report.values_compared > 500 and report.predictions_compared >= 12
    )
    assert report.mismatches == []


async def test_predict_says_why_a_stored_ticker_gets_no_prediction(priced):
    session = priced
    await ml_pipeline.train(session=session, as_of=AS_OF, tickers=TICKERS, member_names=["xgboost"])
    young = make_bars("NEW", n=120, seed=7, vol=0.02, start=date(2016, 4, 1))
    young = young[young["trade_date"] <= AS_OF]
    await market_service.ingest(session=session, batch=PriceBatch("csv", young))
    outcome = await ml_pipeline.predict(session=session, as_of=AS_OF)
    assert outcome.predictions == 3
    assert outcome.skipped["NEW"].startswith(f"too little history: {len(young)} daily bars up to {AS_OF}")
