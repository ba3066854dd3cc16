"""Alembic environment: async engine, batch mode on SQLite, URL from settings (or -x url=... / config)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import backend.auth.models
import backend.backtest.models
import backend.features.models
import backend.market.models
import backend.ml.models
import backend.notify.models
import backend.pipeline.models
import backend.portfolio.models
import backend.sentiment.models
import backend.signals.models  # noqa: F401
from backend.core.settings import get_settings, normalize_database_url
from backend.db.base import Base
from backend.db.engine import create_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    return normalize_database_url(url) if url else get_settings().resolved_database_url


def _configure(connection: Connection | None = None, **kwargs: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode recreates the table instead.
        render_as_batch=True,
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_offline() -> None:
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:  # called from code that already holds a connection
        _run_sync(connection)
    else:
        asyncio.run(run_online())
