"""`tft-trader reddit` and `sentiment`: scraping, the synthetic sample feed, aggregation, ad-hoc analysis."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from backend.cli.common import check_range, console, err, fail, parse_date, progress_bar, run

if TYPE_CHECKING:
    from backend.pipeline import reddit as reddit_pipeline
    from backend.sentiment.ticker_index import TickerIndex

reddit_app = typer.Typer(help="Reddit scraping.", no_args_is_help=True)
sentiment_app = typer.Typer(help="Sentiment scores and daily aggregates.", no_args_is_help=True)


@reddit_app.command("scrape")
def reddit_scrape(
    subreddit: Annotated[
        list[str] | None, typer.Option("--subreddit", help="Repeatable; default: settings.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Most items read per listing.")] = None,
) -> None:
    """Scrape new and hot posts and top-level comments, score them and store them (resumable)."""
    from backend.pipeline import reddit as reddit_pipeline
    from backend.sentiment.reddit import RedditClient

    client = RedditClient()  # missing credentials fail here, before anything else

    async def flow() -> reddit_pipeline.ScrapeOutcome:
        return await reddit_pipeline.scrape(client=client, subreddits=subreddit, limit=limit)

    outcome = run(flow)
    report, stored = outcome.report, outcome.stored
    for name, listings in sorted(report.items.items()):
        console.print(f"r/{name}: " + ", ".join(f"{k} {v}" for k, v in sorted(listings.items())))
    console.print(
        f"stored {stored.new_posts} new, refreshed {stored.refreshed_posts}, "
        f"{stored.mentions} ticker mentions; "
        f"{report.requests_used}/{report.request_budget} requests"
    )
    for name, why in sorted(report.errors.items()):
        err.print(f"[yellow]r/{name}[/yellow]: {why}", highlight=False)
    if report.interrupted:
        raise fail(f"stopped early at {report.stopped_at}; everything before it is stored, rerun to resume")
    if report.budget_exhausted:
        err.print("request budget used up (REDDIT__MAX_REQUESTS_PER_RUN); the next run continues")


@reddit_app.command("load-sample")
def reddit_load_sample(
    start: Annotated[str, typer.Option(help="First day of the synthetic feed.")] = "2000-03-01",
    end: Annotated[str, typer.Option(help="Last day of the synthetic feed.")] = "2013-03-01",
) -> None:
    """Store the SYNTHETIC sample feed about the bundled tickers (offline demo; marked synthetic)."""
    from backend.core.calendar import trading_days
    from backend.db.engine import transaction
    from backend.market.providers import SampleProvider
    from backend.sentiment import sample_feed
    from backend.sentiment import service as sentiment_service

    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    assert first is not None and last is not None
    check_range(first, last)
    days = trading_days(first, last)
    if not days:
        raise typer.BadParameter(f"no NYSE session between {first} and {last}")
    items = sample_feed.generate(SampleProvider.SYMBOLS, days)

    async def flow() -> tuple[int, int]:
        stored = 0
        async with transaction() as session:
            known = await sentiment_service.known_tickers(session=session)
        with progress_bar("scoring synthetic posts", len(items)) as advance:
            for i in range(0, len(items), 5000):
                async with transaction() as session:
                    result = await sentiment_service.store_items(
                        session=session, items=items[i : i + 5000], known=known, synthetic=True
                    )
                stored += result.new_posts
                advance(len(items[i : i + 5000]))
        async with transaction() as session:
            daily = await sentiment_service.aggregate_daily(session=session, start=days[0], end=days[-1])
        return stored, daily.totals().total

    new, daily_rows = run(flow)
    console.print(f"synthetic feed: {new} new posts, {daily_rows} daily aggregate rows (marked synthetic)")


@sentiment_app.command("aggregate")
def sentiment_aggregate(
    day: Annotated[
        str | None, typer.Option("--date", help="Trading date (default: last completed session).")
    ] = None,
    days: Annotated[int, typer.Option(help="Also recompute this many sessions before it.")] = 0,
) -> None:
    """Recompute the daily per-ticker aggregates (mentions, score, 5-day average, trend, rank)."""
    from backend.core.calendar import last_completed_session, trading_days, utcnow
    from backend.db.engine import transaction
    from backend.sentiment import service as sentiment_service

    if days < 0:
        raise typer.BadParameter(f"--days {days}: must be 0 or more")
    end = parse_date(day, "--date") or last_completed_session()
    start = trading_days(date(end.year - 1, 1, 1), end)[-(days + 1)]

    async def flow() -> int:
        async with transaction() as session:
            result = await sentiment_service.aggregate_daily(session=session, start=start, end=end)
            await sentiment_service.mark_trending(session=session, now=utcnow())
        return result.totals().total

    console.print(f"sentiment_daily: {run(flow)} rows for {start}..{end}")


@sentiment_app.command("analyze")
def sentiment_analyze(
    texts: Annotated[list[str] | None, typer.Argument(help="Texts; none: one per line from stdin.")] = None,
) -> None:
    """Score texts and extract tickers; prints one JSON object per text."""
    from backend.core.settings import get_settings
    from backend.db import migrate
    from backend.db.engine import transaction
    from backend.sentiment import service as sentiment_service
    from backend.sentiment.extract import extract_tickers

    if get_settings().is_sqlite:
        migrate.upgrade()  # the embedded database manages its own schema

    async def flow() -> TickerIndex:
        async with transaction() as session:
            return await sentiment_service.known_tickers(session=session)

    known = run(flow)
    scorer = sentiment_service.default_scorer()
    lines = texts if texts else (line.rstrip("\n") for line in sys.stdin)
    for text in lines:
        compound, label = scorer.analyze(text)
        record = {
            "text": text,
            "tickers": extract_tickers(text, known),
            "compound": round(compound, 4),
            "label": label,
        }
        typer.echo(json.dumps(record, ensure_ascii=False))
