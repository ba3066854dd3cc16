"""Sentiment tables: scraped Reddit posts and comments, their ticker mentions, and daily aggregates."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db.base import Base, UTCDateTime


class RedditPost(Base):
    """A post or top-level comment, scored once when first stored (scores and counts refresh on re-scrape)."""

    __tablename__ = "reddit_posts"
    __table_args__ = (
        CheckConstraint("kind IN ('post', 'comment')", name="kind"),
        Index("ix_reddit_posts_created_at", "created_at"),
        Index("ix_reddit_posts_subreddit_created_at", "subreddit", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reddit_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    subreddit: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer, default=0)
    num_comments: Mapped[int | None] = mapped_column(Integer)
    upvote_ratio: Mapped[float | None] = mapped_column(Float)
    url: Mapped[str | None] = mapped_column(Text)  # a link post's target
    permalink: Mapped[str] = mapped_column(Text, default="")  # the thread or comment on Reddit
    parent_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    scraped_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    # The trading date whose features may use this post: after 16:00 ET it belongs to the next session.
    trading_date: Mapped[date] = mapped_column(Date, index=True)
    compound: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(8))
    removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Generated sample data (the offline demo feed), never real Reddit content.
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TickerMention(Base):
    """One mention of a ticker in a post (a table, not an array, so SQLite works too)."""

    __tablename__ = "ticker_mentions"
    __table_args__ = (
        UniqueConstraint("post_id", "ticker"),
        Index("ix_ticker_mentions_ticker_trading_date", "ticker", "trading_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("reddit_posts.id", ondelete="CASCADE"))
    ticker: Mapped[str] = mapped_column(String(10))
    sentiment: Mapped[float] = mapped_column(Float)
    trading_date: Mapped[date] = mapped_column(Date)


class SentimentDaily(Base):
    """Per (ticker, trading date): what Reddit said up to that session's close."""

    __tablename__ = "sentiment_daily"

    ticker: Mapped[str] = mapped_column(String(10), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    mentions: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)  # mean compound of the day's mentions
    bullish: Mapped[int] = mapped_column(Integer)
    bearish: Mapped[int] = mapped_column(Integer)
    neutral: Mapped[int] = mapped_column(Integer)
    score_ma5: Mapped[float] = mapped_column(Float)
    trend: Mapped[float] = mapped_column(Float)  # score minus its 5-day average
    conviction: Mapped[bool] = mapped_column(Boolean)
    trending_rank: Mapped[int] = mapped_column(Integer)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )
