"""`tft-trader demo`: a thin edge over `backend.pipeline.demo` (progress bars, the summary, then serve)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from backend.cli.common import console, err

if TYPE_CHECKING:
    from backend.pipeline.demo import DemoResult


class RichUI:
    """A rich progress bar per step (on stderr); notes printed above it."""

    @contextmanager
    def step(self, name: str, total: int | None) -> Iterator[Callable[[int], None]]:
        from backend.cli.common import progress_bar

        with progress_bar(name, total) as advance:
            yield advance

    def note(self, message: str) -> None:
        err.print(f"  {message}", highlight=False)


def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve on http://127.0.0.1:8000 at the end.")
    ] = True,
    db: Annotated[
        Path | None, typer.Option("--db", help="SQLite file to use (default: DATABASE_URL or ~/.tft-trader).")
    ] = None,
    tickers: Annotated[
        int | None, typer.Option("--tickers", min=5, help="Only the first N of the 505 tickers.")
    ] = None,
    sessions: Annotated[
        int | None, typer.Option("--sessions", min=20, help="Sessions replayed (default 504, ~2 years).")
    ] = None,
    build: Annotated[bool, typer.Option("--build/--no-build", help="Build the dashboard if missing.")] = True,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8000,
) -> None:
    """Everything on a fresh database: the real 505-stock history with sectors, the US ticker list, a
    SYNTHETIC Reddit feed, the ensemble trained walk-forward with its edge test, the last 2 years replayed
    with quarterly retraining beside the RSI / MACD rules and buy-and-hold, the dashboard, a read key;
    then a summary and the server on http://127.0.0.1:8000 (unless --no-serve)."""
    import logging

    from backend.core.settings import override_settings

    backend_log = logging.getLogger("backend")
    if backend_log.getEffectiveLevel() > logging.DEBUG:  # --verbose keeps every line
        # Per-fit INFO lines would scroll the progress bars away; the notes say what matters.
        backend_log.setLevel(logging.WARNING)
    changes: dict[str, Any] = {}
    if db is not None:
        changes["database_url"] = f"sqlite:///{db.expanduser().resolve()}"
    demo_changes = {k: v for k, v in (("tickers", tickers), ("replay_sessions", sessions)) if v is not None}
    if demo_changes:
        changes["demo"] = demo_changes
    with override_settings(**changes):
        from backend.pipeline import demo as demo_flow

        result = demo_flow.run_demo(RichUI(), build_dashboard=build)
        result.url = f"http://127.0.0.1:{port}"
        print_summary(result)
        if serve_after:
            from backend.cli.serve import serve

            # Bound to 127.0.0.1 only, reads need no key, so the dashboard opens straight away in this
            # machine's browser; the printed read key is for scripts, writes still need a write key.
            console.print(
                "the dashboard reads without a key on 127.0.0.1 (public read, this machine only); "
                "changes need a write key: tft-trader apikey create NAME --scope write"
            )
            with override_settings(api={"public_read": True}):
                serve(host="127.0.0.1", port=port, workers=1)


def print_summary(result: DemoResult) -> None:
    from backend.pipeline.demo_summary import summary_lines

    for line in summary_lines(result):
        console.print(line, highlight=False)
