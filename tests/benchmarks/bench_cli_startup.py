"""How long the first commands take to answer: `tft-trader --help`, `--version` and quick commands.

Runs each command several times in a fresh interpreter and prints the median wall time. `--source DIR`
runs the CLI from another checkout (e.g. `git worktree add /tmp/before <commit>`) for a before/after.

    uv run --no-sync python tests/benchmarks/bench_cli_startup.py [--runs 7] [--source DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (
    ["--help"],
    ["--version"],
    ["db", "upgrade"],
    ["models", "list"],
    ["portfolio", "show"],
)


def _time(args: list[str], source: Path, env: dict[str, str]) -> tuple[float, int]:
    code = (
        f"import sys; sys.path.insert(0, {str(source)!r}); sys.argv[0] = 'tft-trader'; "
        "from backend.cli import app; app()"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, check=False)
    return time.perf_counter() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        # A migrated embedded database of its own, so the quick commands have something to read.
        env = {**os.environ, "DATA_DIR": data_dir}
        env.pop("DATABASE_URL", None)
        print(f"source {args.source}, {args.runs} runs each, {os.cpu_count()} CPUs", flush=True)
        for command in COMMANDS:
            results = [_time(command, args.source, env) for _ in range(args.runs)]
            times = sorted(t for t, _ in results)
            codes = {c for _, c in results}
            print(
                f"tft-trader {' '.join(command):<16} median {statistics.median(times):6.2f} s  "
                f"(min {times[0]:.2f}, max {times[-1]:.2f}; exit {sorted(codes)})",
                flush=True,
            )


if __name__ == "__main__":
    main()
