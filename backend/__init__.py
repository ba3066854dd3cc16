"""TFT Trader: a self-hosted swing-trading signal system (see DESIGN.md for the domains)."""

import os

# OpenMP worker threads (LightGBM, XGBoost, PyTorch) spin while they wait for work by default. On a small
# or shared machine the spinning threads steal the cores the working ones need: a 2-thread LightGBM fit
# (127k rows) on a loaded 2-core machine took 21.6 s spinning and 1.9 s with passive waiting; XGBoost
# 10.0 s and 2.4 s (tests/benchmarks/bench_demo.py notes). OpenMP reads this once, when it is first
# loaded, so it is set here, before any member library is imported; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
