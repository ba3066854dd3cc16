"""`GET /metrics` (request counters and database gauges) and Sentry reporting an unhandled API error to a
real local HTTP receiver standing in for Sentry's ingest endpoint."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import sentry_sdk
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.api.app import create_app
from backend.core.settings import override_settings
from backend.db.engine import dispose_engines, transaction
from backend.notify.models import NotificationDelivery, NotificationEvent, NotificationSubscription
from backend.pipeline.models import PipelineRun

pytestmark = pytest.mark.postgres
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition as (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests_of(data: Samples, route: str, status: str, method: str = "GET") -> float:
    key = ("tft_http_requests_total", (("method", method), ("route", route), ("status", status)))
    return data.get(key, 0.0)


async def _client(app: Any, **kwargs: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, **kwargs)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
def api_settings(tmp_path: Path) -> Iterator[None]:
    # No dashboard build: unknown paths outside /api are the router's own 404.
    with override_settings(data_dir=tmp_path, api={"static_dir": tmp_path / "no-build", "public_read": True}):
        yield


@pytest.mark.parametrize("fresh_db", ["sqlite", "postgresql"], indirect=True)
async def test_metrics_count_requests_by_route_template_and_read_the_database(
    fresh_db: str, api_settings: None
) -> None:
    async def seed(session: AsyncSession) -> None:
        at = datetime(2012, 7, 3, 21, 5, tzinfo=UTC)
        common = {"counts": {}, "started_at": at, "deadline_at": at, "attempts": 1}
        await session.execute(
            insert(PipelineRun),
            [
                {**common, "task": "features", "trading_date": date(2012, 7, 2), "status": "success",
                 "finished_at": at},
                # The newest date decides the step's status, whatever the older rows say.
                {**common, "task": "features", "trading_date": date(2012, 7, 3), "status": "failed",
                 "finished_at": at, "error": "boom"},
                {**common, "task": "prices", "trading_date": date(2012, 7, 3), "status": "running"},
                {**common, "task": "prices:batch-001-of-002", "trading_date": date(2012, 7, 5),
                 "status": "success", "finished_at": at},
            ],
        )  # fmt: skip
        sub = (
            await session.execute(
                insert(NotificationSubscription)
                .values(channel="webhook", target="https://example.com/hook", events=["signal"], active=True)
                .returning(NotificationSubscription.id)
            )
        ).scalar_one()
        event_ids = (
            await session.scalars(
                insert(NotificationEvent)
                .returning(NotificationEvent.id)
                .values(
                    [
                        {"type": "signal", "payload": {}, "dedupe_key": f"k{i}", "public_id": f"evt_{i}"}
                        for i in range(3)
                    ]
                )
            )
        ).all()
        await session.execute(
            insert(NotificationDelivery),
            [
                {"event_id": e, "subscription_id": sub, "status": s}
                for e, s in zip(event_ids, ["failed", "failed", "sent"], strict=True)
            ],
        )

    async with transaction() as session:
        await seed(session)
    app = create_app()
    async with await _client(app) as c:
        before = samples((await c.get("/metrics")).text)
        for _ in range(3):
            assert (await c.get("/api/v1/health")).status_code == 200
        assert (await c.get("/api/v1/signals/987654")).status_code == 404
        assert (await c.get("/api/v1/signals/123456")).status_code == 404
        assert (await c.get("/wp-login.php")).status_code == 404
        response = await c.get("/metrics")
    await dispose_engines()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    after = samples(response.text)

    assert requests_of(after, "/api/v1/health", "200") - requests_of(before, "/api/v1/health", "200") == 3
    # Route templates, not raw paths: two ids are one series; an unknown URL is "unmatched".
    template = "/api/v1/signals/{signal_id}"
    assert requests_of(after, template, "404") - requests_of(before, template, "404") == 2
    assert requests_of(after, "unmatched", "404") - requests_of(before, "unmatched", "404") == 1
    assert not any("987654" in str(labels) or "wp-login" in str(labels) for _, labels in after)
    assert requests_of(after, "/metrics", "200") - requests_of(before, "/metrics", "200") == 1
    latency = ("tft_http_request_duration_seconds_count", (("method", "GET"), ("route", "/api/v1/health")))
    assert after[latency] - before.get(latency, 0.0) == 3

    assert after[("tft_database_up", ())] == 1.0
    status = {
        (dict(labels)["task"], dict(labels)["status"]): value
        for (name, labels), value in after.items()
        if name == "tft_pipeline_step_status"
    }
    assert {k for k, v in status.items() if v == 1.0} == {("features", "failed"), ("prices", "running")}
    assert len(status) == 2 * 4  # every state of each step, batches left out
    day = ("tft_pipeline_step_trading_date", (("task", "features"),))
    assert after[day] == datetime(2012, 7, 3, tzinfo=UTC).timestamp()
    finished = ("tft_pipeline_step_finished_timestamp_seconds", (("task", "features"),))
    assert after[finished] == datetime(2012, 7, 3, 21, 5, tzinfo=UTC).timestamp()
    assert ("tft_pipeline_step_finished_timestamp_seconds", (("task", "prices"),)) not in after
    deliveries = {
        dict(labels)["status"]: v for (n, labels), v in after.items() if n == "tft_notification_deliveries"
    }
    assert deliveries == {"pending": 0.0, "sent": 1.0, "failed": 2.0, "disabled": 0.0}


async def test_metrics_token_and_an_unreachable_database(api_settings: None) -> None:
    url = "postgresql://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    with override_settings(database_url=url, api={"metrics_token": "s3cret-token"}):
        app = create_app()
        async with await _client(app) as c:
            refused = await c.get("/metrics")
            wrong = await c.get("/metrics", headers={"Authorization": "Bearer nope"})
            ok = await c.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        await dispose_engines()
    assert refused.status_code == 401 and wrong.status_code == 401
    assert "API__METRICS_TOKEN" in refused.json()["error"]["message"]
    assert ok.status_code == 200
    data = samples(ok.text)
    # The request metrics still answer; the database's absence is a gauge, not a 500.
    assert data[("tft_database_up", ())] == 0.0
    assert not any(name == "tft_pipeline_step_status" for name, _ in data)


class _Receiver(BaseHTTPRequestHandler):
    """Stands in for Sentry's ingest: keeps every envelope POSTed to it."""

    envelopes: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).envelopes.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def sentry_receiver() -> Iterator[str]:
    _Receiver.envelopes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_address[1]}/42"
    finally:
        sentry_sdk.get_client().close()  # later tests run without a Sentry client
        server.shutdown()
        server.server_close()


def _events(envelope: bytes) -> list[dict[str, Any]]:
    """The `event` items of an envelope (header line, then item header / payload line pairs)."""
    lines = envelope.split(b"\n")
    out = []
    for header, payload in zip(lines[1::2], lines[2::2], strict=False):
        if json.loads(header).get("type") == "event":
            out.append(json.loads(payload))
    return out


@pytest.mark.parametrize("fresh_db", ["sqlite"], indirect=True)
async def test_sentry_receives_an_unhandled_api_error(
    fresh_db: str, api_settings: None, sentry_receiver: str
) -> None:
    with override_settings(sentry_dsn=sentry_receiver, environment="test"):
        app = create_app()

    async def boom() -> None:
        raise RuntimeError("kaboom in a route")

    app.add_api_route("/boom", boom)
    async with await _client(app, raise_app_exceptions=False) as c:
        handled = await c.get("/api/v1/signals/5")  # an expected 404 is not an error to report
        crashed = await c.get("/boom")
    await dispose_engines()
    assert handled.status_code == 404
    assert crashed.status_code == 500 and crashed.json()["error"]["code"] == "internal_error"
    assert "kaboom" not in crashed.text  # the client sees no internals

    sentry_sdk.flush(timeout=10)
    assert _Receiver.envelopes, "no envelope reached the receiver"
    assert {path for path, _ in _Receiver.envelopes} == {"/api/42/envelope/"}
    events = [e for _, body in _Receiver.envelopes for e in _events(body)]
    crashes = [
        e
        for e in events
        if any(v.get("type") == "RuntimeError" for v in e.get("exception", {}).get("values", []))
    ]
    assert crashes, f"no RuntimeError event among {len(events)} events"
    event = crashes[0]
    exception = event["exception"]["values"][-1]
    assert exception["value"] == "kaboom in a route"
    assert event["environment"] == "test"
    assert event["request"]["url"].endswith("/boom")
    assert "fastapi" in {i for i in event["sdk"]["integrations"]}
    assert not any("signals/5" in json.dumps(e.get("request", {})) for e in events)
