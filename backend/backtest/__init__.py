"""Backtests: replay history day by day through the same signal, monitor and portfolio steps as live."""
