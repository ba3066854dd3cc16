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

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class CheckRead(BaseModel):
    ok: bool
    error: str | None = None


class ActiveModelRead(BaseModel):
    version: str
    as_of: date
    oos_score: float


class HealthRead(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="`degraded`: Redis is down (no events, no limits)")
    version: str
    database: CheckRead
    redis: CheckRead
    active_model: ActiveModelRead | None


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
    except (DBAPIError, OSError) as exc:
        log.warning("health: database unreachable: %s", exc)
        return error_response(
            503,
            "the database is unreachable",
            code="database_unavailable",
            details={"redis": redis.model_dump(), "version": app_version()},
        )
    active = (
        ActiveModelRead(version=model.version, as_of=model.as_of, oos_score=model.oos_score)
        if model
        else None
    )
    return HealthRead(
        status="ok" if redis.ok else "degraded",
        version=app_version(),
        database=CheckRead(ok=True),
        redis=redis,
        active_model=active,
    )
