"""Shared plumbing for the CLI: running async flows, consoles, progress bars, argument parsing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from backend.core.errors import TFTError
from backend.core.settings import get_settings
from backend.db.engine import dispose_engines

# soft_wrap: file paths and "file:line: problem" messages must stay on one line for editors and grep.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def fail(message: object) -> typer.Exit:
    """Print a user-facing error; `raise fail(...)` exits with status 1."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(1)


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one async flow on a fresh loop; user-facing errors become a red message and exit code 1."""

    async def wrapper() -> T:
        try:
            return await coro_fn()
        finally:
            await dispose_engines()

    try:
        return asyncio.run(wrapper())
    except TFTError as exc:
        raise fail(exc) from None


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields `advance(n)`."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def safe_url() -> str:
    return make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)


def parse_date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{flag} {value!r} is not a date (YYYY-MM-DD)") from None
