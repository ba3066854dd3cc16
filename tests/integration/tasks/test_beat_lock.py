"""Exactly one beat: a second `celery beat` (a deploy overlap) waits for the Redis lock and takes over only
when the first one stops. Real processes on the real Redis, with a key prefix of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.integration.tasks.conftest import TEST_REDIS_URL

ACQUIRED = "beat: Acquired lock"


def start_beat(log: Path, queue: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": TEST_REDIS_URL,
        "TASKS__QUEUE": queue,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'beat.db'}",
    }
    command = [sys.executable, "-m", "celery", "-A", "backend.tasks", "beat", "--loglevel", "DEBUG"]
    return subprocess.Popen(
        command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=os.getcwd()
    )


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"tft-beat-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)


def test_a_second_beat_stays_idle_until_the_first_releases_the_lock(queue: str, tmp_path: Path) -> None:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    lock_key = f"{queue}:redbeat:lock"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_beat(first_log, queue, tmp_path)
    second = None
    try:
        assert wait_for(lambda: ACQUIRED in first_log.read_text(), 90), first_log.read_text()
        assert client.exists(lock_key)
        assert 0 < client.ttl(lock_key) <= 60  # the lowered lock timeout, not redbeat's 1500 s
        second = start_beat(second_log, queue, tmp_path)
        assert wait_for(lambda: "Acquiring lock" in second_log.read_text(), 90), second_log.read_text()
        time.sleep(12)  # more than two lock polls (beat_max_loop_interval = 5 s)
        assert ACQUIRED not in second_log.read_text()
        assert second.poll() is None  # waiting, not crashed

        first.send_signal(signal.SIGTERM)  # a deploy stops the old beat: it releases the lock
        assert first.wait(timeout=60) is not None
        assert "Releasing lock" in first_log.read_text()
        assert wait_for(lambda: ACQUIRED in second_log.read_text(), 30), second_log.read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
