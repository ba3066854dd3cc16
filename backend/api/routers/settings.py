"""Read-only settings: the risk rules the live portfolio runs with (the dashboard's Settings page)."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api.deps import ReadDep
from backend.core.settings import RiskSettings, get_settings
from backend.portfolio.schemas import CURRENCY

router = APIRouter(prefix="/settings", tags=["settings"])


class RiskSettingsRead(RiskSettings):
    """The risk settings in force (`RISK__FIELD` environment variables; fractions: 0.05 = 5%); money in
    `currency`."""

    currency: str = CURRENCY


@router.get("/risk", response_model=RiskSettingsRead, summary="Risk settings in force")
async def risk(_: ReadDep) -> RiskSettingsRead:
    """Confidence bar, position and risk limits, stops and targets, drawdown halt, costs: the values the
    live pipeline and the risk check use now. Change them with `RISK__...` variables and a restart."""
    return RiskSettingsRead(**get_settings().risk.model_dump())
