"""How long the first commands take to answer: `tft-trader --help`, `--version` and quick commands.

Runs each command several times in a fresh interpreter and prints the median wall time. `--source DIR`
runs the CLI from another checkout; `--before DIR` times that checkout too, alternating run by run with
`--source` so both see the same load on a shared machine, and prints both medians and the ratio
(e.g. `mkdir /tmp/before && git archive <commit> | tar -x -C /tmp/before`).

`--pycache` times with a warm bytecode cache (in a temporary directory), as on a normal install; without
it the environment decides: this team's machines set PYTHONDONTWRITEBYTECODE=1, so every start compiles
every imported module from source (more than half of a quick command's time).

    uv run --no-sync python tests/benchmarks/bench_cli_startup.py [--runs 7] [--source DIR] [--before DIR]
        [--pycache]
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
    ["runs", "list"],
    ["models", "list"],
    ["portfolio", "show"],
    ["signals", "candidates"],
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
    parser.add_argument("--before", type=Path, help="another checkout to time side by side")
    parser.add_argument("--pycache", action="store_true", help="with a warm bytecode cache")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryDirectory() as pycache:
        # A migrated embedded database of its own, so the quick commands have something to read.
        env = {**os.environ, "DATA_DIR": data_dir}
        env.pop("DATABASE_URL", None)
        if args.pycache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pycache  # keeps the checkouts free of __pycache__ folders
        sources = {"after": args.source, **({"before": args.before} if args.before else {})}
        print(
            ", ".join(f"{k} {v}" for k, v in sources.items())
            + f"; {args.runs} runs each, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
            + ("warm bytecode cache" if args.pycache else "bytecode cache as the environment says"),
            flush=True,
        )
        for command in COMMANDS:
            results: dict[str, list[tuple[float, int]]] = {k: [] for k in sources}
            if args.pycache:  # one untimed run each fills the cache
                for source in sources.values():
                    _time(command, source, env)
            for _ in range(args.runs):  # alternating: both checkouts see the same moments of load
                for key, source in sources.items():
                    results[key].append(_time(command, source, env))
            medians = {}
            for key, runs in results.items():
                times = sorted(t for t, _ in runs)
                medians[key] = statistics.median(times)
                codes = {c for _, c in runs}
                print(
                    f"{key:<6} tft-trader {' '.join(command):<20} median {medians[key]:6.2f} s  "
                    f"(min {times[0]:.2f}, max {times[-1]:.2f}; exit {sorted(codes)})",
                    flush=True,
                )
            if "before" in medians:
                print(f"       before / after: {medians['before'] / medians['after']:.2f}x", flush=True)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
