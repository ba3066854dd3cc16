"""The demo's closing summary: the verdict and its reasons, P&L of the model, both rules and buy-and-hold,
the live day's candidates, the key and the timings."""

from datetime import date

from backend.pipeline.demo import DemoResult
from backend.pipeline.demo_summary import pnl_rows, summary_lines, verdict

UNTRUSTED = {
    "rank_ic": 0.0123,
    "rank_ic_t": 0.41,
    "top_bucket_net_return": 0.002,
    "all_candidates": {"net_return": 0.003},
    "log_loss": 0.69,
    "prior_log_loss": 0.68,
    "trusted": False,
    "untrusted_reasons": ["rank IC t 0.41 < 2", "log loss does not beat the prior"],
}


def backtest() -> dict:
    def m(ret, sharpe, trades=None, win=None):
        row = {"total_return": ret, "sharpe": sharpe, "max_drawdown": 0.1}
        if trades is not None:
            row |= {"n_trades": trades, "win_rate": win}
        return row

    return {
        "run_id": 7,
        "start": "2016-02-08",
        "end": "2018-02-07",
        "sessions": 504,
        "retrain_every": 63,
        "strategy": m(0.0, None, 0, None),
        "baselines": {
            "rsi_mean_reversion": m(-0.052, -0.3, 41, 0.44),
            "macd_momentum": m(0.081, 0.6, 97, 0.51),
        },
        "benchmark": m(0.342, 1.4),
        "model": {"retrains": 8, "signals_approved": 0, "signals_rejected": 0, "rejection_reasons": {}},
        "model_quality": {**UNTRUSTED, "trusted_at_retrains": 1},
        "caveats": ["survivorship: ..."],
    }


def result(**changes) -> DemoResult:
    base = DemoResult(
        database="sqlite+aiosqlite:////tmp/x.db",
        tickers=["A", "AAPL"],
        history=(date(2013, 2, 8), date(2018, 2, 7)),
        replay=(date(2016, 2, 8), date(2018, 2, 7)),
        synthetic_posts=1234,
        model_version="20180207-1",
        model_trusted=False,
        model_quality=UNTRUSTED,
        backtest=backtest(),
        live_candidates=[
            {"rank": 1, "ticker": "AAPL", "confidence": 0.58, "expected_value": 0.004, "why": "not trusted"}
        ],
        read_key="tft_0123abcd_secret",
        dashboard="built (frontend/out)",
        notes=["the LSTM member is skipped"],
        timings={"history": 30.0, "replay": 100.4},
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_an_untrusted_model_says_so_with_every_reason_and_its_numbers():
    text = verdict(False, UNTRUSTED)
    assert text.startswith("[yellow]NOT trusted[/yellow]")
    assert "rank IC t 0.41 < 2; log loss does not beat the prior" in text
    assert "rank IC +0.0123 (t 0.41)" in text and "makes no signals" in text


def test_a_trusted_model_may_make_signals():
    text = verdict(True, {**UNTRUSTED, "trusted": True, "untrusted_reasons": []})
    assert text.startswith("[green]trusted[/green]") and "NOT" not in text


def test_pnl_rows_put_the_model_beside_both_rules_and_buy_and_hold():
    rows = pnl_rows(backtest())
    assert [name for name, _ in rows] == ["model (ensemble)", "RSI rule", "MACD rule", "buy & hold"]
    assert rows[3][1]["total_return"] == 0.342


def test_summary_lines_carry_the_verdict_pnl_candidates_key_and_timings():
    lines = summary_lines(result())
    text = "\n".join(lines)
    assert "1,234 SYNTHETIC Reddit posts" in text
    assert "note:[/yellow] the LSTM member is skipped" in text
    assert "portfolio backtest-7" in text and "8 fits, trusted at 1" in text
    assert text.count("NOT trusted") == 2  # the live model and the replay's own predictions
    bh = next(line for line in lines if line.strip().startswith("buy & hold"))
    assert "+34.2%" in bh and "1.40" in bh
    rsi = next(line for line in lines if line.strip().startswith("RSI rule"))
    assert "-5.2%" in rsi and " 41 " in rsi and "44%" in rsi
    assert "#1 AAPL: P(win) 0.58, EV +0.40% - not trusted" in text
    assert "read API key (shown once): tft_0123abcd_secret" in text
    assert 'Bearer <key>" http://127.0.0.1:8000/api/v1/signals' in text
    assert text.rstrip().endswith("took 130 s (history 30s, replay 100s)")


def test_no_replay_and_no_key_still_summarises():
    text = "\n".join(summary_lines(result(backtest={}, read_key=None, live_candidates=[])))
    assert "replay 2016" not in text and "API key" not in text
    assert "0 ranked candidates" in text
