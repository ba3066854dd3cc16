"""The portfolio package never imports the signal code (signals import the portfolio, one way), and the
moved types are the same objects under their old names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import backend.portfolio

PORTFOLIO = Path(backend.portfolio.__file__).parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_portfolio_module_imports_backend_signals() -> None:
    files = sorted(PORTFOLIO.glob("*.py"))
    assert len(files) >= 6  # the package is where we think it is
    offenders = {
        f.name: sorted(
            m for m in imported_modules(f) if m == "backend.signals" or m.startswith("backend.signals.")
        )
        for f in files
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_importing_the_portfolio_does_not_load_the_signal_code() -> None:
    code = (
        "import sys, backend.portfolio.service, backend.portfolio.book, backend.portfolio.ledger; "
        "print(sorted(m for m in sys.modules if m.startswith('backend.signals')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_moved_types_keep_their_old_names() -> None:
    from backend.portfolio import models, positions
    from backend.signals import exits, schemas
    from backend.signals import models as signal_models

    assert schemas.SignalRecord is positions.SignalRecord and schemas.OPEN_STATUSES == ("pending", "active")
    assert exits.OpenPosition is positions.OpenPosition
    assert frozenset({"stop_loss", "trailing_stop"}) == exits.STOP_EXIT_REASONS
    assert signal_models.TradingSignal is models.TradingSignal
    assert models.TradingSignal.__tablename__ == "trading_signals"
