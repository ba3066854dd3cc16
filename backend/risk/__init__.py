"""The risk manager: pure rules and position sizing that turn BUY predictions into approved entries.

No database and no I/O: the signals domain and the backtest engine call `manager.evaluate` /
`manager.evaluate_many` with a `PortfolioState` snapshot, so live trading and replays share one
implementation.
"""
