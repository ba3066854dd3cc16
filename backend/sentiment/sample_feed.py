"""A synthetic Reddit feed for offline use and the demo.

Clearly synthetic: ids start with `synthetic_`, the author is `synthetic-feed`, and rows are stored with
`synthetic = true`, which the daily aggregates (and the dashboard) carry along. The mood of each ticker is
a seeded random walk that never looks at prices, so the feed cannot leak future returns into features.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import numpy as np

from backend.core.calendar import ET, UTC
from backend.sentiment.reddit import RedditItem

SUBREDDITS = ("wallstreetbets", "stocks", "investing")
AUTHOR = "synthetic-feed"

BULLISH = (
    (
        "{t} earnings beat, guidance raised 🚀",
        "Revenue beat and they raised guidance. Loading more calls on ${t}.",
    ),
    ("${t} breaking out", "Clean breakout above resistance on big volume. Holding with diamond hands 💎🙌"),
    (
        "Why I'm long {t}",
        "Strong cash flow, buybacks and a cheap multiple. Bullish for the next few quarters.",
    ),
    ("{t} to the moon", "Bought the dip on ${t}, this is going to rip. Tendies incoming 🚀🚀"),
    ("Upgrade on {t}", "Analyst upgrade with a price target raised. Momentum looks great."),
    ("{t} DD: undervalued", "Margins expanding, debt falling. I think the market is sleeping on ${t}."),
    ("Added more {t} today", "Averaged up. Great product cycle ahead, very bullish."),
)
BEARISH = (
    ("{t} guidance cut", "They cut guidance and margins are shrinking. Buying puts on ${t}."),
    ("${t} is overvalued", "Multiple makes no sense, insiders selling. Expect a drop soon. Bearish."),
    ("Sold all my {t}", "Took the loss. Weak demand, missed estimates, this looks like a falling knife."),
    ("{t} downgrade", "Downgraded to sell, price target cut. Paper hands were right this time 📉"),
    ("{t} bagholders", "Down 30% on ${t}. Worst trade of my life, it keeps dumping."),
    ("${t} breakdown", "Lost the 200 day and volume is heavy on the way down. Short it."),
)
NEUTRAL = (
    ("Thoughts on {t}?", "Thinking about ${t} for a long time horizon. What do you all think?"),
    ("{t} earnings date", "Anyone know when ${t} reports? Trying to plan around it."),
    ("{t} vs the index", "Comparing ${t} against just buying an index fund. Curious about opinions."),
    ("Question about {t} options", "How does assignment work on ${t} covered calls?"),
    ("{t} news today", "Saw a headline about ${t} at the conference. Not sure what it means."),
)


def _moods(n_days: int, rng: np.random.Generator) -> np.ndarray:
    """A persistent random mood in [-1, 1]: AR(1), unrelated to any price."""
    mood = np.empty(n_days)
    level = 0.0
    for i in range(n_days):
        level = 0.9 * level + rng.normal(0, 0.35)
        mood[i] = np.tanh(level)
    return mood


def generate(
    tickers: Sequence[str], days: Sequence[date], *, seed: int = 7, posts_per_day: float = 2.0
) -> list[RedditItem]:
    """Synthetic posts about `tickers` on `days` (calendar or trading days), deterministic for a seed."""
    items: list[RedditItem] = []
    for t_index, ticker in enumerate(sorted(tickers)):
        rng = np.random.default_rng([seed, t_index])
        mood = _moods(len(days), rng)
        counts = rng.poisson(posts_per_day * (1 + np.abs(mood)), size=len(days))
        for day, m, n in zip(days, mood, counts, strict=True):
            for k in range(int(n)):
                draw = rng.random()
                # The mood tilts the mix; every class stays possible on every day.
                p_bull, p_bear = 0.35 + 0.3 * m, 0.35 - 0.3 * m
                pool = BULLISH if draw < p_bull else BEARISH if draw < p_bull + p_bear else NEUTRAL
                title, body = pool[int(rng.integers(len(pool)))]
                minute = int(rng.integers(0, 24 * 60))
                created = datetime.combine(day, time(0), tzinfo=ET) + timedelta(minutes=minute)
                key = hashlib.sha1(f"{seed}:{ticker}:{day}:{k}".encode()).hexdigest()[:10]
                subreddit = SUBREDDITS[int(rng.integers(len(SUBREDDITS)))]
                items.append(
                    RedditItem(
                        reddit_id=f"synthetic_t3_{key}",
                        kind="post",
                        subreddit=subreddit,
                        permalink=f"synthetic://r/{subreddit}/{key}",
                        title=title.format(t=ticker),
                        body=body.format(t=ticker),
                        author=AUTHOR,
                        score=int(rng.integers(1, 2000)),
                        num_comments=int(rng.integers(0, 300)),
                        upvote_ratio=round(float(rng.uniform(0.5, 1.0)), 2),
                        url=None,
                        created_at=created.astimezone(UTC),
                        parent_id=None,
                        removed=False,
                    )
                )
    return items
