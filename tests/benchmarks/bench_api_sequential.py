"""Server-side cost of one API request, sequentially in-process, for one or more checkouts side by side.

Run by hand (not part of the test suite):

    uv run --no-sync python tests/benchmarks/bench_api_sequential.py [/path/to/other/checkout ...]

Seeds the same data as bench_api.py (10,000 signals, 1,000 closed trades, PostgreSQL) once, then for each
checkout (this one first) starts that checkout's app in a fresh interpreter (its own `.venv`) and times 5 x
100 sequential requests per endpoint through httpx's ASGI transport, twice round-robin. No sockets and no
concurrency: this measures the CPU a request costs, which the wrk numbers of bench_api.py divide into.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATHS = ("/api/v1/signals?status=active", "/api/v1/portfolio")


async def _time_requests(checkout: str, url: str, data_dir: str, key: str) -> None:
    sys.path.insert(0, checkout)  # that checkout's backend, not this file's
    import httpx

    from backend.api.app import create_app
    from backend.core.settings import override_settings

    with override_settings(database_url=url, data_dir=Path(data_dir), api={"rate_limit_per_minute": 10**8}):
        app = create_app()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            headers = {"Authorization": f"Bearer {key}"}
            for path in PATHS:
                for _ in range(30):  # warm-up: imports, pools, caches
                    response = await client.get(path, headers=headers)
                    response.raise_for_status()
                runs = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    for _ in range(100):
                        await client.get(path, headers=headers)
                    runs.append(1000 * (time.perf_counter() - t0) / 100)
                print(f"{checkout} {path}: median {statistics.median(runs):.2f} ms/request", flush=True)


def main() -> None:
    if sys.argv[1:2] == ["--time"]:
        asyncio.run(_time_requests(*sys.argv[2:6]))
        return
    sys.path.insert(0, str(ROOT))
    from sqlalchemy.engine import make_url

    from backend.core.settings import normalize_database_url
    from tests.benchmarks import bench_api

    checkouts = [ROOT, *(Path(p).resolve() for p in sys.argv[1:])]
    name = f"tft_bench_api_seq_{uuid.uuid4().hex[:8]}"
    asyncio.run(bench_api._admin(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_database_url(bench_api.PG_ADMIN)).set(database=name)
    url_text = url.render_as_string(hide_password=False)
    data_dir = f"/tmp/{name}"
    try:
        key = bench_api.seed(url_text, Path(data_dir))
        for _ in range(2):
            for checkout in checkouts:
                python = checkout / ".venv/bin/python"
                command = [str(python), str(Path(__file__)), "--time", str(checkout), url_text, data_dir, key]
                subprocess.run(command, cwd=checkout, check=True)
    finally:
        asyncio.run(bench_api._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
