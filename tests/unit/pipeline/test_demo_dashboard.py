"""The demo's dashboard step: built only when missing, and one line on why not when it cannot be."""

import os
import stat
from pathlib import Path

import pytest

from backend.pipeline.demo import SilentUI, dashboard


def frontend(tmp_path: Path, *, package: bool = True, built: bool = False) -> Path:
    root = tmp_path / "frontend"
    root.mkdir()
    if package:
        (root / "package.json").write_text("{}")
    if built:
        (root / "out").mkdir()
        (root / "out" / "index.html").write_text("<html></html>")
    return root


def fake_npm(tmp_path: Path, script: str) -> Path:
    """An `npm` on PATH that runs `script` (a real subprocess, not a mock)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\n" + script)
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_an_existing_build_is_kept(tmp_path: Path):
    assert dashboard(SilentUI(), frontend(tmp_path, built=True)).startswith("already built")


def test_no_package_json_says_so(tmp_path: Path):
    assert "no " in dashboard(SilentUI(), frontend(tmp_path, package=False)).split(":")[1]


def test_missing_npm_is_one_line_and_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    text = dashboard(SilentUI(), frontend(tmp_path))
    assert text.startswith("not built: npm is not installed") and "\n" not in text


def test_a_failing_build_names_the_command_and_its_last_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    script = 'if [ "$1" = "run" ]; then echo "Type error: boom" >&2; exit 1; fi\nexit 0\n'
    monkeypatch.setenv("PATH", f"{fake_npm(tmp_path, script)}{os.pathsep}/usr/bin:/bin")
    text = dashboard(SilentUI(), frontend(tmp_path))
    assert text.startswith("not built: `npm run build` failed (Type error: boom)")


def test_a_successful_build_runs_ci_then_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    log = tmp_path / "calls.txt"
    script = 'echo "$@" >> ' + str(log) + "\n"
    monkeypatch.setenv("PATH", f"{fake_npm(tmp_path, script)}{os.pathsep}/usr/bin:/bin")
    assert dashboard(SilentUI(), frontend(tmp_path)).startswith("built")
    assert log.read_text().splitlines() == ["ci --no-audit --no-fund", "run build"]
