"""`tft-trader` command line: thin transport over the domain services (one module per area).

Keep it fast to start: `tft-trader --help`, `--version` and quick commands must not pay for torch, xgboost,
lightgbm, scikit-learn, scipy, yfinance, pandas-ta or shap (seconds each). The pattern, for every module in
`backend/cli/`:

- at module level import only typer, `backend.cli.common` and light `backend.core` pieces (errors,
  settings); typer needs the command signatures for `--help`, nothing else;
- import services, pandas, SQLAlchemy and providers inside the command function that uses them::

      @prices_app.command("check")
      def prices_check(tickers: TickersOpt = None) -> None:
          \"\"\"Flag suspicious bars.\"\"\"
          from backend.market import quality  # heavy: imported only when the command runs

          report = run(lambda: quality.check(...))

- validate arguments before opening a progress bar or a database (`common.parse_date`, `check_range`);
- let errors propagate: `errors.HandledGroup` prints expected ones (`TFTError`s, database not
  migrated or unreachable, ...) in one line and exits 1; `--debug` shows the traceback instead;
- register a sub-app here with one `app.add_typer(...)` line.

`tests/unit/cli/test_cli_imports.py` fails when a heavy module is imported by `import backend.cli`.
"""

from __future__ import annotations

import warnings
from importlib import metadata
from typing import Annotated

import typer

from backend.cli import price_data  # noqa: F401  (registers prices check/exclude/include/split/load-history)
from backend.cli.demo import demo
from backend.cli.errors import HandledGroup
from backend.cli.market import db_app, prices_app, tickers_app
from backend.cli.ml import check_app, models_app
from backend.cli.ml import predict as predict_command
from backend.cli.ml import train as train_command
from backend.cli.notify import notify_app
from backend.cli.portfolio import backtest, monitor, pipeline_app, portfolio_app
from backend.cli.sentiment import reddit_app, sentiment_app
from backend.cli.serve import apikey_app, serve
from backend.cli.signals import signals_app
from backend.cli.tasks import enqueue, runs_app, schedule_command

app = typer.Typer(
    cls=HandledGroup,
    help="TFT Trader: swing-trading signals from Reddit sentiment, indicators and ML.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db_app, name="db")
app.add_typer(tickers_app, name="tickers")
app.add_typer(prices_app, name="prices")
app.add_typer(reddit_app, name="reddit")
app.add_typer(sentiment_app, name="sentiment")
app.add_typer(models_app, name="models")
app.add_typer(check_app, name="check")
app.command("train")(train_command)
app.command("predict")(predict_command)
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(portfolio_app, name="portfolio")
app.add_typer(signals_app, name="signals")
app.command("monitor")(monitor)
app.command("backtest")(backtest)
app.add_typer(notify_app, name="notify")
app.command("schedule")(schedule_command)
pipeline_app.command("enqueue")(enqueue)
app.add_typer(runs_app, name="runs")
app.command("serve")(serve)
app.add_typer(apikey_app, name="apikey")
app.command("demo")(demo)


def version() -> str:
    """The installed package's version (from its metadata)."""
    try:
        return metadata.version("tft-trader")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tft-trader {version()}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    _version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    from backend.core.logging import configure_logging
    from backend.core.settings import get_settings

    configure_logging("DEBUG" if verbose else get_settings().log_level)
    if not (debug or verbose):
        # Libraries' deprecation notices (yfinance, pandas) are for the maintainers, not for the user.
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)


def main() -> None:  # pragma: no cover
    app()


__all__ = ["app", "main"]
