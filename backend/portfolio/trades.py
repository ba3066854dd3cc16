"""A closed round trip: what the ledger books and the performance metrics read.

Its own light module (no numpy or pandas): the ledger and `portfolio show` need it without the metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from backend.core.errors import ValidationFailed


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A closed round trip: `return_pct` is the fractional return (0.05 = +5%), `pnl` is in dollars."""

    ticker: str
    exit_date: date
    exit_reason: str
    pnl: float
    return_pct: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.pnl) and math.isfinite(self.return_pct)):
            raise ValidationFailed(
                f"trade {self.ticker} exited {self.exit_date}: pnl and return_pct must be finite numbers"
            )
