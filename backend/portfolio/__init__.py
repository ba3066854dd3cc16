"""The paper portfolio: positions, trades, equity snapshots and performance metrics."""
