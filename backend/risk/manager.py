"""The risk manager: every rule plus sizing for one candidate, or a day's candidates against one portfolio."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from backend.core.calendar import next_trading_day
from backend.core.errors import ValidationFailed
from backend.core.settings import RiskSettings, get_settings
from backend.risk.rules import DEFAULT_RULES, RiskRule
from backend.risk.schemas import Candidate, Decision, PortfolioState, Position
from backend.risk.sizing import entry_cost, size_position


def drawdown(state: PortfolioState) -> float:
    """1 - equity / peak_equity (0 at or above the peak)."""
    return state.drawdown


def update_kill_switch(state: PortfolioState, settings: RiskSettings | None = None) -> PortfolioState:
    """Latch the kill switch once drawdown passes `max_drawdown_pct`; it stays set until a user resets it."""
    settings = settings or get_settings().risk
    if state.kill_switch or state.drawdown <= settings.max_drawdown_pct + 1e-12:
        return state
    return state.model_copy(update={"kill_switch": True})


def reset_kill_switch(state: PortfolioState) -> PortfolioState:
    """A user's reset: clear the kill switch and start a new high-water mark at today's equity.

    Rebasing the peak is what makes the reset mean something: in cash the equity cannot recover by itself,
    so without it the drawdown halt would block entries forever.
    """
    return state.model_copy(update={"kill_switch": False, "peak_equity": max(state.equity, 1e-9)})


def evaluate(
    candidate: Candidate,
    state: PortfolioState,
    settings: RiskSettings | None = None,
    rules: Sequence[RiskRule] = DEFAULT_RULES,
) -> Decision:
    """Run every rule and size the trade; the decision lists all failing reasons, not just the first.

    Only BUY signals are entries: HOLD and SELL come back rejected with "not_a_buy" (the position monitor,
    not the risk manager, acts on exits).
    """
    settings = settings or get_settings().risk
    if state.as_of > candidate.trade_date:
        raise ValidationFailed(
            f"portfolio state as of {state.as_of.isoformat()} is later than the candidate's trade date "
            f"{candidate.trade_date.isoformat()} ({candidate.ticker}): that would use the future"
        )
    base = {
        "ticker": candidate.ticker,
        "trade_date": candidate.trade_date,
        "signal": candidate.signal,
        "confidence": candidate.confidence,
        "entry_price": candidate.entry_price,
    }
    if candidate.signal != "BUY":
        return Decision(
            **base,
            approved=False,
            reasons=["not_a_buy"],
            messages=[f"{candidate.signal} is not an entry signal"],
        )

    reasons: list[str] = []
    messages: list[str] = []
    notes: list[str] = []
    for rule in rules:
        result = rule.check(candidate, state, settings)
        if not result.passed:
            reasons.append(result.code)
            messages.append(result.message)
        elif result.message:
            notes.append(result.message)
    sizing = size_position(candidate, state, settings)
    for code, message in sizing.problems:
        reasons.append(code)
        messages.append(message)

    return Decision(
        **base,
        approved=not reasons,
        reasons=reasons,
        messages=messages,
        notes=notes,
        shares=sizing.shares,
        position_value=sizing.position_value,
        position_pct=sizing.position_pct,
        stop_price=sizing.stop_price,
        target_price=sizing.target_price,
        stop_pct=sizing.stop_pct,
        target_pct=sizing.target_pct,
        risk_amount=sizing.risk_amount,
        reward_risk=sizing.reward_risk,
        limited_by=sizing.limited_by,
    )


def apply_entry(
    state: PortfolioState,
    candidate: Candidate,
    decision: Decision,
    settings: RiskSettings | None = None,
) -> PortfolioState:
    """The state after taking an approved decision: its cost leaves the cash and the position is held.

    Equity stays the session's marked figure (the estimated costs are small and are not booked until the
    fill), so every candidate of a day is sized off the same equity.
    """
    settings = settings or get_settings().risk
    if not decision.approved or decision.shares <= 0:
        raise ValidationFailed(f"{decision.ticker}: only an approved decision with shares can be applied")
    if decision.stop_price is None or decision.target_price is None:
        raise ValidationFailed(f"{decision.ticker}: an approved decision must carry stop and target prices")
    position = Position(
        ticker=candidate.ticker,
        sector=candidate.sector,
        shares=decision.shares,
        entry_price=candidate.entry_price,
        entry_date=next_trading_day(candidate.trade_date),
        stop_price=decision.stop_price,
        target_price=decision.target_price,
    )
    return state.model_copy(
        update={
            "cash": state.cash - entry_cost(decision.shares, candidate.entry_price, settings),
            "positions": (*state.positions, position),
        }
    )


def evaluate_many(
    candidates: Iterable[Candidate],
    state: PortfolioState,
    settings: RiskSettings | None = None,
    rules: Sequence[RiskRule] = DEFAULT_RULES,
) -> list[Decision]:
    """Evaluate a day's candidates most-confident first, each against the portfolio left by the ones before.

    Approvals update a working copy of the state (cash, positions and so sector exposure), so the day's
    approvals together respect the position, cash and sector caps. Decisions come back in that order
    (confidence descending, ties by ticker); `state` itself is not modified.
    """
    settings = settings or get_settings().risk
    ordered = sorted(candidates, key=lambda c: (-c.confidence, c.ticker))
    working = state
    decisions: list[Decision] = []
    for candidate in ordered:
        decision = evaluate(candidate, working, settings, rules)
        if decision.approved:
            working = apply_entry(working, candidate, decision, settings)
        decisions.append(decision)
    return decisions
