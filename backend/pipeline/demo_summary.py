"""The demo's closing summary as lines of text (rich markup): trusted or not and why, the replay's P&L
against buy-and-hold and both rules, signals, trades, the live day's candidates, the timings.

Pure formatting of a `DemoResult`, so it is unit-tested without running the demo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.pipeline.demo import DemoResult

ROWS = (
    ("model (ensemble)", "strategy"),
    ("RSI rule", "rsi_mean_reversion"),
    ("MACD rule", "macd_momentum"),
    ("buy & hold", "benchmark"),
)


def _pct(value: Any, spec: str = "+.1%") -> str:
    return "-" if value is None else format(float(value), spec)


def _num(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None else format(float(value), spec)


def verdict(trusted: bool, quality: dict[str, Any]) -> str:
    """'trusted: ...' or 'NOT trusted: <reasons>', with the edge test's numbers."""
    numbers = (
        f"rank IC {_num(quality.get('rank_ic'), '+.4f')} (t {_num(quality.get('rank_ic_t'))}), "
        f"top bucket net {_pct(quality.get('top_bucket_net_return'), '+.3%')} vs all candidates "
        f"{_pct((quality.get('all_candidates') or {}).get('net_return'), '+.3%')}, log loss "
        f"{_num(quality.get('log_loss'), '.4f')} vs prior {_num(quality.get('prior_log_loss'), '.4f')}"
    )
    if trusted:
        return f"[green]trusted[/green]: an out-of-sample edge ({numbers}); it may make signals"
    reasons = "; ".join(quality.get("untrusted_reasons") or []) or "no edge shown out of sample"
    return f"[yellow]NOT trusted[/yellow] ({reasons}): it ranks candidates but makes no signals ({numbers})"


def pnl_rows(backtest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, metrics) for the model, both rules and buy-and-hold, in that order, those present."""
    rows = []
    for name, key in ROWS:
        top_level = key in ("strategy", "benchmark")
        metrics = backtest.get(key) if top_level else backtest.get("baselines", {}).get(key)
        if metrics is not None:
            rows.append((name, metrics))
    return rows


def summary_lines(result: DemoResult) -> list[str]:
    """The summary, one printable line each."""
    bt = result.backtest
    lines = [
        "",
        "[bold]TFT Trader demo: summary[/bold]",
        f"database {result.database}",
        f"{len(result.tickers)} real S&P 500 stocks with GICS sectors, history {result.history[0]}.."
        f"{result.history[1]}; {result.synthetic_posts:,} SYNTHETIC Reddit posts (generated, not real "
        "Reddit; labelled synthetic everywhere)",
    ]
    lines += [f"[yellow]note:[/yellow] {n}" for n in result.notes]
    lines.append(f"live model {result.model_version}: {verdict(result.model_trusted, result.model_quality)}")
    if result.promotion:
        lines.append(f"  promotion: {result.promotion}")
    if bt:
        quality = bt.get("model_quality", {})
        model = bt.get("model", {})
        run_id = bt.get("run_id")
        lines.append(
            f"replay {bt.get('start')}..{bt.get('end')} ({bt.get('sessions')} sessions, portfolio "
            f"backtest-{run_id}), retrained every {bt.get('retrain_every')} sessions "
            f"({model.get('retrains', 0)} fits, trusted at {quality.get('trusted_at_retrains', 0)})"
        )
        lines.append(f"  the replay's own predictions: {verdict(bool(quality.get('trusted')), quality)}")
        lines.append(
            f"  model signals: {model.get('signals_approved', 0)} approved, "
            f"{model.get('signals_rejected', 0)} rejected{_reasons(model.get('rejection_reasons') or {})}"
        )
        lines.append(f"  {'':18} {'return':>8} {'Sharpe':>7} {'max DD':>7} {'trades':>7} {'win rate':>9}")
        for name, m in pnl_rows(bt):
            trades = m.get("n_trades")
            lines.append(
                f"  {name:18} {_pct(m.get('total_return')):>8} {_num(m.get('sharpe')):>7} "
                f"{_pct(m.get('max_drawdown'), '.1%'):>7} {'' if trades is None else trades:>7} "
                f"{_pct(m.get('win_rate'), '.0%') if trades is not None else '':>9}"
            )
        for caveat in bt.get("caveats", [])[:3]:
            lines.append(f"  caveat: {caveat}")
    day = result.history[1]
    lines.append(
        f"live paper portfolio, {day}: {len(result.live_candidates)} ranked candidates, "
        f"{result.live_signals} signal(s)"
    )
    for c in result.live_candidates[:3]:
        lines.append(
            f"  #{c['rank']} {c['ticker']}: P(win) {c['confidence']:.2f}, "
            f"EV {_pct(c.get('expected_value'), '+.2%')}"
            f" - {c['why']}"
        )
    lines.append(f"dashboard: {result.dashboard}")
    if result.read_key:
        lines.append(f"read API key (shown once): {result.read_key}")
        lines.append(f'  curl -H "Authorization: Bearer <key>" {result.url}/api/v1/signals')
    total = sum(result.timings.values())
    split = ", ".join(f"{k} {v:.0f}s" for k, v in result.timings.items())
    lines.append(f"took {total:.0f} s ({split})")
    return lines


def _reasons(reasons: dict[str, int]) -> str:
    if not reasons:
        return ""
    top = list(reasons.items())[:3]
    return " (" + ", ".join(f"{k}: {v}" for k, v in top) + ")"
