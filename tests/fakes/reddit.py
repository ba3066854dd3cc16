"""A fake Reddit at prawcore's HTTP boundary, serving the recorded JSON in tests/data/reddit/.

`FakeRequestor` replaces prawcore's `Requestor`, the one object that calls `requests`: PRAW, prawcore's
OAuth flow, sessions, retries and error mapping all run for real.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import prawcore
import requests
from requests.structures import CaseInsensitiveDict

from backend.core.settings import RedditSettings
from backend.sentiment.reddit import RedditClient, RedditItem

DATA = Path(__file__).parents[1] / "data" / "reddit"
TOKEN_PATH = "/api/v1/access_token"
LATENCY = 0.5  # simulated seconds per API response


class FakeClock:
    """Monotonic seconds that only move when someone sleeps or a response takes time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any]
    at: float


def _response(status: int, body: Any, url: str, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.url = url
    response.encoding = "utf-8"
    response.headers = CaseInsensitiveDict(
        {"content-type": "application/json; charset=UTF-8", **(headers or {})}
    )
    text = body if isinstance(body, str) else json.dumps(body)
    response._content = text.encode("utf-8", errors="surrogatepass")
    return response


class FakeReddit:
    """Serves recorded responses: `r/stocks/new` with after=t3_x -> r_stocks_new.after_t3_x.json."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.calls: list[Call] = []
        self.requestors = 0
        self.credentials: list[tuple[str, str]] = []
        self._scripted: dict[tuple[str, str | None], list[tuple[int, Any, dict[str, str]]]] = {}

    def fail(
        self,
        path: str,
        status: int,
        body: Any = "",
        *,
        after: str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        self._scripted.setdefault((path, after), []).extend([(status, body, headers or {})] * times)

    def listing_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path != TOKEN_PATH]

    def handle(
        self, method: str, url: str, params: dict[str, Any], data: Any, auth: Any, headers: Any
    ) -> Any:
        path = urlsplit(url).path
        self.calls.append(Call(method.upper(), path, dict(params or {}), self.clock.now))
        scripted = self._scripted.get((path, params.get("after") if params else None))
        if path == TOKEN_PATH:
            assert method.upper() == "POST" and dict(data)["grant_type"] == "client_credentials"
            self.credentials.append(auth)
        else:
            assert headers["Authorization"].startswith("bearer eyJ"), "API call made without the OAuth token"
            self.clock.now += LATENCY
        if scripted:
            status, body, extra = scripted.pop(0)
            return _response(status, body, url, extra)
        if path == TOKEN_PATH:
            return _response(200, (DATA / "access_token.json").read_text(encoding="utf-8"), url)
        name = path.strip("/").replace("/", "_")
        if params.get("after"):
            name += f".after_{params['after']}"
        file = DATA / f"{name}.json"
        if not file.exists():
            return _response(404, {"message": "Not Found", "error": 404}, url)
        return _response(200, file.read_text(encoding="utf-8"), url)


class FakeRequestor(prawcore.Requestor):
    """prawcore's HTTP boundary, answered by a `FakeReddit` instead of `requests`."""

    def __init__(self, *, server: FakeReddit, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        server.requestors += 1
        self.server = server

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return self.server.handle(
            method,
            url,
            kwargs.get("params") or {},
            kwargs.get("data"),
            kwargs.get("auth"),
            kwargs.get("headers"),
        )


def make_client(server: FakeReddit, **settings: Any) -> RedditClient:
    values: dict[str, Any] = {
        "client_id": "test-client-id",
        "client_secret": "test-client-secret",
        "subreddits": ["stocks"],
        "requests_per_minute": 600,  # 0.1 s apart: LATENCY alone keeps us slower, so no pacing sleeps
    }
    values.update(settings)
    return RedditClient(
        RedditSettings(**values),
        requestor_class=FakeRequestor,
        requestor_kwargs={"server": server},
        sleep=server.clock.sleep,
        clock=server.clock,
    )


def run(client: RedditClient, *args: Any, **kwargs: Any) -> list[list[RedditItem]]:
    return list(client.scrape(*args, **kwargs))


def ids(batches: list[list[RedditItem]]) -> list[str]:
    return [item.reddit_id for batch in batches for item in batch]
