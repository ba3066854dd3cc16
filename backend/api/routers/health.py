"""`GET /api/v1/health`: database and Redis reachability, version, active model. No key needed."""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from backend.api import ratelimit
from backend.api.errors import ErrorResponse, error_response
from backend.core.settings import get_settings
from backend.core.version import app_version
from backend.db.engine import get_engine, session_factory
from backend.ml import registry as ml_registry
from backend.pipeline import runs as runs_service
from backend.pipeline.schemas import PipelineRunRead

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class CheckRead(BaseModel):
    ok: bool
    error: str | None = None


class ActiveModelRead(BaseModel):
    version: str
    as_of: date
    oos_score: float
    trusted: bool = Field(
        description="whether the model showed an out-of-sample edge; an untrusted model makes no signals"
    )
    untrusted_reasons: list[str] = Field(description="why it is not trusted (empty when it is)")


class HealthRead(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="`degraded`: Redis is down (no events, no limits)")
    version: str
    database: CheckRead
    redis: CheckRead
    active_model: ActiveModelRead | None = Field(description="null before the first training")
    last_runs: list[PipelineRunRead] = Field(
        description="each pipeline step's newest run (prices, features, predictions, signals, monitor, ...)"
    )


async def _check_redis(request: Request) -> CheckRead:
    timeout = get_settings().api.redis_timeout_seconds
    try:
        await asyncio.wait_for(ratelimit.redis_client(request).ping(), timeout)
        return CheckRead(ok=True)
    except (RedisError, OSError, TimeoutError) as exc:
        return CheckRead(ok=False, error=f"{type(exc).__name__}: {exc}"[:200])


@router.get(
    "/health",
    response_model=HealthRead,
    summary="Service health",
    responses={503: {"model": ErrorResponse, "description": "the database is unreachable"}},
)
async def health(request: Request) -> HealthRead | JSONResponse:
    """`ok`, or `degraded` (200) when Redis is down; 503 when the database is unreachable."""
    redis = await _check_redis(request)
    try:
        async with session_factory(get_engine())() as session:
            await session.execute(select(1))
            model = await ml_registry.active_model(session=session)
            last_runs = [
                PipelineRunRead.model_validate(r) for r in await runs_service.last_per_task(session=session)
            ]
    except (DBAPIError, OSError) as exc:
        log.warning("health: database unreachable: %s", exc)
        return error_response(
            503,
            "the database is unreachable",
            code="database_unavailable",
            details={"redis": redis.model_dump(), "version": app_version()},
        )
    active = None
    if model is not None:
        reasons = (model.quality or {}).get("untrusted_reasons") or []
        if not model.trusted and not reasons:
            reasons = ["no edge test recorded for this model: retrain it (`tft-trader train`)"]
        active = ActiveModelRead(
            version=model.version,
            as_of=model.as_of,
            oos_score=model.oos_score,
            trusted=bool(model.trusted),
            untrusted_reasons=[] if model.trusted else [str(r) for r in reasons],
        )
    return HealthRead(
        status="ok" if redis.ok else "degraded",
        version=app_version(),
        database=CheckRead(ok=True),
        redis=redis,
        active_model=active,
        last_runs=last_runs,
    )
