"""Running service flows from synchronous tests the way the CLI does: one event loop per flow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.engine import run_on_new_loop, transaction

T = TypeVar("T")


def run(flow: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """One flow on its own loop, its engines closed after (as the CLI and the tasks do)."""
    return run_on_new_loop(flow)


def in_db(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """`work` in one committed transaction on the configured database."""

    async def flow() -> T:
        async with transaction() as session:
            return await work(session)

    return run(flow)
