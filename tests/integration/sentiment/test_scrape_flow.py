"""The hourly scrape flow: recorded Reddit at the HTTP boundary, real storage on both databases."""

import asyncio

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from backend.cli import app
from backend.db.engine import create_engine
from backend.pipeline import reddit as reddit_pipeline
from backend.sentiment.models import RedditPost, TickerMention
from tests.fakes.reddit import FakeReddit, make_client

both = pytest.mark.parametrize("fresh_db", ["sqlite", "postgresql"], indirect=True)
runner = CliRunner()


def count(url: str, model) -> int:
    async def go() -> int:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(select(func.count()).select_from(model))).scalar_one()
        finally:
            await engine.dispose()

    return asyncio.run(go())


@both
def test_scrape_stores_pages_and_a_rerun_fetches_nothing_new(fresh_db):
    server = FakeReddit()
    first = asyncio.run(
        reddit_pipeline.scrape(client=make_client(server, subreddits=["stocks", "wallstreetbets"]))
    )
    posts = count(fresh_db, RedditPost)
    assert first.stored.new_posts == posts > 10
    assert count(fresh_db, TickerMention) == first.stored.mentions > 0
    calls_first = len(server.listing_calls())

    again = asyncio.run(
        reddit_pipeline.scrape(client=make_client(server, subreddits=["stocks", "wallstreetbets"]))
    )
    assert again.stored.new_posts == 0
    assert again.stored.refreshed_posts > 0  # hot posts come back to refresh their counts
    assert count(fresh_db, RedditPost) == posts
    rerun_calls = server.listing_calls()[calls_first:]
    # The first page of r/stocks/new was all stored, so its second page was not fetched again.
    assert not [c for c in rerun_calls if c.params.get("after")]
    assert len(rerun_calls) == calls_first - 1


@both
def test_an_outage_keeps_what_was_stored_and_says_where_it_stopped(fresh_db):
    server = FakeReddit()
    server.fail(
        "/r/stocks/new", 500, {"message": "Internal Server Error", "error": 500}, after="t3_1dd2k9p", times=3
    )
    outcome = asyncio.run(reddit_pipeline.scrape(client=make_client(server, subreddits=["stocks"])))
    assert outcome.report.stopped_at == "r/stocks new, after t3_1dd2k9p"
    assert count(fresh_db, RedditPost) == outcome.stored.new_posts == 3


def test_scrape_without_credentials_names_the_settings_and_does_nothing(fresh_db, monkeypatch):
    monkeypatch.delenv("REDDIT__CLIENT_ID", raising=False)
    monkeypatch.delenv("REDDIT__CLIENT_SECRET", raising=False)
    result = runner.invoke(app, ["reddit", "scrape"])
    assert result.exit_code == 1
    assert "REDDIT__CLIENT_ID" in result.stderr and "REDDIT__CLIENT_SECRET" in result.stderr
    assert count(fresh_db, RedditPost) == 0


def test_analyze_prints_one_json_object_per_text(fresh_db):
    import json

    result = runner.invoke(app, ["sentiment", "analyze", "$AAPL to the moon 🚀🚀", "IT is ALL good for NVDA"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["tickers"] for r in rows] == [["AAPL"], ["NVDA"]]
    assert rows[0]["label"] == "bullish" and set(rows[0]) == {"text", "tickers", "compound", "label"}
    piped = runner.invoke(app, ["sentiment", "analyze"], input="MSFT paper hands dumping\n$ON puts\n")
    lines = [json.loads(line) for line in piped.stdout.splitlines()]
    assert [r["tickers"] for r in lines] == [["MSFT"], ["ON"]]
    assert lines[0]["label"] == "bearish"
