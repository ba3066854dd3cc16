"""Reddit client: read-only PRAW scraping of subreddit listings, paced, budgeted and resumable.

For each subreddit the client reads three listings, newest page first: `new` posts, `hot` posts and the
subreddit's comment stream (keeping top-level comments only, so no thread is expanded with
`replace_more`). Every listing page is one HTTP request and becomes one batch of `RedditItem`s, so the
caller stores as it goes and an interrupted run keeps everything already yielded.

Requests go through `praw.Reddit.request` rather than PRAW's `ListingGenerator`: a generator silently
issues a second request when Reddit returns a short page, which would escape the request budget, and
it hides the `after` cursor the client needs to resume a listing after a 429.

How the client treats failures:
* 429 `TooManyRequests` and `RATELIMIT` API errors: wait (Retry-After, `x-ratelimit-reset` or the
  message's "N minutes", else exponential from 2 s; capped at `max_backoff_seconds`) and retry the same
  page, up to `rate_limit_attempts` times; then the run stops.
* 5xx and connection errors: prawcore already retries those twice; if they persist the run stops.
* 403/404/redirect for a subreddit (private, quarantined, banned, nonexistent): recorded for that
  subreddit in the report; the other subreddits are still scraped.
* Rejected credentials: `RedditAuthError`.
`client.last_report` (a `ScrapeReport`) says what a run did and where it stopped.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import praw
import prawcore
from praw.exceptions import RedditAPIException
from prawcore import exceptions as prawcore_errors
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from backend.core.errors import DataSourceError, ValidationFailed
from backend.core.settings import RedditSettings, get_settings
from backend.sentiment.text import clean_text

log = logging.getLogger(__name__)

ListingName = Literal["new", "hot", "comments"]
IsStored = Callable[[Sequence[str]], AbstractSet[str]]

LISTINGS: tuple[ListingName, ...] = ("new", "hot", "comments")
PAGE_SIZE = 100  # Reddit's maximum `limit` per listing request
REDDIT_URL = "https://www.reddit.com"
REMOVED_MARKERS = frozenset({"[deleted]", "[removed]"})
BACKOFF_BASE_SECONDS = 2.0
MIN_BACKOFF_SECONDS = 1.0  # a "Retry-After: 0" must not turn into a tight retry loop
RATE_LIMIT_ATTEMPTS = 6

_SUBREDDIT_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{1,20}$")
_WAIT_IN_MESSAGE = re.compile(r"(\d+)\s*(millisecond|second|minute)s?", re.IGNORECASE)
_UNIT_SECONDS = {"millisecond": 0.001, "second": 1.0, "minute": 60.0}
# Subreddit-level refusals: private/quarantined (403), banned (404), nonexistent (302 to search), legal (451).
_SUBREDDIT_UNAVAILABLE = (
    prawcore_errors.Forbidden,
    prawcore_errors.NotFound,
    prawcore_errors.Redirect,
    prawcore_errors.UnavailableForLegalReasons,
)
_CREDENTIALS_REJECTED = (
    prawcore_errors.OAuthException,
    prawcore_errors.InvalidToken,
    prawcore_errors.InsufficientScope,
)


class MissingRedditCredentials(ValidationFailed):
    """The Reddit app's client id or secret is not configured."""


class RedditAuthError(DataSourceError):
    """Reddit rejected the app's credentials."""


@dataclass(frozen=True)
class RedditItem:
    """One post or top-level comment, as stored in `reddit_posts`."""

    reddit_id: str  # fullname: "t3_..." for posts, "t1_..." for comments
    kind: Literal["post", "comment"]
    subreddit: str  # lower-case, without "r/"
    title: str | None  # None for comments
    body: str  # selftext or comment body; "" for link posts and removed text
    author: str | None  # None when the account is deleted
    score: int
    num_comments: int | None  # posts only
    upvote_ratio: float | None  # posts only
    url: str | None  # posts: the link target (the thread itself for self posts); comments: None
    permalink: str  # absolute https://www.reddit.com/... URL of the post or comment
    created_at: datetime  # timezone-aware UTC
    parent_id: str | None  # comments: the submission's fullname "t3_..."; posts: None
    removed: bool  # deleted by the author or removed by moderators/Reddit


@dataclass
class ScrapeReport:
    """What one `scrape` run did. Kept up to date while the run goes, so it is right even if the caller
    stops iterating early."""

    request_budget: int
    requests_used: int = 0  # listing requests issued, 429s included (prawcore's own 5xx retries are not)
    items: dict[str, dict[str, int]] = field(default_factory=dict)  # subreddit -> listing -> items yielded
    errors: dict[str, str] = field(default_factory=dict)  # subreddit -> why it was skipped or failed
    rate_limit_waits: list[float] = field(default_factory=list)  # seconds waited after each 429/RATELIMIT
    skipped_malformed: int = 0  # listing entries without the fields an item needs
    stopped_at: str | None = None  # "r/stocks new, after t3_xxx" when the run ended early
    budget_exhausted: bool = False

    @property
    def interrupted(self) -> bool:
        return self.stopped_at is not None

    @property
    def total_items(self) -> int:
        return sum(sum(per_listing.values()) for per_listing in self.items.values())


def nothing_stored(ids: Sequence[str]) -> set[str]:
    """The `is_stored` of an empty database."""
    return set()


def normalize_subreddits(names: Sequence[str]) -> list[str]:
    """Lower-case names without "r/", duplicates dropped; a name Reddit cannot have is rejected."""
    if isinstance(names, str):
        names = [names]
    result: list[str] = []
    for raw in names:
        name = raw.strip().lower().removeprefix("/").removeprefix("r/").strip("/")
        if not _SUBREDDIT_NAME.fullmatch(name):
            raise ValidationFailed(
                f"{raw!r} is not a subreddit name: use 2-21 letters, digits or '_' (e.g. 'stocks')"
            )
        if name not in result:
            result.append(name)
    if not result:
        raise ValidationFailed(
            "no subreddits to scrape: pass some or set REDDIT__SUBREDDITS, e.g. '[\"stocks\"]'"
        )
    return result


class RedditClient:
    """Scrapes subreddit listings through a read-only PRAW "script" app.

    `requestor_class`/`requestor_kwargs` go to `praw.Reddit` (tests serve recorded responses through them);
    `sleep` and `clock` (monotonic seconds) drive pacing and backoff.
    """

    def __init__(
        self,
        settings: RedditSettings | None = None,
        *,
        requestor_class: type[prawcore.Requestor] | None = None,
        requestor_kwargs: dict[str, Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rate_limit_attempts: int = RATE_LIMIT_ATTEMPTS,
    ) -> None:
        self.settings = settings or get_settings().reddit
        _check_settings(self.settings)  # before any network object exists
        if rate_limit_attempts < 1:
            raise ValidationFailed(f"rate_limit_attempts must be at least 1, got {rate_limit_attempts}")
        self._sleep = sleep
        self._rate_limit_attempts = rate_limit_attempts
        self._pacer = _Pacer(self.settings.requests_per_minute, clock=clock, sleep=sleep)
        self.reddit = praw.Reddit(
            client_id=self.settings.client_id.strip(),
            client_secret=self.settings.client_secret.strip(),
            user_agent=self.settings.user_agent,
            check_for_async=False,  # PRAW is synchronous: async callers run the scrape in a worker thread
            check_for_updates=False,  # no PyPI calls from a scraper
            requestor_class=requestor_class,
            requestor_kwargs=requestor_kwargs,
        )
        self.reddit.read_only = True
        self.last_report = ScrapeReport(request_budget=self.settings.max_requests_per_run)

    def scrape(
        self,
        subreddits: Sequence[str] | None = None,
        limit: int | None = None,
        is_stored: IsStored = nothing_stored,
    ) -> Iterator[list[RedditItem]]:
        """Yield one batch of new items per listing page; `self.last_report` tells how the run went.

        Args:
            subreddits: names (default `settings.subreddits`).
            limit: listing entries to read per subreddit and listing (default `settings.posts_per_listing`).
            is_stored: given fullnames, returns those already stored. Paging `new` and `comments` stops at
                the first page whose items are all stored, and stored items are not yielded again; `hot`
                posts are always yielded so the caller can refresh their score and comment count.

        Raises:
            ValidationFailed: bad subreddit names or limit (before any request).
            RedditAuthError: Reddit rejected the credentials (items yielded before it stay valid).
        """
        names = normalize_subreddits(self.settings.subreddits if subreddits is None else subreddits)
        per_listing = self.settings.posts_per_listing if limit is None else limit
        if per_listing < 1:
            raise ValidationFailed(f"limit must be a positive number of items per listing, got {per_listing}")
        report = ScrapeReport(request_budget=self.settings.max_requests_per_run)
        self.last_report = report
        return self._run(names, per_listing, is_stored, report)

    def _run(
        self, names: list[str], limit: int, is_stored: IsStored, report: ScrapeReport
    ) -> Iterator[list[RedditItem]]:
        for name in names:
            for listing in LISTINGS:
                try:
                    yield from self._scrape_listing(name, listing, limit, is_stored, report)
                except _SubredditUnavailable as exc:
                    report.errors[name] = str(exc)
                    log.warning("Reddit: skipping r/%s: %s", name, exc)
                    break
                except _StopRun as exc:
                    report.stopped_at = exc.where
                    if exc.budget:
                        report.budget_exhausted = True
                        log.warning(
                            "Reddit: request budget of %d used up at %s", report.request_budget, exc.where
                        )
                    else:
                        report.errors[name] = exc.reason
                        log.error("Reddit: run stopped at %s: %s", exc.where, exc.reason)
                    return
        log.info("Reddit: %d items in %d requests", report.total_items, report.requests_used)

    def _scrape_listing(
        self, name: str, listing: ListingName, limit: int, is_stored: IsStored, report: ScrapeReport
    ) -> Iterator[list[RedditItem]]:
        after: str | None = None
        fetched = 0
        seen: set[str] = set()  # a listing can shift between pages; never yield an item twice
        while fetched < limit:
            count = min(PAGE_SIZE, limit - fetched)
            where = f"r/{name} {listing}, " + (f"after {after}" if after else "first page")
            children, next_after = self._fetch_page(name, listing, after, count, where, report)
            children = children[:count]
            if not children:
                return
            fetched += len(children)
            items = [
                item for item in self._parse_children(children, listing, report) if item.reddit_id not in seen
            ]
            seen.update(item.reddit_id for item in items)
            caught_up = False
            if listing != "hot":  # hot is re-read on purpose, to refresh scores
                ids = [item.reddit_id for item in items]
                stored = is_stored(ids) if ids else set()
                items = [item for item in items if item.reddit_id not in stored]
                caught_up = bool(ids) and not items
            if items:
                per_sub = report.items.setdefault(name, {})
                per_sub[listing] = per_sub.get(listing, 0) + len(items)
                yield items
            if caught_up or not next_after or next_after == after:
                return
            after = next_after

    def _parse_children(
        self, children: list[Any], listing: ListingName, report: ScrapeReport
    ) -> list[RedditItem]:
        items: list[RedditItem] = []
        for child in children:
            kind = child.get("kind") if isinstance(child, Mapping) else None
            data = child.get("data") if isinstance(child, Mapping) else None
            if not isinstance(data, Mapping) or kind != ("t1" if listing == "comments" else "t3"):
                report.skipped_malformed += 1
                continue
            if kind == "t1" and not str(data.get("parent_id", "")).startswith("t3_"):
                continue  # a reply to a comment: only top-level comments are kept
            try:
                items.append(_comment_item(data) if kind == "t1" else _post_item(data))
            except (KeyError, TypeError, ValueError) as exc:
                report.skipped_malformed += 1
                log.warning("Reddit: skipping a malformed %s entry (%r): %s", kind, data.get("name"), exc)
        return items

    def _fetch_page(
        self,
        name: str,
        listing: ListingName,
        after: str | None,
        count: int,
        where: str,
        report: ScrapeReport,
    ) -> tuple[list[Any], str | None]:
        """One listing page: its children and the `after` cursor of the next page."""
        path = f"r/{name}/comments/" if listing == "comments" else f"r/{name}/{listing}"
        params: dict[str, str | int] = {"limit": count}
        if after:
            params["after"] = after

        def record_wait(state: RetryCallState) -> None:
            seconds = state.next_action.sleep if state.next_action else 0.0
            report.rate_limit_waits.append(seconds)
            log.warning("Reddit rate limit at %s: waiting %.0f s before retrying", where, seconds)

        retrying = Retrying(
            retry=retry_if_exception(_is_rate_limited),
            wait=self._backoff_seconds,
            stop=stop_after_attempt(self._rate_limit_attempts),
            sleep=self._sleep,
            before_sleep=record_wait,
            reraise=True,
        )
        try:
            raw = retrying(self._request, path, params, report)
        except _BudgetExhausted:
            raise _StopRun(where, "request budget exhausted", budget=True) from None
        except prawcore_errors.TooManyRequests as exc:
            raise _StopRun(
                where, f"still rate limited after {self._rate_limit_attempts} attempts: {exc}"
            ) from exc
        except RedditAPIException as exc:
            raise _StopRun(where, f"Reddit API error: {exc}") from exc
        except _CREDENTIALS_REJECTED as exc:
            raise RedditAuthError(_credentials_rejected(str(exc))) from exc
        except _SUBREDDIT_UNAVAILABLE as exc:
            raise _SubredditUnavailable(_unavailable_reason(name, exc)) from exc
        except prawcore_errors.ResponseException as exc:
            if exc.response.status_code == 401:  # the token endpoint refused the client id/secret
                raise RedditAuthError(_credentials_rejected("HTTP 401 from the token endpoint")) from exc
            raise _StopRun(where, f"Reddit failed ({exc}) after prawcore's retries") from exc
        except prawcore_errors.RequestException as exc:
            raise _StopRun(where, f"could not reach Reddit ({exc.original_exception!r})") from exc
        return _listing_page(raw, where)

    def _request(self, path: str, params: dict[str, str | int], report: ScrapeReport) -> Any:
        if report.requests_used >= report.request_budget:
            raise _BudgetExhausted
        self._pacer.wait()
        report.requests_used += 1
        raw = self.reddit.request(method="GET", path=path, params=params)
        # API errors arrive as 200 {"json": {"errors": [["RATELIMIT", "...", "ratelimit"]]}}, as PRAW's
        # Objector reads them; an empty list means success.
        envelope = raw.get("json") if isinstance(raw, dict) else None
        if isinstance(envelope, dict) and envelope.get("errors"):
            raise RedditAPIException(envelope["errors"])
        return raw

    def _backoff_seconds(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hinted = _server_wait_seconds(error)
        if hinted is None:
            seconds = BACKOFF_BASE_SECONDS * 2 ** (state.attempt_number - 1)
        else:
            seconds = max(hinted, MIN_BACKOFF_SECONDS)
        return min(seconds, self.settings.max_backoff_seconds)


class _Pacer:
    """Spaces requests at least 60/requests_per_minute seconds apart.

    pyrate-limiter is not among our packages, and one request at a time needs no bucket: a minimum
    interval keeps us under Reddit's per-minute allowance. prawcore additionally slows down from the
    `x-ratelimit-*` headers when the allowance runs low.
    """

    def __init__(
        self, per_minute: int, *, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self.interval = 60.0 / per_minute
        self._clock = clock
        self._sleep = sleep
        self._next_at: float | None = None

    def wait(self) -> None:
        now = self._clock()
        if self._next_at is not None and now < self._next_at:
            self._sleep(self._next_at - now)
            now = self._next_at
        self._next_at = now + self.interval


class _BudgetExhausted(Exception):
    pass


class _SubredditUnavailable(Exception):
    pass


class _StopRun(Exception):
    """The run cannot go on; what was yielded stays valid."""

    def __init__(self, where: str, reason: str, *, budget: bool = False) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason
        self.budget = budget


def _check_settings(settings: RedditSettings) -> None:
    missing = [
        env
        for env, value in (
            ("REDDIT__CLIENT_ID", settings.client_id),
            ("REDDIT__CLIENT_SECRET", settings.client_secret),
        )
        if not value.strip()
    ]
    if missing:
        raise MissingRedditCredentials(
            f"Reddit credentials are missing: set {' and '.join(missing)} (from a 'script' app created at "
            f"{REDDIT_URL}/prefs/apps) in the environment or .env"
        )
    if len(settings.user_agent.strip()) < 7:
        raise ValidationFailed("REDDIT__USER_AGENT must describe the app, e.g. 'tft-trader/0.1 (by u/you)'")
    for env, number in (
        ("REDDIT__REQUESTS_PER_MINUTE", settings.requests_per_minute),
        ("REDDIT__MAX_REQUESTS_PER_RUN", settings.max_requests_per_run),
        ("REDDIT__POSTS_PER_LISTING", settings.posts_per_listing),
    ):
        if number < 1:
            raise ValidationFailed(f"{env} must be at least 1, got {number}")
    if settings.max_backoff_seconds < 0:
        raise ValidationFailed(
            f"REDDIT__MAX_BACKOFF_SECONDS must be >= 0, got {settings.max_backoff_seconds}"
        )


def _credentials_rejected(detail: str) -> str:
    return (
        f"Reddit rejected the app credentials ({detail}): check REDDIT__CLIENT_ID and REDDIT__CLIENT_SECRET; "
        f"they must belong to a 'script' app ({REDDIT_URL}/prefs/apps)"
    )


def _unavailable_reason(name: str, exc: Exception) -> str:
    if isinstance(exc, prawcore_errors.Redirect):
        return f"r/{name} does not exist (Reddit redirected to {exc.path})"
    response = exc.response if isinstance(exc, prawcore_errors.ResponseException) else None
    status = response.status_code if response is not None else "?"
    reason = ""
    if response is not None:
        try:
            body = response.json()
            reason = str(body.get("reason") or "") if isinstance(body, dict) else ""
        except ValueError:
            pass
    what = {"private": "is private", "banned": "is banned", "quarantined": "is quarantined"}.get(
        reason, "is not available"
    )
    return f"r/{name} {what} (HTTP {status}{', ' + reason if reason else ''})"


def _is_rate_limited(error: BaseException) -> bool:
    if isinstance(error, prawcore_errors.TooManyRequests):
        return True
    return isinstance(error, RedditAPIException) and any(
        item.error_type == "RATELIMIT" for item in error.items
    )


def _server_wait_seconds(error: BaseException | None) -> float | None:
    """How long Reddit asked us to wait, if it said."""
    if isinstance(error, prawcore_errors.TooManyRequests):
        headers = error.response.headers
        for header in ("retry-after", "x-ratelimit-reset"):
            try:
                return float(headers[header])
            except (KeyError, TypeError, ValueError):
                continue
        return None
    if isinstance(error, RedditAPIException):
        for item in error.items:
            match = _WAIT_IN_MESSAGE.search(item.message or "") if item.error_type == "RATELIMIT" else None
            if match:
                return int(match[1]) * _UNIT_SECONDS[match[2].lower()]
    return None


def _listing_page(raw: Any, where: str) -> tuple[list[Any], str | None]:
    data = raw.get("data") if isinstance(raw, dict) and raw.get("kind") == "Listing" else None
    children = data.get("children") if isinstance(data, dict) else None
    if not isinstance(children, list):
        raise _StopRun(where, f"Reddit returned something other than a listing: {str(raw)[:200]!r}")
    after = data.get("after") if isinstance(data, dict) else None
    return children, after if isinstance(after, str) and after else None


def _author(data: Mapping[str, Any]) -> str | None:
    author = data.get("author")
    return author if isinstance(author, str) and author and author not in REMOVED_MARKERS else None


def _created_at(data: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(data["created_utc"]), tz=UTC)


def _fullname(data: Mapping[str, Any], prefix: str) -> str:
    name = data.get("name")
    return name if isinstance(name, str) and name.startswith(prefix) else prefix + str(data["id"])


def _post_item(data: Mapping[str, Any]) -> RedditItem:
    body = clean_text(data.get("selftext"))
    body_removed = body.strip() in REMOVED_MARKERS
    return RedditItem(
        reddit_id=_fullname(data, "t3_"),
        kind="post",
        subreddit=str(data["subreddit"]).lower(),
        title=clean_text(data.get("title")),
        body="" if body_removed else body,
        author=_author(data),
        score=int(data.get("score") or 0),
        num_comments=int(data.get("num_comments") or 0),
        upvote_ratio=float(data["upvote_ratio"]) if data.get("upvote_ratio") is not None else None,
        url=str(data["url"]) if data.get("url") else None,
        permalink=REDDIT_URL + str(data["permalink"]),
        created_at=_created_at(data),
        parent_id=None,
        removed=body_removed or data.get("removed_by_category") is not None,
    )


def _comment_item(data: Mapping[str, Any]) -> RedditItem:
    body = clean_text(data.get("body"))
    body_removed = body.strip() in REMOVED_MARKERS
    return RedditItem(
        reddit_id=_fullname(data, "t1_"),
        kind="comment",
        subreddit=str(data["subreddit"]).lower(),
        title=None,
        body="" if body_removed else body,
        author=_author(data),
        score=int(data.get("score") or 0),
        num_comments=None,
        upvote_ratio=None,
        url=None,
        permalink=REDDIT_URL + str(data["permalink"]),
        created_at=_created_at(data),
        parent_id=str(data["link_id"]),
        removed=body_removed or data.get("removed_by_category") is not None,
    )
