"""`tft-trader demo --no-serve` end to end on a small slice of the bundled history, in a temp SQLite file.

It runs the real flow (migrate, ticker list, real prices with sectors, the synthetic feed, walk-forward
training with the edge test, the replay with retraining and both baselines, the live day, a read key);
only the size is cut down (12 tickers, 42 replayed sessions) so the test stays under a minute.
"""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from backend.cli import app
from backend.core.settings import override_settings

runner = CliRunner()
N_TICKERS, N_SESSIONS = 12, 42


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("demo")
    db = home / "demo.db"
    with override_settings(data_dir=home, database_url="", demo={"retrain_every_days": 21}):
        result = runner.invoke(
            app,
            [
                "demo",
                "--no-serve",
                "--no-build",
                "--db",
                str(db),
                "--tickers",
                str(N_TICKERS),
                "--sessions",
                str(N_SESSIONS),
            ],
        )
    assert result.exit_code == 0, result.output + result.stderr
    with sqlite3.connect(db) as conn:
        yield conn, result.stdout


def scalar(conn: sqlite3.Connection, sql: str, *args):
    return conn.execute(sql, args).fetchone()[0]


def test_prices_of_the_subset_with_gics_sectors_and_the_full_ticker_list(demo_db):
    conn, _ = demo_db
    tickers = [r[0] for r in conn.execute("SELECT DISTINCT ticker FROM stock_prices ORDER BY ticker")]
    assert len(tickers) == N_TICKERS
    assert tickers[0] == "A"  # alphabetical: the first N of the bundled list
    assert scalar(conn, "SELECT count(*) FROM stock_prices") > N_TICKERS * 1000
    marks = ",".join("?" * len(tickers))
    sectors = conn.execute(f"SELECT sector FROM tickers WHERE symbol IN ({marks})", tickers).fetchall()
    assert all(s[0] for s in sectors) and {"Health Care", "Information Technology"} & {s[0] for s in sectors}
    assert scalar(conn, "SELECT count(*) FROM tickers") > 5000  # the US listing, not only the subset


def test_the_reddit_feed_is_synthetic_and_about_those_tickers(demo_db):
    conn, out = demo_db
    posts = scalar(conn, "SELECT count(*) FROM reddit_posts")
    assert posts > 100
    assert scalar(conn, "SELECT count(*) FROM reddit_posts WHERE synthetic = 0") == 0
    assert scalar(conn, "SELECT count(*) FROM reddit_posts WHERE reddit_id NOT LIKE 'synthetic_%'") == 0
    mentioned = {r[0] for r in conn.execute("SELECT DISTINCT ticker FROM ticker_mentions")}
    stored = {r[0] for r in conn.execute("SELECT DISTINCT ticker FROM stock_prices")}
    assert mentioned and mentioned <= stored
    assert "SYNTHETIC" in out


def test_a_model_with_its_edge_evidence_is_active(demo_db):
    conn, out = demo_db
    rows = conn.execute("SELECT version, metrics, trusted, is_active FROM model_versions").fetchall()
    assert len(rows) == 1
    _version, metrics, trusted, active = rows[0]
    metrics = json.loads(metrics)
    for key in ("rank_ic", "rank_ic_t", "top_bucket", "all_candidates", "rsi_rule", "macd_rule", "log_loss"):
        assert key in metrics
    assert active
    # The summary tells the verdict the registry holds.
    assert ("NOT trusted" in out) == (not trusted)


def test_the_replay_stores_strategy_baselines_buy_and_hold_and_candidates(demo_db):
    conn, out = demo_db
    run_id, status, results, portfolio_id = conn.execute(
        "SELECT id, status, results, portfolio_id FROM backtest_runs"
    ).fetchone()
    assert status == "finished"
    results = json.loads(results)
    assert results["sessions"] == N_SESSIONS
    assert set(results["baselines"]) == {"rsi_mean_reversion", "macd_momentum"}
    assert results["benchmark"]["total_return"] is not None
    assert results["model"]["retrains"] == 2  # 42 sessions, every 21
    assert "trusted" in results["model_quality"]
    assert scalar(conn, "SELECT name FROM portfolios WHERE id = ?", portfolio_id) == f"backtest-{run_id}"
    candidates = conn.execute(
        "SELECT reasons, why FROM daily_candidates WHERE portfolio_id = ?", (portfolio_id,)
    ).fetchall()
    assert len(candidates) >= N_SESSIONS  # every replayed day ranks its candidates
    assert all(why for _, why in candidates)
    assert f"backtest-{run_id}" in out and "buy & hold" in out and "RSI rule" in out


def test_the_live_day_and_a_read_key(demo_db):
    conn, out = demo_db
    live = scalar(conn, "SELECT id FROM portfolios WHERE kind = 'live'")
    assert scalar(conn, "SELECT count(*) FROM daily_candidates WHERE portfolio_id = ?", live) > 0
    assert scalar(conn, "SELECT scope FROM api_keys WHERE name = 'demo-read'") == "read"
    key_line = next(line for line in out.splitlines() if line.startswith("read API key"))
    assert key_line.split()[-1].startswith("tft_")
    assert "dashboard: not built (--no-build)" in out
