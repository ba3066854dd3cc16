"""`tft-trader --help` stays fast: importing the CLI loads none of the heavy libraries."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

HEAVY = ("torch", "xgboost", "lightgbm", "sklearn", "scipy", "yfinance", "pandas_ta_classic", "shap")


def _modules_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


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


def test_version_comes_from_the_package_metadata():
    from importlib import metadata

    from backend.cli import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tft-trader {metadata.version('tft-trader')}"
