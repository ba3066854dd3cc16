"""`tft-trader serve` as a real process on a free port: server-sent events and a schemathesis run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.core.settings import override_settings
from backend.events import bus
from tests.integration.api.conftest import Seeded, seed_database

pytestmark = pytest.mark.postgres
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(make_database, tmp_path_factory) -> Iterator[tuple[str, Seeded]]:
    """A seeded PostgreSQL database and `tft-trader serve` on it; yields (base URL, seed)."""
    url = make_database("postgresql")
    data_dir = tmp_path_factory.mktemp("live")
    with override_settings(database_url=url, data_dir=data_dir):
        seed = seed_database(url, data_dir)
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DATA_DIR": str(data_dir),
            "API__SSE_HEARTBEAT_SECONDS": "0.5",
            "API__RATE_LIMIT_PER_MINUTE": "100000",
            # schemathesis also sends malformed Authorization headers, which spend the client IP's budget.
            "API__ANONYMOUS_RATE_LIMIT_PER_MINUTE": "100000",
            "LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            [str(BIN / "tft-trader"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180  # imports pandas, sklearn, xgboost: slow on a busy machine
            while True:
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise RuntimeError(f"tft-trader serve did not start: {out[-2000:]}")
                time.sleep(0.2)
            yield base, seed
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def test_sse_delivers_heartbeats_and_published_events(server):
    base, seed = server
    headers = {"Authorization": f"Bearer {seed.read_key}"}
    received: list[tuple[str, str]] = []
    async with (
        httpx.AsyncClient(base_url=base, timeout=10) as client,
        client.stream("GET", "/api/v1/events", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        published = False
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event:
                received.append((event, line.split(":", 1)[1].strip()))
                if event == "heartbeat" and not published:
                    # Subscribed (a heartbeat came through): now publish as a pipeline step would.
                    assert await bus.publish("signal.created", {"ticker": "AAPL", "signal_id": 7}) >= 1
                    published = True
                if event == "signal.created":
                    break
    assert received[0][0] == "heartbeat"
    payload = json.loads(received[-1][1])
    assert payload["type"] == "signal.created" and payload["data"] == {"ticker": "AAPL", "signal_id": 7}


async def test_events_need_a_key(server):
    base, _ = server
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        r = await client.get("/api/v1/events")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_schemathesis_finds_no_server_errors_and_no_schema_mismatches(server, tmp_path):
    base, seed = server
    result = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            f"{base}/api/v1/openapi.json",
            "-H",
            f"Authorization: Bearer {seed.read_key}",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--exclude-path",
            "/api/v1/events",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--generation-deterministic",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
