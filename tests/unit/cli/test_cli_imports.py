"""`tft-trader --help` stays fast: importing the CLI loads none of the heavy libraries."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

HEAVY = ("torch", "xgboost", "lightgbm", "sklearn", "scipy", "yfinance", "pandas_ta_classic", "shap")


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_library():
    loaded = _modules_after("import backend.cli")
    assert not [m for m in HEAVY if m in loaded]
    # Not in the rule's list, but each costs a noticeable part of a second at startup.
    assert not {"pandas", "sqlalchemy", "exchange_calendars", "pytickersymbols", "alembic"} & loaded


def test_the_check_would_catch_a_heavy_import():
    """The probe itself works: a module that imports pandas-ta is seen."""
    loaded = _modules_after("import backend.cli\nimport backend.market.indicators")
    assert "pandas_ta_classic" in loaded


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["models", "--help"], ["prices", "--help"]])
def test_help_and_version_answer_without_heavy_imports(args):
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom backend.cli import app\n"
        f"result = CliRunner().invoke(app, {args!r})\nassert result.exit_code == 0, result.output"
    )
    loaded = _modules_after(code)
    assert not [m for m in HEAVY if m in loaded]


def test_quick_commands_run_without_heavy_libraries(tmp_path):
    """`db upgrade`, `models list` and `portfolio show` on a fresh embedded database."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DATA_DIR": str(tmp_path)}

    def after(*commands: list[str]) -> set[str]:
        code = "from typer.testing import CliRunner\nfrom backend.cli import app\n"
        for args in commands:
            # No live portfolio yet: one line, exit 1.
            expected = 1 if args[0] == "portfolio" or args[:2] == ["signals", "candidates"] else 0
            code += f"assert CliRunner().invoke(app, {args!r}).exit_code == {expected}\n"
        return _modules_after(code, env)

    registry = after(["db", "upgrade"], ["models", "list"])
    assert not [m for m in HEAVY if m in registry]
    assert "pandas" not in registry  # the registry is a query; pandas alone costs half a second
    assert (tmp_path / "tft_trader.db").exists()
    assert not [m for m in HEAVY if m in after(["portfolio", "show"])]


QUICK_READS = [["runs", "list"], ["models", "list"], ["portfolio", "show"], ["signals", "candidates"]]


@pytest.mark.parametrize("args", QUICK_READS, ids=lambda a: " ".join(a))
def test_quick_reads_import_no_dataframe_or_calendar_library(tmp_path, args):
    """The quick reads answer from rows: pandas, numpy and the exchange calendar (about 2 s together
    without a bytecode cache) stay unloaded, and so does Celery."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DATA_DIR": str(tmp_path)}
    migrate = "from typer.testing import CliRunner\nfrom backend.cli import app\n"
    _modules_after(migrate + "assert CliRunner().invoke(app, ['db', 'upgrade']).exit_code == 0", env)
    code = (
        "from typer.testing import CliRunner\nfrom backend.cli import app\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "assert result.exit_code in (0, 1), result.output\n"
        "assert 'Traceback' not in result.output, result.output\n"
    )
    loaded = _modules_after(code, env)
    light = {"pandas", "numpy", "exchange_calendars", "celery"}
    assert not sorted(light & loaded)
    assert not [m for m in HEAVY if m in loaded]


def test_version_comes_from_the_package_metadata():
    from importlib import metadata

    from backend.cli import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tft-trader {metadata.version('tft-trader')}"
