"""The market-regime input: daily closes of a broad index (the S&P 500).

Live use fetches `settings.features.market_index` (^GSPC) through the market domain like any other
ticker; the lead wires that into the feature service. Offline (tests, the sample pipeline, backtests on
the bundled history) the S&P 500 history that ships with the `arch` package stands in: daily bars from
1999-01-04 to 2018-12-31.
"""

from __future__ import annotations

import pandas as pd
from arch.data import sp500


def load_sample_index() -> pd.DataFrame:
    """The bundled S&P 500 history: columns trade_date (datetime.date) and close, oldest first.

    `close` is the adjusted close, so index dividends/rebasings never look like market moves.
    """
    raw = sp500.load()
    return pd.DataFrame(
        {
            "trade_date": [ts.date() for ts in pd.DatetimeIndex(raw.index)],
            "close": raw["Adj Close"].to_numpy(dtype="float64"),
        }
    )
