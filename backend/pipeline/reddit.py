"""The hourly Reddit job: scrape, score, store page by page."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from backend.core.calendar import utcnow
from backend.db.engine import transaction
from backend.sentiment import service as sentiment_service
from backend.sentiment.reddit import RedditClient, ScrapeReport


@dataclass
class ScrapeOutcome:
    report: ScrapeReport
    stored: sentiment_service.StoreResult


async def scrape(
    *,
    client: RedditClient,
    subreddits: Sequence[str] | None = None,
    limit: int | None = None,
    lookback_days: int = 7,
) -> ScrapeOutcome:
    """Scrape Reddit and store each page in its own transaction, so an outage keeps what was stored.

    PRAW is synchronous: pages are fetched in a worker thread; the ids scraped over the last
    `lookback_days` are loaded once so the client can skip what it already has without a query per page.
    """
    async with transaction() as session:
        known = await sentiment_service.known_tickers(session=session)
        seen = await sentiment_service.recent_ids(
            session=session, since=utcnow() - timedelta(days=lookback_days)
        )
    pages = client.scrape(subreddits, limit, is_stored=lambda ids: seen.intersection(ids))
    total = sentiment_service.StoreResult()
    while (page := await asyncio.to_thread(next, pages, None)) is not None:
        async with transaction() as session:
            result = await sentiment_service.store_items(session=session, items=page, known=known)
        seen.update(item.reddit_id for item in page)
        total.new_posts += result.new_posts
        total.refreshed_posts += result.refreshed_posts
        total.mentions += result.mentions
    return ScrapeOutcome(client.last_report, total)
