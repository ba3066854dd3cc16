"""Builders for risk-manager inputs: a liquid, confident BUY and an empty 100k portfolio by default."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from backend.core.settings import RiskSettings
from backend.risk.schemas import Candidate, PortfolioState, Position

TRADE_DATE = date(2024, 7, 12)  # a Friday session


@pytest.fixture
def risk() -> RiskSettings:
    """The product's numbers, spelled out so an environment override cannot change what the tests expect."""
    return RiskSettings(
        min_confidence=0.70,
        max_position_pct=0.20,
        risk_per_trade_pct=0.02,
        max_stop_pct=0.05,
        min_target_pct=0.05,
        max_target_pct=0.10,
        min_reward_risk=2.0,
        atr_stop_multiple=2.0,
        max_positions=5,
        max_drawdown_pct=0.15,
        cooldown_days_after_stop=5,
        pause_after_stops=3,
        pause_window_days=10,
        max_sector_pct=0.30,
        min_avg_dollar_volume=5_000_000.0,
        regime_filter="raise_bar",
        regime_min_confidence=0.80,
        commission_per_trade=1.0,
        slippage_bps=5.0,
    )


@pytest.fixture
def make_candidate() -> Callable[..., Candidate]:
    def make(**changes: Any) -> Candidate:
        values: dict[str, Any] = {
            "ticker": "AAPL",
            "trade_date": TRADE_DATE,
            "signal": "BUY",
            "confidence": 0.85,
            "entry_price": 50.0,
            "atr_pct": 0.02,  # stop 2 x 2% = 4%, target 2 x 4% = 8%
            "sector": "Technology",
            "avg_dollar_volume_20d": 50_000_000.0,
            "market_above_sma200": True,
        }
        values.update(changes)
        return Candidate(**values)

    return make


@pytest.fixture
def make_position() -> Callable[..., Position]:
    def make(**changes: Any) -> Position:
        values: dict[str, Any] = {
            "ticker": "MSFT",
            "sector": "Technology",
            "shares": 100,
            "entry_price": 100.0,
            "entry_date": date(2024, 7, 8),
            "stop_price": 96.0,
            "target_price": 108.0,
        }
        values.update(changes)
        return Position(**values)

    return make


@pytest.fixture
def make_state() -> Callable[..., PortfolioState]:
    def make(**changes: Any) -> PortfolioState:
        values: dict[str, Any] = {
            "equity": 100_000.0,
            "cash": 100_000.0,
            "peak_equity": 100_000.0,
            "positions": (),
            "recent_stops": (),
            "kill_switch": False,
            "as_of": TRADE_DATE,
        }
        values.update(changes)
        return PortfolioState(**values)

    return make
