"""Messages show numbers and words, never Python values ("model None", "0 rejected: {}", dicts)."""

import re

from typer.testing import CliRunner

from backend.cli import app
from backend.cli.ml import balance_text
from backend.cli.portfolio import _print_backtest
from backend.core.settings import override_settings

PYTHON_VALUES = re.compile(r"\bNone\b|\{\}|\{'|\[\]|\['")


def _results(reasons: dict[str, int], rejected: int) -> dict:
    metrics = {"total_return": 0.05, "n_trades": 3}
    return {
        "run_id": 7,
        "start": "2010-01-04",
        "end": "2010-12-31",
        "strategy": metrics,
        "baselines": {"rsi_mean_reversion": metrics},
        "benchmark": metrics,
        "model": {
            "n_predictions": 1250,
            "oos_accuracy": 0.41,
            "always_hold_accuracy": 0.52,
            "retrains": 50,
            "signals_approved": 2,
            "signals_rejected": rejected,
            "rejection_reasons": reasons,
        },
    }


def test_backtest_summary_without_rejections_has_no_empty_dict(capsys):
    _print_backtest(_results({}, 0))
    out = capsys.readouterr().out
    assert "2 signals, 0 rejected" in out
    assert not PYTHON_VALUES.search(out), out


def test_backtest_summary_lists_rejection_reasons_as_words(capsys):
    _print_backtest(_results({"confidence": 4, "max_positions": 1}, 5))
    out = capsys.readouterr().out
    assert "5 rejected: confidence (4), max_positions (1)" in out
    assert not PYTHON_VALUES.search(out), out


def test_class_balance_is_percentages():
    assert balance_text({"BUY": 0.214, "HOLD": 0.55, "SELL": 0.236}) == "BUY 21%, HOLD 55%, SELL 24%"


def test_bad_arguments_fail_before_any_work(tmp_path):
    with override_settings(data_dir=tmp_path, database_url=""):  # no database: arguments are checked first
        result = CliRunner().invoke(app, ["check", "lookahead", "--dates", "0"])
        assert result.exit_code == 2 and "at least one date" in result.output
        for command in (["predict"], ["train"], ["pipeline", "run"], ["check", "lookahead"]):
            result = CliRunner().invoke(app, [*command, "--as-of", "yesterday"])
            assert result.exit_code == 2 and "'yesterday' is not a date" in result.output, command
