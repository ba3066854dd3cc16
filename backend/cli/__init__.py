"""`tft-trader` command line: thin transport over the domain services (one module per area)."""

from __future__ import annotations

from typing import Annotated

import typer

from backend.cli.common import console, safe_url
from backend.cli.market import db_app, prices_app, prices_load_sample, tickers_app, tickers_seed
from backend.cli.ml import check_app, models_app
from backend.cli.ml import predict as predict_command
from backend.cli.ml import train as train_command
from backend.cli.portfolio import backtest, monitor, pipeline_app, pipeline_run, portfolio_app
from backend.cli.sentiment import reddit_app, reddit_load_sample, sentiment_app
from backend.cli.signals import signals_app
from backend.core.logging import configure_logging
from backend.core.settings import get_settings
from backend.db import migrate

app = typer.Typer(
    help="TFT Trader: swing-trading signals from Reddit sentiment, indicators and ML.", no_args_is_help=True
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


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    configure_logging("DEBUG" if verbose else get_settings().log_level)


DEMO_AS_OF = "2013-03-01"  # the last day of the bundled sample history


@app.command("demo")
def demo() -> None:
    """Everything on the embedded default: migrate, seed tickers, sample prices, synthetic Reddit feed,
    train the ensemble walk-forward (with its edge test: trusted or not), predict the last sample day and run
    the after-close pipeline on it, which shows the day's ranked candidates."""
    console.print(f"[bold]1/6[/bold] migrating {safe_url()}")
    migrate.upgrade()
    console.print("[bold]2/6[/bold] seeding the ticker universe")
    tickers_seed()
    console.print("[bold]3/6[/bold] loading the bundled sample history")
    prices_load_sample()
    console.print("[bold]4/6[/bold] loading the SYNTHETIC sample Reddit feed")
    reddit_load_sample()
    console.print(f"[bold]5/6[/bold] training the ensemble on data known at {DEMO_AS_OF}")
    train_command(tickers=None, as_of=DEMO_AS_OF)
    console.print(
        f"[bold]6/6[/bold] after-close pipeline for {DEMO_AS_OF}: predictions, paper portfolio, signals"
    )
    predict_command(as_of=DEMO_AS_OF, tickers=None, force=False)
    pipeline_run(as_of=DEMO_AS_OF, tickers=None, force=False)


def main() -> None:  # pragma: no cover
    app()


__all__ = ["app", "main"]
