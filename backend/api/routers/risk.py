"""`POST /api/v1/risk/check`: would the risk manager take this trade? Nothing is written."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import ReadDep, SessionDep
from backend.pipeline import risk_check
from backend.risk.check_schemas import RiskCheckIn, RiskCheckRead

router = APIRouter(prefix="/risk", tags=["risk"])


@router.post("/check", response_model=RiskCheckRead, summary="Check a proposed trade")
async def check(trade: RiskCheckIn, session: SessionDep, _: ReadDep) -> RiskCheckRead:
    """Every rule against the live portfolio: approved or rejected with each failing rule's reason and the
    allowed quantity. A read (no write key needed): it changes nothing."""
    return await risk_check.check(session=session, trade=trade)
