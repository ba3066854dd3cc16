"""Sentiment services: store scraped posts with scores and mentions, daily aggregates, trending tickers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import pandas as pd
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.core.calendar import add_trading_days, trading_date_for, trading_days
from backend.core.settings import get_settings
from backend.db.base import table_of
from backend.db.timeseries import ticker_range
from backend.db.upsert import UpsertResult, bulk_upsert, dialect_insert, frame_records
from backend.market import service as market_service
from backend.market.models import Ticker
from backend.sentiment.extract import extract_tickers
from backend.sentiment.models import RedditPost, SentimentDaily, TickerMention
from backend.sentiment.reddit import RedditItem
from backend.sentiment.scoring import SentimentScorer
from backend.sentiment.text import clean_text
from backend.sentiment.ticker_index import TickerIndex

log = logging.getLogger(__name__)

# Columns refreshed when a stored post is seen again; everything else (text, score) is kept as first stored.
_REFRESHED = ("score", "num_comments", "upvote_ratio")
DAILY_COLUMNS = (
    "ticker",
    "trade_date",
    "mentions",
    "score",
    "bullish",
    "bearish",
    "neutral",
    "score_ma5",
    "trend",
    "conviction",
    "trending_rank",
    "synthetic",
)
MA_WINDOW = 5


@lru_cache(maxsize=1)
def default_scorer() -> SentimentScorer:
    """The scorer with the bundled lexicon (loading and compiling it takes a moment: once per process)."""
    return SentimentScorer(max_chars=get_settings().sentiment.max_chars_scored)


@dataclass
class StoreResult:
    new_posts: int = 0
    refreshed_posts: int = 0
    mentions: int = 0


async def known_tickers(*, session: AsyncSession) -> TickerIndex:
    """Symbols mentions are validated against; seeds the bundled US universe when empty."""
    profiles = await market_service.mention_profiles(session=session)
    if not profiles:
        log.info("no tickers in the database yet: seeding the bundled US universe")
        await market_service.seed_universe(session=session)
        profiles = await market_service.mention_profiles(session=session)
    return TickerIndex(profiles)


async def stored_ids(*, session: AsyncSession, reddit_ids: Sequence[str]) -> set[str]:
    """Which of `reddit_ids` are already stored (lets a scrape resume without re-fetching)."""
    if not reddit_ids:
        return set()
    rows = await session.scalars(
        select(RedditPost.reddit_id).where(RedditPost.reddit_id.in_(list(reddit_ids)))
    )
    return set(rows.all())


async def recent_ids(*, session: AsyncSession, since: datetime) -> set[str]:
    """Ids of posts and comments scraped since `since` (what the next scrape will meet again first)."""
    rows = await session.scalars(select(RedditPost.reddit_id).where(RedditPost.scraped_at >= since))
    return set(rows.all())


async def store_items(
    *,
    session: AsyncSession,
    items: Sequence[RedditItem],
    known: TickerIndex | frozenset[str],
    scorer: SentimentScorer | None = None,
    synthetic: bool = False,
) -> StoreResult:
    """Score and store posts/comments, deduplicated by reddit id; re-seen posts only refresh their counts."""
    if not items:
        return StoreResult()
    scorer = scorer or default_scorer()
    unique = {item.reddit_id: item for item in items}  # a listing can repeat an item across pages
    existing = await stored_ids(session=session, reddit_ids=list(unique))
    rows, mentions = [], {}
    for item in unique.values():
        title, body = (clean_text(item.title) or None), clean_text(item.body)
        text = f"{title or ''}\n{body}" if item.kind == "post" else body
        compound, label = (0.0, "neutral") if item.removed else scorer.analyze(text)
        rows.append(
            {
                "reddit_id": item.reddit_id,
                "kind": item.kind,
                "subreddit": item.subreddit.lower(),
                "title": title,
                "body": body,
                "author": item.author,
                "score": item.score,
                "num_comments": item.num_comments,
                "upvote_ratio": item.upvote_ratio,
                "url": item.url,
                "permalink": item.permalink,
                "parent_id": item.parent_id,
                "created_at": item.created_at,
                "trading_date": trading_date_for(item.created_at),
                "compound": compound,
                "label": label,
                "removed": item.removed,
                "synthetic": synthetic,
            }
        )
        if item.reddit_id not in existing:
            # Titles of removed posts still name tickers, but carry no score.
            mentions[item.reddit_id] = (extract_tickers(text, known), compound)
    table = table_of(RedditPost)
    stmt = dialect_insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["reddit_id"], set_={c: stmt.excluded[c] for c in _REFRESHED}
    )
    await session.execute(stmt, rows)

    ids = dict(
        (
            await session.execute(
                select(RedditPost.reddit_id, RedditPost.id).where(RedditPost.reddit_id.in_(list(mentions)))
            )
        ).all()
    )
    by_id = {row["reddit_id"]: row for row in rows}
    mention_rows = [
        {
            "post_id": ids[rid],
            "ticker": ticker,
            "sentiment": compound,
            "trading_date": by_id[rid]["trading_date"],
        }
        for rid, (tickers, compound) in mentions.items()
        for ticker in tickers
    ]
    if mention_rows:
        insert = dialect_insert(session, table_of(TickerMention)).on_conflict_do_nothing(
            index_elements=["post_id", "ticker"]
        )
        await session.execute(insert, mention_rows)
    return StoreResult(len(unique) - len(existing), len(existing), len(mention_rows))


async def aggregate_daily(*, session: AsyncSession, start: date, end: date) -> UpsertResult:
    """Recompute `sentiment_daily` for trading dates `start`..`end` from the stored mentions.

    Per (ticker, trading date): mention count, mean compound, label counts, the 5-session moving average
    of the daily score (sessions without mentions are skipped, not counted as 0), trend = score - MA5,
    conviction (mentions >= threshold) and the day's trending rank by mentions (1 = most mentioned).
    Mentions are already dated by `trading_date_for`, so a post after the close counts for the next session.
    """
    since = add_trading_days(start, -(MA_WINDOW - 1))
    query = (
        select(
            TickerMention.ticker, TickerMention.trading_date, TickerMention.sentiment, RedditPost.synthetic
        )
        .join(RedditPost, RedditPost.id == TickerMention.post_id)
        .where(TickerMention.trading_date >= since, TickerMention.trading_date <= end)
    )
    raw = pd.DataFrame(
        (await session.execute(query)).all(), columns=["ticker", "trade_date", "sentiment", "synthetic"]
    )
    out = daily_frame(raw, start=start, end=end)
    if out.empty:
        return UpsertResult()
    return await bulk_upsert(
        session=session,
        table=table_of(SentimentDaily),
        columns=DAILY_COLUMNS,
        rows=frame_records(out, DAILY_COLUMNS),
        key=("ticker", "trade_date"),
        group_by="ticker",
    )


def daily_frame(raw: pd.DataFrame, *, start: date, end: date) -> pd.DataFrame:
    """The daily aggregates (DAILY_COLUMNS) for `start`..`end` from dated mentions.

    Args:
        raw: one row per mention with ticker, trade_date (the session it counts for), sentiment and
            synthetic; it must cover the `MA_WINDOW - 1` sessions before `start` for the moving average.
    """
    if raw.empty:
        return pd.DataFrame(columns=list(DAILY_COLUMNS))
    settings = get_settings().sentiment
    since = add_trading_days(start, -(MA_WINDOW - 1))
    raw = raw[(raw["trade_date"] >= since) & (raw["trade_date"] <= end)]
    if raw.empty:
        return pd.DataFrame(columns=list(DAILY_COLUMNS))
    label = raw["sentiment"].map(SentimentScorer.label)
    raw = raw.assign(bullish=label == "bullish", bearish=label == "bearish", neutral=label == "neutral")
    daily = raw.groupby(["ticker", "trade_date"], sort=True).agg(
        mentions=("sentiment", "size"),
        score=("sentiment", "mean"),
        bullish=("bullish", "sum"),
        bearish=("bearish", "sum"),
        neutral=("neutral", "sum"),
        synthetic=("synthetic", "any"),
    )
    sessions = pd.Index(trading_days(since, end), name="trade_date")
    frames = []
    for ticker, group in daily.groupby(level="ticker"):
        one = group.droplevel("ticker").reindex(sessions)
        one["score_ma5"] = one["score"].rolling(MA_WINDOW, min_periods=1).mean()
        one = one.dropna(subset=["mentions"])
        one["ticker"] = str(ticker)
        frames.append(one.reset_index())
    out = pd.concat(frames, ignore_index=True)
    out = out[(out["trade_date"] >= start) & (out["trade_date"] <= end)].copy()
    out["trend"] = out["score"] - out["score_ma5"]
    out["conviction"] = out["mentions"] >= settings.conviction_min_mentions
    out["trending_rank"] = out.groupby("trade_date")["mentions"].rank(method="min", ascending=False)
    for col in ("mentions", "bullish", "bearish", "neutral", "trending_rank"):
        out[col] = out[col].astype("int64")
    return out[list(DAILY_COLUMNS)].reset_index(drop=True)


async def load_mentions(
    *, session: AsyncSession, created_from: datetime, created_to: datetime
) -> pd.DataFrame:
    """Mentions of posts created in [created_from, created_to): ticker, created_at, sentiment, synthetic.

    The raw material for recomputing aggregates from post times (the lookahead check), not trusting the
    stored trading dates.
    """
    query = (
        select(TickerMention.ticker, RedditPost.created_at, TickerMention.sentiment, RedditPost.synthetic)
        .join(RedditPost, RedditPost.id == TickerMention.post_id)
        .where(RedditPost.created_at >= created_from, RedditPost.created_at < created_to)
    )
    rows = (await session.execute(query)).all()
    return pd.DataFrame(rows, columns=["ticker", "created_at", "sentiment", "synthetic"])


async def last_update(
    *, session: AsyncSession, tickers: Sequence[str], start: date, end: date
) -> datetime | None:
    """When a daily aggregate of `tickers` from `start` to `end` was last written (None: there is none)."""
    query = select(func.max(SentimentDaily.updated_at)).where(
        SentimentDaily.ticker.in_(list(tickers)),
        SentimentDaily.trade_date >= start,
        SentimentDaily.trade_date <= end,
    )
    value: datetime | None = await session.scalar(query)
    return value


async def load_daily(
    *, session: AsyncSession, tickers: Sequence[str] = (), start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Stored daily aggregates (for features and the dashboard), oldest first."""
    query = ticker_range(table_of(SentimentDaily), DAILY_COLUMNS, tickers=tickers, start=start, end=end)
    rows = (await session.execute(query)).all()
    return pd.DataFrame(rows, columns=list(DAILY_COLUMNS))


async def trending(
    *, session: AsyncSession, now: datetime, hours: int | None = None, top_n: int | None = None
) -> list[tuple[str, int]]:
    """The most mentioned tickers in the `hours` before `now` (default: settings), most first."""
    settings = get_settings().sentiment
    since = now - timedelta(hours=hours or settings.trending_window_hours)
    count = func.count(TickerMention.id).label("n")
    query = (
        select(TickerMention.ticker, count)
        .join(RedditPost, RedditPost.id == TickerMention.post_id)
        .where(RedditPost.created_at > since, RedditPost.created_at <= now)
        .group_by(TickerMention.ticker)
        .order_by(count.desc(), TickerMention.ticker)
        .limit(top_n or settings.trending_top_n)
    )
    return [(t, int(n)) for t, n in (await session.execute(query)).all()]


async def mark_trending(*, session: AsyncSession, now: datetime) -> list[str]:
    """Put the trending tickers into the price-fetch universe (source 'trending' unless a user chose them)."""
    symbols = [t for t, _ in await trending(session=session, now=now)]
    if symbols:
        await session.execute(
            update(Ticker)
            .where(Ticker.symbol.in_(symbols), Ticker.source == "seed")
            .values(source="trending")
        )
    return symbols


# --- reads for the API and the dashboard --------------------------------------------------------------


async def daily_series(
    *,
    session: AsyncSession,
    ticker: str,
    start: date | None = None,
    end: date | None = None,
    after: date | None = None,
    limit: int = 500,
) -> list[SentimentDaily]:
    """A ticker's daily aggregates, oldest first, after the cursor date `after`."""
    query = select(SentimentDaily).where(SentimentDaily.ticker == ticker)
    if start is not None:
        query = query.where(SentimentDaily.trade_date >= start)
    if end is not None:
        query = query.where(SentimentDaily.trade_date <= end)
    if after is not None:
        query = query.where(SentimentDaily.trade_date > after)
    return list((await session.scalars(query.order_by(SentimentDaily.trade_date).limit(limit))).all())


async def recent_posts(
    *,
    session: AsyncSession,
    ticker: str,
    before: tuple[datetime, int] | None = None,
    limit: int = 50,
) -> list[tuple[RedditPost, float]]:
    """Posts and comments mentioning `ticker`, newest first, with the mention's sentiment; `before` is the
    cursor (created_at, id) of the last row seen. Removed posts are left out."""
    query = (
        select(RedditPost, TickerMention.sentiment)
        .join(TickerMention, TickerMention.post_id == RedditPost.id)
        .where(TickerMention.ticker == ticker, RedditPost.removed.is_(False))
    )
    if before is not None:
        at, post_id = before
        query = query.where(
            (RedditPost.created_at < at) | ((RedditPost.created_at == at) & (RedditPost.id < post_id))
        )
    query = query.order_by(RedditPost.created_at.desc(), RedditPost.id.desc()).limit(limit)
    return [(post, float(score)) for post, score in (await session.execute(query)).all()]
