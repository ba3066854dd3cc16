"""Browser tests of the dashboard: Playwright (Python) driving Debian's Chromium against `tft-trader serve`
on a demo database.

Run them in their own pytest invocation (`uv run --no-sync pytest tests/e2e`): sync Playwright breaks
pytest-asyncio tests collected after it in the same process. The dashboard must be built first
(`npm ci && npm run build` in frontend/); `.ci/run` does both.

The fixture database is what `tft-trader demo --no-serve` makes, in a temp SQLite file, on the first
`DEMO_TICKERS` of the bundled 505 stocks and a half-year replay (the whole demo takes minutes; the pages
are the same). The model is NOT trusted on this data, so the demo records no signal; the fixture then
writes a few signals marked TEST DATA from the demo day's candidates (`seed_signals.py`) so the Signals
pages, their filters and the detail view have rows.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "frontend" / "out"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DEMO_AS_OF = "2018-02-07"  # the bundled 505-stock history's last session
DEMO_TICKERS = "40"  # the first 40 alphabetically: AAPL among them
DEMO_SESSIONS = "126"  # half a year replayed, retrained every quarter


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, env: dict[str, str], timeout: float, log: Path) -> None:
    tft = shutil.which("tft-trader") or str(Path(sys.executable).with_name("tft-trader"))
    with log.open("a") as out:
        out.write(f"\n$ tft-trader {' '.join(args)}\n")
        out.flush()
        done = subprocess.run(
            [tft, *args], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"tft-trader {' '.join(args)} failed ({done.returncode}); see {log}")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"{CHROMIUM} is missing: `apt-get install -y chromium` (Playwright cannot download one)"
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of every command and the server: a temp SQLite database and data dir."""
    if not (OUT / "index.html").is_file():
        raise RuntimeError(f"no dashboard build in {OUT}: run `npm ci && npm run build` in frontend/ first")
    tmp = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API__", "RISK__", "ML__"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'demo.db'}",
        DATA_DIR=str(tmp),
        ENVIRONMENT="test",
        # No LSTM: the fixture stays fast whether or not torch is installed (the tests look at the pages).
        ML__WEIGHT_LSTM="0",
        DEMO__BUILD_DASHBOARD="false",
        # 40 tickers at the default 0.05 posts a day may leave the last day without a mention: denser feed.
        DEMO__POSTS_PER_TICKER_DAY="0.5",  # .ci/run built it already; the fixture refuses to start without it
        API__PUBLIC_READ="true",
        API__ANONYMOUS_RATE_LIMIT_PER_MINUTE="100000",
        API__RATE_LIMIT_PER_MINUTE="100000",
        API__STATIC_DIR=str(OUT),
        NEXT_TELEMETRY_DISABLED="1",
    )
    return env


@pytest.fixture(scope="session")
def demo_db(demo_env: dict[str, str]) -> Path:
    """The demo's database (with its replay: a backtest run beside the rules and buy-and-hold).

    `E2E_DEMO_DB=/path/file.db` (for working on the tests): reuse that file when it exists, else build it
    and keep a copy there. CI leaves it unset and builds from scratch.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "fixture.log"
    log.write_text("")
    started = time.perf_counter()
    path = Path(demo_env["DATABASE_URL"].removeprefix("sqlite:///"))
    keep = Path(os.environ["E2E_DEMO_DB"]) if os.environ.get("E2E_DEMO_DB") else None
    if keep is not None and keep.is_file():
        shutil.copyfile(keep, path)
    else:
        demo = ("demo", "--no-serve", "--tickers", DEMO_TICKERS, "--sessions", DEMO_SESSIONS)
        _cli(*demo, env=demo_env, timeout=1200, log=log)
    with log.open("a") as out:  # TEST DATA: see seed_signals.py
        subprocess.run(
            [sys.executable, "-m", "tests.e2e.seed_signals"],
            env=demo_env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=300,
        )
    with log.open("a") as out:
        out.write(f"\nfixture took {time.perf_counter() - started:.0f} s\n")
    if keep is not None and not keep.is_file():
        shutil.copyfile(path, keep)
    with sqlite3.connect(path) as db:
        signals = db.execute("select count(*) from trading_signals where status != 'rejected'").fetchone()[0]
    assert signals > 0, "no signal in the fixture database: the Signals pages would have no data"
    return path


@pytest.fixture(scope="session")
def write_key(demo_db: Path, demo_env: dict[str, str]) -> str:
    """A write key for the Settings page's forms (the server reads without one: public read is on)."""
    tft = shutil.which("tft-trader") or str(Path(sys.executable).with_name("tft-trader"))
    out = subprocess.run(
        [tft, "apikey", "create", "e2e", "--scope", "write"],
        env=demo_env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    key = next((w for w in out.split() if w.startswith("tft_")), None)
    assert key, f"no key in `apikey create` output: {out!r}"
    return key


@pytest.fixture(scope="session")
def server(demo_db: Path, demo_env: dict[str, str]) -> Iterator[str]:
    """`tft-trader serve` on a free port; yields its base URL."""
    port = _free_port()
    tft = shutil.which("tft-trader") or str(Path(sys.executable).with_name("tft-trader"))
    log = (ARTIFACTS / "server.log").open("w")
    proc = subprocess.Popen(
        [tft, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=demo_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {ARTIFACTS / 'server.log'}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def base_url(server: str) -> str:
    """pytest-playwright's base URL: `page.goto("/signals/")` goes to the test server."""
    return server
