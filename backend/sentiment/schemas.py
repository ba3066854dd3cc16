"""Read schemas of the sentiment domain (API and dashboard)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class TrendingRead(BaseModel):
    rank: int
    ticker: str
    mentions: int = Field(description="mentions in the window")


class SentimentDailyRead(BaseModel):
    """What Reddit said about a ticker up to a session's close."""

    model_config = ConfigDict(from_attributes=True)

    trade_date: date
    mentions: int
    score: float = Field(description="mean compound score of the day's mentions, -1..1")
    bullish: int
    bearish: int
    neutral: int
    score_ma5: float
    trend: float = Field(description="score minus its 5-session average")
    conviction: bool
    trending_rank: int
    synthetic: bool = Field(description="true for the generated sample feed, not real Reddit content")


class PostRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reddit_id: str
    kind: str
    subreddit: str
    title: str | None
    body: str
    author: str | None
    score: int
    permalink: str
    created_at: datetime
    trading_date: date
    compound: float
    label: str
    sentiment: float = Field(description="the score of this mention of the ticker")
    synthetic: bool = Field(description="true for the generated sample feed, not real Reddit content")
