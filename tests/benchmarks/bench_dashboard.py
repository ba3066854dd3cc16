"""Dashboard speed in Debian's Chromium: first contentful paint per page, JavaScript per page (gzipped),
and the Ticker page with 5 years of daily candles until its chart is interactive.

Run by hand (not part of the test suite), after `npm run build` in frontend/, on a demo database:

    uv run --no-sync python tests/benchmarks/bench_dashboard.py --database-url sqlite:////path/demo.db \
        [--runs 5] [--symbol AAPL]

`tft-trader serve` runs on the database (public read, rate limits raised) on a free port. Each page is
loaded --runs times, each time in a fresh browser context (cold HTTP cache), on loopback with no throttling;
medians are reported. JS per page: the gzipped size of every script the page loaded (the lazily loaded
chart library included), and of the scripts its HTML references (what the first paint needs).
Ticker "interactive": navigation start to the moment the chart has its data and answers input
(`window.__tftChartReady`, set right after the series are filled). Targets (issue 14): FCP < 1 s, JS
< 300 KB gzipped per page, ticker interactive < 1.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "frontend" / "out"
BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# page path -> the element that shows its main content has arrived
PAGES = {
    "/": "[data-card=candidates] table, [data-card=candidates] p",
    "/signals/": "[data-card=signals] table, [data-card=signals] p",
    "/portfolio/": "[data-card=equity] [data-chart]",
    "/ticker/?symbol={symbol}": "[data-chart=price][data-ready='1']",
    "/models/": "[data-card=models] table",
    "/settings/": "[data-risk-settings]",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def html_js_gzip(path: str) -> int:
    """Gzipped bytes of the scripts a page's HTML references."""
    html_file = OUT / path.split("?")[0].strip("/") / "index.html"
    html = html_file.read_text()
    total = 0
    for tag in set(re.findall(r"<script[^>]+>", html)):
        src = re.search(r'src="([^"]+\.js)"', tag)
        if src and "nomodule" not in tag.lower():  # the legacy-browser polyfills modern browsers skip
            total += len(gzip.compress((OUT / src.group(1).lstrip("/")).read_bytes(), 9))
    return total


def load(page: Page, url: str, ready: str) -> dict[str, float]:
    scripts: dict[str, int] = {}

    def on_response(resp) -> None:  # type: ignore[no-untyped-def]
        if resp.url.endswith(".js") and resp.ok:
            with contextlib.suppress(Exception):  # a body that went away with a navigation
                scripts[resp.url] = len(gzip.compress(resp.body(), 9))

    page.on("response", on_response)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(ready, timeout=30_000)
    fcp = page.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null")
    content = page.evaluate("() => performance.now()")
    chart = page.evaluate("() => window.__tftChartReady ?? null")
    page.wait_for_timeout(300)  # let late lazy chunks land before counting
    return {
        "fcp_ms": fcp,
        "content_ms": content,
        "chart_ready_ms": chart,
        "js_gzip_bytes": sum(scripts.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--symbol", default="AAPL")
    args = parser.parse_args()
    if not args.database_url:
        sys.exit(
            "--database-url (or DATABASE_URL) must point to a demo database: run `tft-trader demo --no-serve`"
        )
    if not (OUT / "index.html").is_file():
        sys.exit(f"no dashboard build in {OUT}: run `npm ci && npm run build` in frontend/")

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "API__PUBLIC_READ": "true",
        "API__ANONYMOUS_RATE_LIMIT_PER_MINUTE": "1000000",
        "API__STATIC_DIR": str(OUT),
    }
    server = subprocess.Popen(
        [str(BIN / "tft-trader"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("the server did not start")
            time.sleep(0.3)

        bars = httpx.get(f"{base}/api/v1/tickers/{args.symbol}").json()
        results = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for path, ready in PAGES.items():
                url_path = path.format(symbol=args.symbol)
                runs = []
                for i in range(args.runs + 1):  # the first run warms the server; not counted
                    context = browser.new_context()
                    page = context.new_page()
                    r = load(page, base + url_path, ready)
                    context.close()
                    if i:
                        runs.append(r)

                def med(key: str, rows: list[dict] = runs) -> float | None:
                    vals = [r[key] for r in rows if r[key] is not None]
                    return round(statistics.median(vals), 1) if vals else None

                results[url_path] = {
                    "fcp_ms_median": med("fcp_ms"),
                    "content_ms_median": med("content_ms"),
                    "chart_interactive_ms_median": med("chart_ready_ms"),
                    "js_loaded_gzip_kb": round(runs[-1]["js_gzip_bytes"] / 1024, 1),
                    "js_initial_gzip_kb": round(html_js_gzip(url_path) / 1024, 1),
                }
            browser.close()
        report = {
            "runs_per_page": args.runs,
            "ticker": args.symbol,
            "ticker_bars_stored": bars.get("bars_stored"),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "pages": results,
        }
        print(json.dumps(report, indent=2))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
