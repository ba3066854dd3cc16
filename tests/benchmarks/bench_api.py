"""API latency and throughput against a bare FastAPI endpoint, measured in the same run.

Run by hand (not part of the test suite):

    uv run --no-sync python tests/benchmarks/bench_api.py [--seconds 10] [--concurrency 50]

A fresh PostgreSQL database gets 10,000 signals (2,000 of them active) and 1,000 closed trades plus an
equity curve; `tft-trader serve` runs on it twice (one uvicorn worker each, rate limits raised out of
the way): as shipped, with the response cache (`backend/api/cache.py`), and with `API__RESPONSE_CACHE=false`
so every request reads the database. A bare FastAPI app returning constant JSON runs in a third uvicorn
process. The load generator drives each endpoint in turn with --concurrency connections on loopback for
--seconds and reports p50/p95 latency and requests per second; the API's throughput is divided by the
bare endpoint's. Targets (issue 13): p95 < 25 ms, throughput >= half the bare endpoint's. The data does
not change during the run, so the cached server answers nearly all from memory (its hit count is
printed); the cache-off rows are what a request costs right after a write.

`--driver wrk` (the default when `wrk` is installed: `apt-get install wrk`) drives the load with wrk, one
thread: a Python client on a 2-core machine saturates long before the server does, so the httpx driver
measures mostly itself (bare FastAPI ~220 req/s with it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("TFT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def bare_app():  # uvicorn factory for the baseline server
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/constant")
    async def constant() -> dict[str, object]:
        return {"status": "ok", "items": [1, 2, 3], "currency": "USD"}

    return app


# --- load generator (runs in its own process) ----------------------------------------------------------


async def _load(url: str, seconds: float, concurrency: int, headers: dict[str, str]) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=120) as client:
        # Warm-up: open the connections and the server's caches before measuring.
        await asyncio.gather(*(client.get(url) for _ in range(concurrency)), return_exceptions=True)
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    ok = (await client.get(url)).status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
    }


def run_load(url: str, seconds: float, concurrency: int, headers: dict[str, str]) -> dict[str, float]:
    """Drive `url` from a separate process (so the client does not share the server's interpreter)."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            url,
            "--seconds",
            str(seconds),
            "--concurrency",
            str(concurrency),
            "--headers",
            json.dumps(headers),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %d %d %f %f %f\\n", summary.requests, errors,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end
"""


def run_wrk(url: str, seconds: float, concurrency: int, headers: dict[str, str]) -> dict[str, float]:
    """Drive `url` with wrk (one thread, `concurrency` connections); latencies in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_REPORT)
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "-s", script.name]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    _, requests, errors, rps, p50, p95 = line.split()
    return {
        "requests": float(requests),
        "errors": float(errors),
        "rps": float(rps),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
    }


# --- set-up ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def seed(url: str, data_dir: Path) -> str:
    """10,000 signals, 1,000 trades, prices, an equity curve; returns a read key."""
    sys.path.insert(0, str(ROOT))
    from backend.core.settings import override_settings
    from backend.db import migrate
    from tests import api_data
    from tests.flows import in_db

    migrate.upgrade(url)
    with override_settings(database_url=url, data_dir=data_dir):

        async def work(session):  # type: ignore[no-untyped-def]
            last = await api_data.seed_market(session)
            await api_data.seed_portfolio(session, last, n_signals=10_000, n_trades=1_000)
            return await api_data.create_key(session, "bench", "read")

        return in_db(work)


def start(cmd: list[str], env: dict[str, str], health: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300  # the API imports pandas, sklearn, xgboost: slow on a busy machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--load")
    parser.add_argument("--headers", default="{}")
    default_driver = "wrk" if shutil.which("wrk") else "httpx"
    parser.add_argument("--driver", choices=["wrk", "httpx"], default=default_driver)
    args = parser.parse_args()
    if args.load:
        print(
            json.dumps(
                asyncio.run(_load(args.load, args.seconds, args.concurrency, json.loads(args.headers)))
            )
        )
        return

    from sqlalchemy.engine import make_url

    from backend.core.settings import normalize_database_url

    name = f"tft_bench_api_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_database_url(PG_ADMIN)).set(database=name).render_as_string(hide_password=False)
    data_dir = Path(f"/tmp/{name}")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        t0 = time.perf_counter()
        key = seed(url, data_dir)
        print(f"seeded 10,000 signals and 1,000 closed trades in {time.perf_counter() - t0:.1f} s")
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DATA_DIR": str(data_dir),
            "API__RATE_LIMIT_PER_MINUTE": "100000000",
            "LOG_LEVEL": "WARNING",
        }
        api_port, cold_port, bare_port = free_port(), free_port(), free_port()
        for port, cache in ((api_port, "true"), (cold_port, "false")):
            procs.append(
                start(
                    [str(BIN / "tft-trader"), "serve", "--port", str(port)],
                    {**env, "API__RESPONSE_CACHE": cache},
                    f"http://127.0.0.1:{port}/api/v1/health",
                )
            )
        procs.append(
            start(
                [
                    str(BIN / "uvicorn"),
                    "tests.benchmarks.bench_api:bare_app",
                    "--factory",
                    "--port",
                    str(bare_port),
                    "--log-level",
                    "warning",
                ],
                env,
                f"http://127.0.0.1:{bare_port}/constant",
            )
        )
        auth = {"Authorization": f"Bearer {key}"}
        targets = {"bare FastAPI constant JSON": (f"http://127.0.0.1:{bare_port}/constant", {})}
        for port, label in ((api_port, ""), (cold_port, " (cache off)")):
            for path in ("/api/v1/signals?status=active", "/api/v1/portfolio"):
                targets[f"GET {path}{label}"] = (f"http://127.0.0.1:{port}{path}", auth)
        results = {}
        for label, (target, headers) in targets.items():
            drive = run_wrk if args.driver == "wrk" else run_load
            results[label] = drive(target, args.seconds, args.concurrency, headers)
            print(label, json.dumps(results[label]), flush=True)
        bare = results["bare FastAPI constant JSON"]["rps"]
        print(
            f"{args.concurrency} concurrent clients ({args.driver}), {args.seconds:.0f} s each, "
            "one uvicorn worker per server"
        )
        print(
            f"{'endpoint':50} {'requests':>9} {'errors':>6} {'req/s':>8} "
            f"{'p50 ms':>7} {'p95 ms':>7} {'vs bare':>7}"
        )
        for label, r in results.items():
            print(
                f"{label:50} {r['requests']:9.0f} {r['errors']:6.0f} {r['rps']:8.0f} {r['p50_ms']:7.1f} "
                f"{r['p95_ms']:7.1f} {r['rps'] / bare:7.2f}"
            )
        metrics = httpx.get(f"http://127.0.0.1:{api_port}/metrics").text
        lookups = {
            line.split('result="')[1].split('"')[0]: float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("tft_api_response_cache_lookups_total{")
        }
        hits, misses = lookups.get("hit", 0), lookups.get("miss", 0)
        print(f"response cache (first server): {hits:.0f} hits, {misses:.0f} misses")
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
