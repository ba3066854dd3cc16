"""Reading the model registry: the active version, one version, the list (light imports, for the API)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.errors import NotFound
from backend.ml.models import ModelVersion


async def active_model(*, session: AsyncSession) -> ModelVersion | None:
    """The model predictions use (None before the first training)."""
    return await session.scalar(select(ModelVersion).where(ModelVersion.is_active.is_(True)))


async def get(*, session: AsyncSession, version: str) -> ModelVersion:
    model = await session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if model is None:
        raise NotFound(f"no model version {version!r}; `tft-trader models list` shows the versions")
    return model


async def list_models(*, session: AsyncSession) -> Sequence[ModelVersion]:
    return (await session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))).all()


async def list_page(
    *, session: AsyncSession, before_id: int | None = None, limit: int = 100
) -> list[ModelVersion]:
    """Model versions newest first, before the cursor id."""
    query = select(ModelVersion)
    if before_id is not None:
        query = query.where(ModelVersion.id < before_id)
    return list((await session.scalars(query.order_by(ModelVersion.id.desc()).limit(limit))).all())
