"""The Reddit client against recorded Reddit JSON, served at the HTTP boundary (no network here).

`FakeRequestor` replaces prawcore's `Requestor`, the one object that calls `requests`: PRAW, prawcore's
OAuth flow, sessions, retries and error mapping all run for real. It serves tests/data/reddit/ by URL path
and `after` (see the README there) and, first, any failures a test scripts with `FakeReddit.fail`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from backend.core.errors import ValidationFailed
from backend.sentiment.reddit import (
    MissingRedditCredentials,
    RedditAuthError,
    RedditItem,
)
from tests.fakes.reddit import (
    DATA,
    TOKEN_PATH,
    FakeReddit,
    ids,
    make_client,
    run,
)

# Fullnames in the recorded files, newest first.
NEW_PAGE_1 = ["t3_1dd4a1x", "t3_1dd3zq2", "t3_1dd2k9p"]
NEW_PAGE_2 = ["t3_1dd1f0c", "t3_1dd0b7e"]
HOT = ["t3_1dd0b7e", "t3_1dd3zq2", "t3_1dc9k2m"]
TOP_LEVEL_COMMENTS = ["t1_l7x9a01", "t1_l7x8yy1", "t1_l7x8xx0", "t1_l7x8ww5"]  # t1_l7x8zz9 is a reply
STOCKS_ALL = NEW_PAGE_1 + NEW_PAGE_2 + HOT + TOP_LEVEL_COMMENTS
WSB_ALL = ["t3_1dd5h3q", "t3_1dd5a0r", "t3_1dd5h3q", "t1_l7xa0b2"]


# --- parsing -------------------------------------------------------------------------------------------


def test_full_run_reads_new_pages_hot_and_top_level_comments_in_order() -> None:
    server = FakeReddit()
    client = make_client(server)

    batches = run(client)

    assert [len(b) for b in batches] == [3, 2, 3, 4]  # one batch per listing page
    assert ids(batches) == STOCKS_ALL
    assert [(c.method, c.path, c.params.get("after")) for c in server.listing_calls()] == [
        ("GET", "/r/stocks/new", None),
        ("GET", "/r/stocks/new", "t3_1dd2k9p"),
        ("GET", "/r/stocks/hot", None),
        ("GET", "/r/stocks/comments/", None),
    ]
    # posts_per_listing (100) bounds the entries read per listing: page 2 asks only for what is left.
    assert [c.params["limit"] for c in server.listing_calls()] == [100, 97, 100, 100]
    assert all(c.params["raw_json"] == 1 for c in server.listing_calls())  # unescaped text
    assert server.credentials == [("test-client-id", "test-client-secret")]  # one token, reused
    report = client.last_report
    assert report.requests_used == 4
    assert report.items == {"stocks": {"new": 5, "hot": 3, "comments": 4}}
    assert report.errors == {} and report.stopped_at is None and not report.budget_exhausted


def test_posts_are_parsed_with_real_field_names() -> None:
    items = {i.reddit_id: i for b in run(make_client(FakeReddit())) for i in b}

    assert items["t3_1dd4a1x"] == RedditItem(
        reddit_id="t3_1dd4a1x",
        kind="post",
        subreddit="stocks",
        title="NVDA after the split: what's your plan?",
        body="Holding through earnings 🚀🚀 $NVDA to the moon? Or is 10-for-1 priced in?",
        author="quant_dad",
        score=154,
        num_comments=87,
        upvote_ratio=0.93,
        url="https://www.reddit.com/r/stocks/comments/1dd4a1x/nvda_after_the_split_whats_your_plan/",
        permalink="https://www.reddit.com/r/stocks/comments/1dd4a1x/nvda_after_the_split_whats_your_plan/",
        created_at=datetime(2024, 6, 11, 16, 30, 56, tzinfo=UTC),  # 1718123456
        parent_id=None,
        removed=False,
    )
    link = items["t3_1dd3zq2"]  # a link post: no body, the url is the article
    assert link.body == ""
    assert link.url == "https://www.cnbc.com/2024/06/10/apple-wwdc-2024-apple-intelligence.html"
    assert not link.removed
    removed = items["t3_1dd2k9p"]  # removed by a moderator, author account deleted
    assert (removed.title, removed.body, removed.author, removed.removed) == (
        "TSLA is going to 0, change my mind",
        "",
        None,
        True,
    )
    empty_self = items["t3_1dd0b7e"]
    assert (empty_self.body, empty_self.removed, empty_self.author) == ("", False, "AutoModerator")


def test_hot_posts_carry_the_refreshed_counts() -> None:
    batches = run(make_client(FakeReddit()))
    new_aapl, hot_aapl = (i for b in batches for i in b if i.reddit_id == "t3_1dd3zq2")

    assert (new_aapl.score, new_aapl.num_comments, new_aapl.upvote_ratio) == (2311, 640, 0.96)
    assert (hot_aapl.score, hot_aapl.num_comments, hot_aapl.upvote_ratio) == (2450, 702, 0.95)


def test_top_level_comments_only_with_deleted_emoji_and_broken_text() -> None:
    batches = run(make_client(FakeReddit()))
    comments = {i.reddit_id: i for b in batches for i in b if i.kind == "comment"}

    assert list(comments) == TOP_LEVEL_COMMENTS  # the reply t1_l7x8zz9 (parent t1_...) is left out
    assert comments["t1_l7x9a01"] == RedditItem(
        reddit_id="t1_l7x9a01",
        kind="comment",
        subreddit="stocks",
        title=None,
        body="Holding 💎🙌 since $400 pre-split",
        author="diamond_hands_42",
        score=23,
        num_comments=None,
        upvote_ratio=None,
        url=None,
        permalink="https://www.reddit.com/r/stocks/comments/1dd4a1x/nvda_after_the_split_whats_your_plan/l7x9a01/",
        created_at=datetime(2024, 6, 11, 16, 40, tzinfo=UTC),  # 1718124000
        parent_id="t3_1dd4a1x",
        removed=False,
    )
    deleted = comments["t1_l7x8yy1"]
    assert (deleted.body, deleted.author, deleted.removed, deleted.parent_id) == (
        "",
        None,
        True,
        "t3_1dd3zq2",
    )
    # Half an emoji (a lone surrogate) and a NUL byte: replaced/dropped so UTF-8 storage cannot fail.
    broken = comments["t1_l7x8xx0"]
    assert broken.body == "Apple Intelligence is hype ? buy $AAPL anyway"
    assert broken.score == -3
    broken.body.encode("utf-8")  # raises if anything unencodable were left
    assert comments["t1_l7x8ww5"].body == ""


# --- resuming from what is stored ------------------------------------------------------------------


class Store:
    def __init__(self, stored: set[str]) -> None:
        self.stored = stored
        self.asked: list[list[str]] = []

    def __call__(self, fullnames: Sequence[str]) -> set[str]:
        self.asked.append(list(fullnames))
        return self.stored & set(fullnames)


def test_new_paging_stops_at_a_fully_stored_page_and_hot_is_yielded_again() -> None:
    server = FakeReddit()
    client = make_client(server)
    store = Store(set(NEW_PAGE_1 + NEW_PAGE_2 + ["t1_l7x8yy1"]))

    batches = run(client, is_stored=store)

    assert ("/r/stocks/new", "t3_1dd2k9p") not in [(c.path, c.params.get("after")) for c in server.calls]
    assert ids(batches) == [*HOT, "t1_l7x9a01", "t1_l7x8xx0", "t1_l7x8ww5"]
    assert store.asked == [NEW_PAGE_1, TOP_LEVEL_COMMENTS]  # hot is never asked about
    assert client.last_report.items == {"stocks": {"hot": 3, "comments": 3}}
    assert client.last_report.requests_used == 3


def test_a_partly_stored_page_yields_the_rest_and_paging_goes_on() -> None:
    server = FakeReddit()
    client = make_client(server)

    batches = run(client, ["r/Stocks"], is_stored=Store({"t3_1dd3zq2"}))

    assert ids(batches)[:4] == ["t3_1dd4a1x", "t3_1dd2k9p", *NEW_PAGE_2]
    assert ids(batches)[4:7] == HOT  # stored t3_1dd3zq2 comes back through hot
    assert len(server.listing_calls()) == 4


def test_limit_caps_the_entries_read_per_listing() -> None:
    server = FakeReddit()
    batches = run(make_client(server), limit=2)

    assert ids(batches) == NEW_PAGE_1[:2] + HOT[:2] + ["t1_l7x9a01"]  # 2 comment entries: one is a reply
    assert [c.params["limit"] for c in server.listing_calls()] == [2, 2, 2]


# --- budget and pacing ---------------------------------------------------------------------------------


def test_request_budget_stops_the_run_and_is_reported() -> None:
    server = FakeReddit()
    client = make_client(server, max_requests_per_run=2)

    batches = run(client)

    assert ids(batches) == NEW_PAGE_1 + NEW_PAGE_2
    assert len(server.listing_calls()) == 2
    report = client.last_report
    assert report.budget_exhausted
    assert report.requests_used == 2
    assert report.stopped_at == "r/stocks hot, first page"
    assert report.errors == {}


def test_requests_are_paced_to_requests_per_minute() -> None:
    server = FakeReddit()
    client = make_client(server, requests_per_minute=60)

    run(client)

    starts = [c.at for c in server.listing_calls()]
    assert len(starts) == 4
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(starts))
    # Each response takes LATENCY (0.5 s); the pacer sleeps the other half of each 1 s interval.
    assert server.clock.sleeps == [0.5, 0.5, 0.5]


# --- rate limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "times", "max_backoff", "expected_sleeps"),
    [
        ({"retry-after": "7"}, 1, 300.0, [7.0]),
        ({"x-ratelimit-reset": "42", "x-ratelimit-used": "100"}, 1, 300.0, [42.0]),
        ({}, 3, 300.0, [2.0, 4.0, 8.0]),  # no hint: exponential from 2 s
        ({"retry-after": "900"}, 2, 60.0, [60.0, 60.0]),  # capped at max_backoff_seconds
    ],
)
def test_429_is_backed_off_and_the_listing_resumes_without_duplicates(
    headers: dict[str, str], times: int, max_backoff: float, expected_sleeps: list[float]
) -> None:
    server = FakeReddit()
    server.fail("/r/stocks/new", 429, "Too Many Requests", after="t3_1dd2k9p", headers=headers, times=times)
    client = make_client(server, max_backoff_seconds=max_backoff)

    batches = run(client)

    assert server.clock.sleeps == expected_sleeps
    assert ids(batches) == STOCKS_ALL
    page_2_calls = [c for c in server.calls if c.params.get("after") == "t3_1dd2k9p"]
    assert len(page_2_calls) == times + 1
    report = client.last_report
    assert report.rate_limit_waits == expected_sleeps
    assert report.requests_used == 4 + times
    assert report.stopped_at is None


def test_ratelimit_api_error_waits_as_long_as_the_message_says() -> None:
    server = FakeReddit()
    message = "Looks like you've been doing that a lot. Take a break for 3 minutes before trying again."
    server.fail("/r/stocks/hot", 200, {"json": {"errors": [["RATELIMIT", message, "ratelimit"]]}})

    batches = run(make_client(server))

    assert server.clock.sleeps == [180.0]
    assert ids(batches) == STOCKS_ALL


def test_persistent_429_stops_the_run_after_the_allowed_attempts() -> None:
    server = FakeReddit()
    server.fail("/r/stocks/new", 429, "Too Many Requests", after="t3_1dd2k9p", times=10)
    client = make_client(server, subreddits=["stocks", "wallstreetbets"])

    batches = run(client)

    assert ids(batches) == NEW_PAGE_1
    assert server.clock.sleeps == [2.0, 4.0, 8.0, 16.0, 32.0]  # 6 attempts, 5 waits
    report = client.last_report
    assert report.stopped_at == "r/stocks new, after t3_1dd2k9p"
    assert "rate limited" in report.errors["stocks"]
    assert not any("wallstreetbets" in c.path for c in server.calls)


# --- outages and refusals --------------------------------------------------------------------------------


def test_an_outage_mid_run_keeps_the_first_page_and_reports_where_it_stopped() -> None:
    server = FakeReddit()
    server.fail(
        "/r/stocks/new", 500, {"message": "Internal Server Error", "error": 500}, after="t3_1dd2k9p", times=3
    )
    client = make_client(server, subreddits=["stocks", "wallstreetbets"])

    batches = run(client)

    assert ids(batches) == NEW_PAGE_1
    # prawcore retried the 500 twice on its own before giving up; the run then stops for good.
    assert len([c for c in server.calls if c.params.get("after") == "t3_1dd2k9p"]) == 3
    assert len(server.listing_calls()) == 4
    report = client.last_report
    assert report.stopped_at == "r/stocks new, after t3_1dd2k9p"
    assert "500" in report.errors["stocks"]
    assert report.items == {"stocks": {"new": 3}}
    assert not report.budget_exhausted


def test_a_private_subreddit_is_reported_and_the_others_are_still_scraped() -> None:
    server = FakeReddit()
    server.fail("/r/privatesub/new", 403, {"reason": "private", "message": "Forbidden", "error": 403})
    client = make_client(server, subreddits=["privatesub", "stocks", "wallstreetbets"])

    batches = run(client)

    assert ids(batches) == STOCKS_ALL + WSB_ALL
    report = client.last_report
    assert report.errors == {"privatesub": "r/privatesub is private (HTTP 403, private)"}
    assert [c.path for c in server.listing_calls()].count("/r/privatesub/new") == 1
    assert not any(c.path.startswith("/r/privatesub/") and "new" not in c.path for c in server.calls)
    assert report.stopped_at is None
    assert set(report.items) == {"stocks", "wallstreetbets"}


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (
            404,
            {"reason": "banned", "message": "Not Found", "error": 404},
            {},
            "r/gone is banned (HTTP 404, banned)",
        ),
        (
            302,  # what Reddit answers for a subreddit that never existed
            "",
            {"location": "https://www.reddit.com/subreddits/search.json?q=gone"},
            "r/gone does not exist (Reddit redirected to /subreddits/search)",
        ),
    ],
)
def test_a_banned_or_nonexistent_subreddit_is_reported_per_subreddit(
    status: int, body: Any, headers: dict[str, str], expected: str
) -> None:
    server = FakeReddit()
    server.fail("/r/gone/new", status, body, headers=headers)
    client = make_client(server, subreddits=["gone", "wallstreetbets"])

    batches = run(client)

    assert ids(batches) == WSB_ALL
    assert client.last_report.errors == {"gone": expected}


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, {"message": "Unauthorized", "error": 401}), (200, {"error": "invalid_grant"})],
)
def test_rejected_credentials_raise_reddit_auth_error(status: int, body: dict[str, Any]) -> None:
    server = FakeReddit()
    server.fail(TOKEN_PATH, status, body)
    client = make_client(server)

    with pytest.raises(RedditAuthError, match=r"REDDIT__CLIENT_ID and REDDIT__CLIENT_SECRET"):
        run(client)
    assert server.listing_calls() == []  # the token request failed before any listing was asked for


# --- configuration and input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "client_secret", "named", "not_named"),
    [
        ("", "", ["REDDIT__CLIENT_ID", "REDDIT__CLIENT_SECRET"], []),
        ("test-client-id", "  ", ["REDDIT__CLIENT_SECRET"], ["REDDIT__CLIENT_ID"]),
        ("", "test-client-secret", ["REDDIT__CLIENT_ID"], ["REDDIT__CLIENT_SECRET"]),
    ],
)
def test_missing_credentials_raise_before_any_request(
    client_id: str, client_secret: str, named: list[str], not_named: list[str]
) -> None:
    server = FakeReddit()

    with pytest.raises(MissingRedditCredentials) as caught:
        make_client(server, client_id=client_id, client_secret=client_secret)

    assert isinstance(caught.value, ValidationFailed)
    assert all(env in str(caught.value) for env in named)
    assert not any(env in str(caught.value) for env in not_named)
    assert server.requestors == 0 and server.calls == []


@pytest.mark.parametrize(
    ("subreddits", "limit", "problem"),
    [
        (["stocks", "not a sub!"], None, "not a subreddit name"),
        ([], None, "no subreddits"),
        (None, 0, "limit"),
    ],
)
def test_bad_input_is_rejected_before_any_request(
    subreddits: list[str] | None, limit: int | None, problem: str
) -> None:
    server = FakeReddit()
    client = make_client(server)

    with pytest.raises(ValidationFailed, match=problem):
        client.scrape(subreddits, limit)
    assert server.calls == []


def test_subreddit_names_are_normalised_and_deduplicated() -> None:
    server = FakeReddit()
    batches = run(make_client(server), ["r/WallStreetBets", "wallstreetbets", "/r/wallstreetbets/"])

    assert ids(batches) == WSB_ALL
    assert {item.subreddit for b in batches for item in b} == {"wallstreetbets"}
    assert len(server.listing_calls()) == 3


def test_report_is_current_when_the_caller_stops_early() -> None:
    client = make_client(FakeReddit())

    first = next(client.scrape())

    assert [i.reddit_id for i in first] == NEW_PAGE_1
    assert client.last_report.items == {"stocks": {"new": 3}}
    assert client.last_report.requests_used == 1


def test_a_malformed_entry_is_skipped_and_counted() -> None:
    server = FakeReddit()
    page = json.loads((DATA / "r_wallstreetbets_new.json").read_text(encoding="utf-8"))
    del page["data"]["children"][0]["data"]["created_utc"]
    server.fail("/r/wallstreetbets/new", 200, page)

    client = make_client(server, subreddits=["wallstreetbets"])

    batches = run(client)

    assert ids(batches) == WSB_ALL[1:]
    assert client.last_report.skipped_malformed == 1
