"""Logging set-up shared by the CLI, the API and the workers."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


def configure_logging(level: str = "INFO") -> None:
    """Human-readable logs on stderr; noisy libraries quietened."""
    logging.basicConfig(
        level=level.upper(),
        format="%(name)s: %(message)s",
        datefmt="[%X]",
        # stderr: stdout is for command output (JSON lines, tables) that scripts parse.
        handlers=[RichHandler(console=Console(stderr=True), rich_tracebacks=True, show_path=False)],
        force=True,
    )
    # pandas-ta warns on every series shorter than an indicator's window; we store NULL for those.
    logging.getLogger("pandas_ta_classic").setLevel(logging.ERROR)
    for noisy in ("yfinance", "peewee", "urllib3", "asyncio", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The Yahoo provider captures yfinance's per-ticker failures and reports them itself, once.
    logging.getLogger("yfinance").propagate = False
