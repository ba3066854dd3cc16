"""Signals: turning approved decisions into positions and watching them for exits.

`exits` holds the daily exit rules as pure functions, so the live position monitor and the backtest replay
close trades by exactly the same rules (and the same ones the training labels assume).
"""
