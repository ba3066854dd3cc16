"""Shared plumbing for the CLI: running async flows, consoles, progress bars, argument parsing.

Light at import time (typer and rich's console only): every command module imports this, and so does
`tft-trader --help`. SQLAlchemy, the engine and rich's progress bars are imported where they are used.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, TypeVar

import typer
from rich.console import Console

# soft_wrap: file paths and "file:line: problem" messages must stay on one line for editors and grep.
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def fail(message: object) -> typer.Exit:
    """Print a user-facing error; `raise fail(...)` exits with status 1."""
    from rich.markup import escape

    err.print(f"[red]error:[/red] {escape(str(message))}", highlight=False)
    return typer.Exit(1)


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one async flow on a fresh loop against a database that exists.

    A missing SQLite file is refused before anything connects (connecting would leave an empty file
    behind). Other failures propagate to the CLI's central handler (`backend.cli.errors`), which turns
    the expected ones into one line and keeps tracebacks for `--debug`.
    """
    from backend.cli.errors import require_database
    from backend.db.engine import run_on_new_loop

    require_database()
    return run_on_new_loop(coro_fn)


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields `advance(n)`. Validate the input before opening one."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def safe_url() -> str:
    """The database URL with its password masked."""
    from sqlalchemy.engine import make_url

    from backend.core.settings import get_settings

    return make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)


def parse_date(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{flag} {value!r} is not a date (YYYY-MM-DD)") from None


def check_range(first: date, last: date, *, first_flag: str = "--start", last_flag: str = "--end") -> None:
    """Refuse a reversed date range before any work (or progress bar) starts: one line, exit 1."""
    if last < first:
        raise fail(f"{last_flag} {last} is before {first_flag} {first}")


__all__ = [
    "check_range",
    "console",
    "err",
    "fail",
    "parse_date",
    "progress_bar",
    "run",
    "safe_url",
]
