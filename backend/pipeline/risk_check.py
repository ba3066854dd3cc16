"""What-if: run a proposed trade through the risk manager against the live portfolio, writing nothing.

Spans market data (the ticker's ATR, liquidity and sector, the market regime), the live book and the risk
manager, so it lives with the other cross-domain flows. The same `risk.manager.evaluate` the daily
signals use decides; the API's `POST /risk/check` is a thin edge over `check`.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import trading_date_for, utcnow
from backend.core.errors import ValidationFailed
from backend.core.settings import get_settings
from backend.features.models import FeatureRow
from backend.market import service as market_service
from backend.market.models import StockPrice
from backend.portfolio import service as portfolio_service
from backend.portfolio.book import PaperBook
from backend.portfolio.models import LIVE_PORTFOLIO
from backend.risk.check_schemas import RiskCheckIn, RiskCheckRead
from backend.risk.manager import evaluate
from backend.risk.rules import DEFAULT_RULES, ConfidenceRule
from backend.risk.schemas import Candidate
from backend.signals.market import LIQUIDITY_WINDOW


async def check(*, session: AsyncSession, trade: RiskCheckIn) -> RiskCheckRead:
    """The risk manager's decision on `trade` as of the newest stored session; nothing is written."""
    settings = get_settings().risk
    ticker = await market_service.require_ticker(session=session, symbol=trade.ticker)
    portfolio = await portfolio_service.get_portfolio(session=session, name=LIVE_PORTFOLIO)
    book = (
        await portfolio_service.load_book(session=session, portfolio=portfolio, settings=settings)
        if portfolio is not None
        else PaperBook.new(settings)
    )
    bars = (
        await session.scalars(
            select(StockPrice)
            .where(StockPrice.ticker == ticker.symbol)
            .order_by(StockPrice.trade_date.desc())
            .limit(LIQUIDITY_WINDOW)
        )
    ).all()
    as_of = max(bars[0].trade_date if bars else trading_date_for(utcnow()), book.ledger.last_date or date.min)
    features = await session.scalar(
        select(FeatureRow.values)
        .where(FeatureRow.ticker == ticker.symbol, FeatureRow.trade_date <= as_of)
        .order_by(FeatureRow.trade_date.desc())
        .limit(1)
    )
    extra: list[tuple[str, str]] = []
    if trade.stop_price is not None:
        if trade.stop_price >= trade.entry_price:
            raise ValidationFailed(
                f"stop_price {trade.stop_price} must be below entry_price {trade.entry_price} (a long entry)"
            )
        stop_pct = 1.0 - trade.stop_price / trade.entry_price
        if stop_pct > settings.max_stop_pct + 1e-9:
            extra.append(
                (
                    "stop_too_wide",
                    f"stop {stop_pct:.2%} below the entry exceeds the {settings.max_stop_pct:.0%} limit",
                )
            )
        # Sizing derives the stop from ATR (stop = multiple x ATR%): feed it the ATR that gives this stop.
        atr_pct = stop_pct / settings.atr_stop_multiple
    else:
        atr = (features or {}).get("atr_pct")
        if not isinstance(atr, (int, float)) or atr != atr:
            raise ValidationFailed(
                f"no ATR stored for {ticker.symbol} (no features yet): pass stop_price to check this trade"
            )
        atr_pct = float(atr)
    adv = sum(b.close * b.volume for b in bars) / len(bars) if len(bars) >= LIQUIDITY_WINDOW else None
    regime = (features or {}).get("market_above_sma200")
    candidate = Candidate(
        ticker=ticker.symbol,
        trade_date=as_of,
        signal="BUY",
        confidence=trade.confidence if trade.confidence is not None else 1.0,
        entry_price=trade.entry_price,
        atr_pct=atr_pct,
        sector=ticker.sector,
        avg_dollar_volume_20d=adv,
        market_above_sma200=None
        if not isinstance(regime, (int, float)) or regime != regime
        else regime >= 0.5,
    )
    rules = DEFAULT_RULES
    skipped: list[str] = []
    if trade.confidence is None:
        rules = tuple(r for r in DEFAULT_RULES if not isinstance(r, ConfidenceRule))
        skipped.append(ConfidenceRule.code)
    state = book.state(as_of)
    decision = evaluate(candidate, state, settings, rules)
    reasons, messages = list(decision.reasons), list(decision.messages)
    for code, message in extra:
        reasons.append(code)
        messages.append(message)
    if trade.quantity is not None and trade.quantity > decision.shares:
        reasons.append("quantity_above_allowed")
        messages.append(f"{trade.quantity} shares asked for; the sizing rules allow {decision.shares}")
    return RiskCheckRead(
        ticker=ticker.symbol,
        trade_date=as_of,
        approved=not reasons,
        reasons=reasons,
        messages=messages,
        skipped_rules=skipped,
        entry_price=trade.entry_price,
        requested_quantity=trade.quantity,
        allowed_quantity=decision.shares,
        stop_price=decision.stop_price,
        target_price=decision.target_price,
        stop_pct=decision.stop_pct,
        target_pct=decision.target_pct,
        reward_risk=decision.reward_risk,
        position_value=decision.position_value,
        position_pct=decision.position_pct,
        risk_amount=decision.risk_amount,
        limited_by=decision.limited_by,
        equity=state.equity,
        cash=state.cash,
        open_positions=len(state.positions),
        kill_switch=state.kill_switch,
    )
