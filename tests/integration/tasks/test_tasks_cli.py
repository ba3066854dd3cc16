"""`tft-trader schedule`, `runs list` and `pipeline enqueue`, including Redis being down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from backend.cli import app
from backend.tasks import jobs

runner = CliRunner()


def test_schedule_lists_every_entry_with_three_runs_in_both_zones() -> None:
    result = runner.invoke(app, ["schedule", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["name"] for r in rows} >= {
        "prices-after-close",
        "features",
        "predictions",
        "signals",
        "monitor",
    }
    for row in rows:
        assert len(row["next_et"]) == len(row["next_utc"]) == 3
        assert row["next_et"] == sorted(row["next_et"]) and row["expires_s"] > 0
    signals = next(r for r in rows if r["name"] == "signals")
    assert all(t.endswith(("17:45-05:00", "17:45-04:00")) for t in signals["next_et"])


@pytest.mark.parametrize("fresh_db", ["postgresql"], indirect=True)
def test_runs_list_shows_the_heartbeat_and_metrics_count_it(worker: Any, fresh_db: str) -> None:
    before = REGISTRY.get_sample_value("tft_pipeline_steps_total", {"task": "heartbeat", "status": "success"})
    jobs.heartbeat.apply_async().get(timeout=60)
    result = runner.invoke(app, ["runs", "list", "--json", "--limit", "5"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["task"], r["status"]) for r in rows] == [("heartbeat", "success")]
    assert "at" in rows[0]["counts"]
    ok = runner.invoke(app, ["runs", "list", "--json", "--status", "success"])
    assert [json.loads(line)["task"] for line in ok.output.splitlines()] == ["heartbeat"]
    assert runner.invoke(app, ["runs", "list", "--json", "--status", "failed"]).output == ""
    bogus = runner.invoke(app, ["runs", "list", "--status", "done"])
    assert bogus.exit_code == 1 and "--status 'done' is not a run status" in bogus.output
    after = REGISTRY.get_sample_value("tft_pipeline_steps_total", {"task": "heartbeat", "status": "success"})
    assert after == (before or 0) + 1
    assert (REGISTRY.get_sample_value("tft_heartbeat_timestamp_seconds") or 0) > 1.7e9


def test_enqueue_with_redis_down_says_so_and_reads_still_work(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REDIS_URL": "redis://127.0.0.1:6399/0",  # nothing listens here
        "DATABASE_URL": f"sqlite:///{tmp_path / 'down.db'}",
    }
    cli = [sys.executable, "-c", "from backend.cli import app; app()"]
    assert subprocess.run([*cli, "db", "upgrade"], env=env, capture_output=True).returncode == 0
    listed = subprocess.run([*cli, "runs", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    queued = subprocess.run(
        [*cli, "pipeline", "enqueue", "--as-of", "2013-03-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert queued.returncode == 1
    assert "Redis is unavailable at redis://127.0.0.1:6399/0" in queued.stderr
    assert "nothing was queued" in queued.stderr
    assert "Traceback" not in queued.stderr
