"""Running service flows from synchronous tests the way the CLI does: one event loop per flow."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.engine import dispose_engines, transaction

T = TypeVar("T")


def run(flow: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """One flow on its own loop, its engines closed after (as the CLI does)."""

    async def wrapper() -> T:
        try:
            return await flow()
        finally:
            await dispose_engines()

    return asyncio.run(wrapper())


def in_db(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one committed transaction on the configured database."""

    async def flow() -> T:
        async with transaction() as session:
            return await work(session)

    return run(flow)
