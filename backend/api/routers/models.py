"""The model registry: versions with out-of-sample metrics and baselines, and the active one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from backend.api.cache import cached
from backend.api.deps import ReadDep, SessionDep
from backend.api.pagination import Cursor, Limit, Page, decode_cursor, page
from backend.core.errors import NotFound
from backend.ml import registry as ml_registry
from backend.ml.schemas import ModelDetailRead, ModelRead

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=Page[ModelRead], summary="Model versions")
@cached
async def list_models(
    session: SessionDep, _: ReadDep, limit: Limit = 100, cursor: Cursor = None
) -> Page[ModelRead]:
    """Trained versions, newest first."""
    before = decode_cursor(cursor, int)
    rows = await ml_registry.list_page(
        session=session, before_id=before[0] if before else None, limit=limit + 1
    )
    rows, next_cursor = page(rows, limit, lambda m: (m.id,))
    return Page(items=[ModelRead.model_validate(m) for m in rows], next_cursor=next_cursor)


@router.get("/active", response_model=ModelDetailRead, summary="The active model")
@cached
async def active(session: SessionDep, _: ReadDep) -> ModelDetailRead:
    """The version predictions use; 404 before the first training."""
    model = await ml_registry.active_model(session=session)
    if model is None:
        raise NotFound("no active model yet: train one with `tft-trader train`")
    return ModelDetailRead.model_validate(model)


@router.get("/{version}", response_model=ModelDetailRead, summary="One model version")
@cached
async def get_model(
    version: Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9._:\-]+$")],
    session: SessionDep,
    _: ReadDep,
) -> ModelDetailRead:
    """A version with its metrics per member, the baselines, calibration and promotion decision."""
    return ModelDetailRead.model_validate(await ml_registry.get(session=session, version=version))
