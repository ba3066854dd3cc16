"""The CLI's one error handler: expected failures become one or two lines; tracebacks only with --debug.

`HandledGroup` wraps every command of `tft-trader`. `describe` maps the exception types we expect (the
app's own `TFTError`s, a database that is missing, unmigrated or unreachable, Alembic and file errors) to a
message that says what to do; anything else is a bug, reported in one line with a pointer to `--debug`.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from backend.core.errors import TFTError

UPGRADE_HINT = "run `tft-trader db upgrade` (empty schema) or `tft-trader demo` (sample data)"
_MISSING_TABLE = re.compile(r'no such table: (\w+)|relation "(\w+)" does not exist')
# SQLite: "no such column: tickers.market_cap", "table tickers has no column named market_cap";
# PostgreSQL: 'column tickers.market_cap does not exist', 'column "x" of relation "t" does not exist'.
_MISSING_COLUMN = re.compile(
    r"no such column: ([\w.]+)|has no column named (\w+)"
    r'|column "?([\w.]+)"? (?:of relation "\w+" )?does not exist'
)


class DatabaseMissing(TFTError):
    """The embedded SQLite database has not been created yet."""


def sqlite_path() -> Path | None:
    """The embedded database file, or None when DATABASE_URL points at a server (or at :memory:)."""
    from sqlalchemy.engine import make_url

    from backend.core.settings import get_settings

    url = make_url(get_settings().resolved_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def require_database() -> None:
    """Refuse to run against a SQLite file that does not exist: connecting would create an empty one."""
    path = sqlite_path()
    if path is not None and not path.exists():
        raise DatabaseMissing(f"no database at {path}: {UPGRADE_HINT}")


def _server() -> str:
    from sqlalchemy.engine import make_url

    from backend.cli.common import safe_url

    url = make_url(safe_url())
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    return f"{where} ({safe_url()})"


def _database_error(exc: Exception) -> str | None:
    """One line for SQLAlchemy/driver errors we understand, else None."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(exc, DBAPIError):
        return None
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc).splitlines()[0]
    missing = _MISSING_TABLE.search(detail)
    if missing:
        from backend.cli.common import safe_url

        table = missing.group(1) or missing.group(2)
        return (
            f"the database {safe_url()} has no table {table} (never migrated, or by an older version): "
            f"{UPGRADE_HINT}"
        )
    column = _MISSING_COLUMN.search(detail)
    if column:
        from backend.cli.common import safe_url

        name = next(g for g in column.groups() if g)
        return (
            f"the database schema is older than this version (no column {name} in {safe_url()}): "
            "run `tft-trader db upgrade`"
        )
    if "does not exist" in detail and "database" in detail:
        return f"cannot use the database at {_server()}: {detail}; create it or fix DATABASE_URL"
    if "password authentication failed" in detail or "authentication" in detail.lower():
        return f"the database at {_server()} refused the login: {detail}; check DATABASE_URL"
    if "database is locked" in detail:
        return "the SQLite database is locked by another process (a worker or a long command); retry later"
    return None


def describe(exc: BaseException) -> tuple[str, bool]:
    """A one-line message for `exc` and whether it was expected (False: a bug, suggest --debug)."""
    if isinstance(exc, TFTError):
        return str(exc), True
    if isinstance(exc, Exception):
        known = _database_error(exc)
        if known:
            return known, True
    server = sqlite_path() is None  # connection errors below can only be the database's on a server URL
    if server and isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to the database at {_server()}: connection refused; is it running?", True
    if server and isinstance(exc, TimeoutError):
        return f"cannot connect to the database at {_server()}: timed out", True
    if server and isinstance(exc, socket.gaierror):
        return f"cannot connect to the database at {_server()}: unknown host", True
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return str(exc), True
    from alembic.util import CommandError

    if isinstance(exc, CommandError):
        return f"migration failed: {exc}", True
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"unexpected {type(exc).__name__}{': ' + first if first else ''}", False


class HandledGroup(TyperGroup):
    """The root command group: runs the command and reports any failure through `describe`."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):  # usage errors and exits: typer's own
            raise
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            _print("interrupted; everything already committed is kept")
            raise typer.Exit(130) from None
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            message, expected = describe(exc)
            _print(message if expected else f"{message} (a bug: rerun with --debug for the traceback)")
            raise typer.Exit(1) from None


def _print(message: str) -> None:
    from backend.cli.common import fail

    fail(message)
