"""`tft-trader portfolio ...` and `monitor` on a committed database: the kill switch a user sets by hand."""

import json

import pytest
from typer.testing import CliRunner

from backend.cli import app

runner = CliRunner()
both = pytest.mark.parametrize("fresh_db", ["sqlite", "postgresql"], indirect=True)


def show() -> dict:
    result = runner.invoke(app, ["portfolio", "show", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@both
def test_the_kill_switch_is_set_and_cleared_by_hand(fresh_db: str) -> None:
    missing = runner.invoke(app, ["portfolio", "show"])
    assert missing.exit_code == 1 and "no live portfolio yet" in missing.stderr

    halted = runner.invoke(app, ["portfolio", "halt", "--reason", "earnings week"])
    assert halted.exit_code == 0, halted.output
    state = show()
    assert (state["kill_switch"], state["kill_switch_reason"]) == (True, "earnings week")
    assert (state["cash"], state["equity"], state["positions"]) == (100_000.0, 100_000.0, [])

    resumed = runner.invoke(app, ["portfolio", "resume"])
    assert resumed.exit_code == 0, resumed.output
    state = show()
    assert (state["kill_switch"], state["kill_switch_reason"], state["drawdown"]) == (False, None, 0.0)


@both
def test_monitor_without_prices_says_so(fresh_db: str) -> None:
    result = runner.invoke(app, ["monitor"])
    assert result.exit_code == 1
    assert "no prices are stored" in result.stderr
