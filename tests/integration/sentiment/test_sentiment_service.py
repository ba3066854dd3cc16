"""Sentiment storage and aggregation on the real databases."""

from dataclasses import replace
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from backend.core.calendar import ET, UTC
from backend.core.settings import override_settings
from backend.market import service as market_service
from backend.market.models import Ticker
from backend.sentiment import sample_feed
from backend.sentiment import service as sentiment_service
from backend.sentiment.models import RedditPost, SentimentDaily, TickerMention
from backend.sentiment.reddit import RedditItem

KNOWN = frozenset({"AAPL", "MSFT", "NVDA", "ON", "TSLA"})


def post(rid: str, when: datetime, title: str, body: str = "", score: int = 10, **kw) -> RedditItem:
    fields = dict(
        reddit_id=rid,
        kind="post",
        subreddit="wallstreetbets",
        title=title,
        body=body,
        author="u1",
        score=score,
        num_comments=3,
        upvote_ratio=0.9,
        url=None,
        permalink=f"https://www.reddit.com/{rid}",
        created_at=when.astimezone(UTC),
        parent_id=None,
        removed=False,
    )
    fields.update(kw)
    return RedditItem(**fields)


async def mentions_of(session, ticker):
    rows = await session.execute(
        select(TickerMention.trading_date, TickerMention.sentiment).where(TickerMention.ticker == ticker)
    )
    return rows.all()


async def test_store_is_deduplicated_and_only_refreshes_counts(session):
    items = [
        post("t3_a", datetime(2024, 11, 20, 10, tzinfo=ET), "AAPL to the moon 🚀🚀", "Loading calls"),
        post("t3_b", datetime(2024, 11, 20, 11, tzinfo=ET), "$ON and NVDA", "Both look weak, buying puts"),
    ]
    first = await sentiment_service.store_items(session=session, items=items, known=KNOWN)
    assert (first.new_posts, first.refreshed_posts, first.mentions) == (2, 0, 3)
    again = [replace(items[0], score=999, title="edited title should not replace the stored one"), items[1]]
    second = await sentiment_service.store_items(session=session, items=again, known=KNOWN)
    assert (second.new_posts, second.refreshed_posts, second.mentions) == (0, 2, 0)
    stored = (await session.execute(select(RedditPost).where(RedditPost.reddit_id == "t3_a"))).scalar_one()
    await session.refresh(stored)
    assert stored.score == 999 and stored.title == "AAPL to the moon 🚀🚀"
    assert stored.label == "bullish"
    assert (await session.execute(select(func.count()).select_from(TickerMention))).scalar_one() == 3


async def test_posts_after_the_close_count_for_the_next_session(session):
    friday_evening = datetime(2024, 11, 22, 16, 30, tzinfo=ET)
    wednesday_night = datetime(2024, 11, 27, 21, 0, tzinfo=ET)  # Thanksgiving Thursday closed
    black_friday_afternoon = datetime(2024, 11, 29, 13, 30, tzinfo=ET)  # after the 13:00 half-day close
    items = [
        post("t3_f", friday_evening, "TSLA is great"),
        post("t3_w", wednesday_night, "TSLA is great"),
        post("t3_h", black_friday_afternoon, "TSLA is great"),
    ]
    await sentiment_service.store_items(session=session, items=items, known=KNOWN)
    dates = sorted(d for d, _ in await mentions_of(session, "TSLA"))
    assert dates == [date(2024, 11, 25), date(2024, 11, 29), date(2024, 12, 2)]


async def test_removed_and_odd_posts_do_not_crash(session):
    items = [
        post(
            "t3_del",
            datetime(2024, 11, 20, 10, tzinfo=ET),
            "MSFT earnings",
            "[removed]",
            removed=True,
            author=None,
        ),
        post("t3_empty", datetime(2024, 11, 20, 10, tzinfo=ET), "", ""),
        post("t3_long", datetime(2024, 11, 20, 10, tzinfo=ET), "NVDA", "great " * 200_000),
        post(
            "t3_emoji", datetime(2024, 11, 20, 10, tzinfo=ET), "🚀🚀🚀 $tsla 💎🙌", "\ud83d broken surrogate"
        ),
    ]
    result = await sentiment_service.store_items(session=session, items=items, known=KNOWN)
    assert result.new_posts == 4
    removed = (await session.execute(select(RedditPost).where(RedditPost.reddit_id == "t3_del"))).scalar_one()
    assert removed.compound == 0.0 and removed.label == "neutral"
    assert [d for d, _ in await mentions_of(session, "MSFT")] == [date(2024, 11, 20)]


async def test_daily_aggregates_match_hand_computed_values(session):
    # AAA on four sessions (Mon 18, Tue 19, Thu 21, Fri 22 Nov 2024; nothing on Wed 20), BBB on Fri only.
    await market_service.ensure_tickers(session=session, symbols=["AAA", "BBB"], source="import")
    plan = {
        date(2024, 11, 18): ["AAA is great, very bullish", "AAA terrible, awful, bearish"],
        date(2024, 11, 19): ["AAA is great"],
        date(2024, 11, 21): ["AAA is awful"],
        date(2024, 11, 22): ["AAA", "AAA", "AAA and BBB are great"],
    }
    items, n = [], 0
    for day, texts in plan.items():
        for text in texts:
            n += 1
            items.append(
                post(f"t3_{n}", datetime.combine(day, datetime.min.time(), tzinfo=ET).replace(hour=10), text)
            )
    known = frozenset({"AAA", "BBB"})
    await sentiment_service.store_items(session=session, items=items, known=known)
    scores = {r.reddit_id: r.compound for r in (await session.execute(select(RedditPost))).scalars()}
    s = [scores[f"t3_{i}"] for i in range(1, 8)]
    with override_settings(sentiment={"conviction_min_mentions": 3}):
        await sentiment_service.aggregate_daily(
            session=session, start=date(2024, 11, 18), end=date(2024, 11, 22)
        )
    daily = await sentiment_service.load_daily(session=session, tickers=["AAA", "BBB"])
    aaa = daily[daily.ticker == "AAA"].set_index("trade_date")
    day_scores = [(s[0] + s[1]) / 2, s[2], s[3], (s[4] + s[5] + s[6]) / 3]
    assert list(aaa.index) == list(plan)
    assert aaa["mentions"].tolist() == [2, 1, 1, 3]
    assert aaa["score"].tolist() == pytest.approx(day_scores)
    # MA5 over the last five sessions, skipping the session without mentions (Wed 20).
    expected_ma = [day_scores[0], sum(day_scores[:2]) / 2, sum(day_scores[:3]) / 3, sum(day_scores) / 4]
    assert aaa["score_ma5"].tolist() == pytest.approx(expected_ma)
    assert aaa["trend"].tolist() == pytest.approx(
        [a - b for a, b in zip(day_scores, expected_ma, strict=True)]
    )
    assert aaa["conviction"].tolist() == [False, False, False, True]
    assert aaa.loc[date(2024, 11, 18), "bullish"] == 1 and aaa.loc[date(2024, 11, 18), "bearish"] == 1
    bbb = daily[daily.ticker == "BBB"].iloc[0]
    assert (bbb.trending_rank, aaa.loc[date(2024, 11, 22), "trending_rank"]) == (2, 1)
    assert not aaa["synthetic"].any()


async def test_trending_feeds_the_price_universe(session):
    await market_service.ensure_tickers(session=session, symbols=["AAPL", "MSFT"], source="seed")
    await market_service.ensure_tickers(session=session, symbols=["NVDA"], source="watchlist")
    now = datetime(2024, 11, 20, 12, tzinfo=ET)
    items = [post(f"t3_m{i}", datetime(2024, 11, 20, 9, i, tzinfo=ET), "MSFT NVDA") for i in range(3)]
    items += [post("t3_old", datetime(2024, 11, 18, 9, tzinfo=ET), "AAPL AAPL")]  # outside 24 h
    await sentiment_service.store_items(session=session, items=items, known=KNOWN)
    with override_settings(sentiment={"trending_top_n": 5}):
        top = await sentiment_service.trending(session=session, now=now.astimezone(UTC))
        assert top == [("MSFT", 3), ("NVDA", 3)]
        await sentiment_service.mark_trending(session=session, now=now.astimezone(UTC))
    sources = dict((await session.execute(select(Ticker.symbol, Ticker.source))).all())
    assert sources["MSFT"] == "trending" and sources["NVDA"] == "watchlist" and sources["AAPL"] == "seed"


async def test_sample_feed_is_synthetic_and_deterministic(session):
    days = [date(2012, 1, 3), date(2012, 1, 4), date(2012, 1, 5)]
    a = sample_feed.generate(["AAPL", "MSFT"], days, seed=1)
    assert a == sample_feed.generate(["AAPL", "MSFT"], days, seed=1)
    assert all(i.reddit_id.startswith("synthetic_") and i.author == "synthetic-feed" for i in a)
    await sentiment_service.store_items(session=session, items=a, known=KNOWN, synthetic=True)
    await sentiment_service.aggregate_daily(session=session, start=days[0], end=days[-1])
    flags = (await session.execute(select(SentimentDaily.synthetic))).scalars().all()
    assert flags and all(flags)
