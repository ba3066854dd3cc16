"""Async engine and sessions. One engine per event loop: never share one across loops (Celery, tests)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from backend.core.settings import get_settings

T = TypeVar("T")

# Keyed by the loop object, not id(loop): a new loop can reuse a dead loop's id and would be handed an
# engine whose connections belong to the old loop. Weak keys drop the entry when a loop is collected.
_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncEngine]] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: the API can read while a worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Wait for a competing writer instead of failing at once with "database is locked".
    cursor.execute("PRAGMA busy_timeout=30000")
    # NORMAL is durable under WAL except across power loss; much faster bulk writes.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `url` with our per-dialect connection settings."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One file, few writers: pooling buys nothing and keeps file handles open across loops.
        kwargs["poolclass"] = NullPool
    else:
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def get_engine(url: str | None = None) -> AsyncEngine:
    """The engine for `url` (default: settings) on the running event loop."""
    settings = get_settings()
    url = url or settings.resolved_database_url
    per_loop = _engines.setdefault(asyncio.get_running_loop(), {})
    if url not in per_loop:
        per_loop[url] = create_engine(url, echo=settings.sql_echo)
    return per_loop[url]


async def dispose_engines() -> None:
    """Close the engines that belong to the running loop (call before the loop ends)."""
    for engine in _engines.pop(asyncio.get_running_loop(), {}).values():
        await engine.dispose()


def run_on_new_loop(flow: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The sync -> async bridge of every edge (CLI command, Celery task, demo, tests): `flow` on a fresh
    event loop, its engines disposed before the loop closes (an async engine never crosses loops)."""

    async def wrapper() -> T:
        try:
            return await flow()
        finally:
            await dispose_engines()

    return asyncio.run(wrapper())


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(url: str | None = None) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: commits when the block succeeds, rolls back when it raises."""
    async with session_factory(get_engine(url))() as session, session.begin():
        yield session
