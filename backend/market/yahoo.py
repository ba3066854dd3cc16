"""Yahoo Finance through yfinance: batched downloads, retries with backoff, a clear reason per ticker."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any, cast

import pandas as pd
import yfinance as yf
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from backend.core.errors import DataSourceError
from backend.core.settings import MarketSettings, get_settings
from backend.market.providers import BAR_FRAME_COLUMNS, PriceBatch, PriceProvider, empty_bars
from backend.market.symbols import normalize_symbols, yahoo_symbol

log = logging.getLogger(__name__)

# yfinance reports per-ticker failures only through its logger: "['AAA', 'BBB']: <reason>".
_FAILED_LINE = re.compile(r"^\[(?P<symbols>[^\]]*)\]: (?P<reason>.+)$", re.S)
_TRANSIENT = re.compile(r"rate ?limit|too many requests|timed? ?out|connection|temporar|50[234]", re.I)

Download = Callable[..., pd.DataFrame | None]


class _FailureCapture(logging.Handler):
    """Collects yfinance's per-ticker failure messages during one download."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.reasons: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = _FAILED_LINE.match(record.getMessage().strip())
        if match:
            for sym in re.findall(r"'([^']+)'", match["symbols"]):
                self.reasons[sym.upper()] = match["reason"].strip()


class YahooProvider(PriceProvider):
    """Daily bars from Yahoo Finance. `download` is `yfinance.download` (injectable for recorded tests)."""

    name = "yahoo"

    def __init__(
        self,
        *,
        download: Download | None = None,
        settings: MarketSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.download = download or yf.download
        self.settings = settings or get_settings().market
        self.sleep = sleep

    def fetch(self, symbols: Sequence[str], start: date | None = None, end: date | None = None) -> PriceBatch:
        """Fetch in batches; tickers that fail transiently are retried with exponential backoff."""
        wanted = normalize_symbols(symbols)  # bad symbols fail here, before any request
        frames: list[pd.DataFrame] = []
        errors: dict[str, str] = {}
        size = self.settings.yahoo_batch_size
        for i in range(0, len(wanted), size):
            batch = wanted[i : i + size]
            for attempt in range(self.settings.yahoo_retries + 1):
                bars, failed = self._download_batch(batch, start, end)
                frames.append(bars)
                transient = [s for s, why in failed.items() if _TRANSIENT.search(why)]
                errors.update({s: why for s, why in failed.items() if s not in transient})
                if not transient:
                    break
                if attempt == self.settings.yahoo_retries:
                    errors.update(
                        {s: f"gave up after {attempt + 1} attempts: {failed[s]}" for s in transient}
                    )
                    break
                delay = self.settings.yahoo_backoff_seconds * 2**attempt
                log.warning(
                    "Yahoo Finance: %d ticker(s) failed transiently, retrying in %.0fs: %s",
                    len(transient),
                    delay,
                    ", ".join(transient),
                )
                self.sleep(delay)
                batch = transient
        bars = pd.concat(frames, ignore_index=True) if frames else empty_bars()
        return PriceBatch(self.name, bars, errors)

    def latest_prices(self, symbols: Sequence[str]) -> dict[str, float]:
        """Each symbol's latest trade today from 1-minute bars (Yahoo delays some feeds by ~15 minutes).

        Symbols without a valid price are left out; the caller keeps their last mark.
        """
        wanted = normalize_symbols(symbols)
        if not wanted:
            return {}
        try:
            data = self._call_download(wanted, period="1d", interval="1m")
        except Exception as exc:  # the request itself failed: no quotes this pass, say why
            raise DataSourceError(f"Yahoo Finance quotes request failed: {exc}") from exc
        prices: dict[str, float] = {}
        for symbol in wanted:
            one = _columns_for(data, yahoo_symbol(symbol))
            if one is None:
                continue
            closes = one["close"].dropna()
            closes = closes[closes > 0]
            if not closes.empty:
                prices[symbol] = float(closes.iloc[-1])
        return prices

    def _download_batch(
        self, symbols: list[str], start: date | None, end: date | None
    ) -> tuple[pd.DataFrame, dict[str, str]]:
        capture = _FailureCapture()
        yf_logger = logging.getLogger("yfinance")
        yf_logger.addHandler(capture)
        try:
            data = self._call_download(
                symbols,
                start=start.isoformat() if start else None,
                # yfinance's end is exclusive; ours is inclusive.
                end=(end + timedelta(days=1)).isoformat() if end else None,
                period=None if start else "max",
                interval="1d",
            )
        except Exception as exc:  # the whole request failed (network, Yahoo outage) after retries
            return empty_bars(), {s: f"Yahoo Finance request failed: {exc}" for s in symbols}
        finally:
            yf_logger.removeHandler(capture)
        return _to_bars(data, symbols, capture.reasons)

    @retry(
        retry=retry_if_exception_type((ConnectionError, TimeoutError, OSError)),
        wait=wait_exponential(multiplier=1, min=1, max=30),
        stop=stop_after_attempt(3),
        reraise=True,
    )
    def _call_download(self, symbols: list[str], **window: Any) -> Any:
        """One `yf.download` over `window` (start/end/period/interval) with our fixed options."""
        return self.download(
            [yahoo_symbol(s) for s in symbols],
            **window,
            auto_adjust=False,
            actions=False,
            group_by="column",
            threads=True,
            progress=False,
            timeout=self.settings.yahoo_timeout_seconds,
            multi_level_index=True,
        )


def _to_bars(
    data: pd.DataFrame | None, symbols: list[str], reasons: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Split yfinance's (Price, Ticker) column frame into our long bar rows; name every empty ticker."""
    failed: dict[str, str] = {}
    frames = []
    for symbol in symbols:
        ysym = yahoo_symbol(symbol)
        one = _columns_for(data, ysym)
        if one is None or one.dropna(subset=["close"]).empty:
            why = reasons.get(ysym.upper())
            failed[symbol] = (
                why or "Yahoo Finance returned no data (unknown or delisted symbol, or no trading in range)"
            )
            continue
        one = one.dropna(subset=["open", "high", "low", "close"])
        frame = pd.DataFrame(
            {
                "ticker": symbol,
                "trade_date": pd.to_datetime(one.index).date,
                "open": one["open"].to_numpy(float),
                "high": one["high"].to_numpy(float),
                "low": one["low"].to_numpy(float),
                "close": one["close"].to_numpy(float),
                "adj_close": one["adj_close"].fillna(one["close"]).to_numpy(float),
                "volume": one["volume"].fillna(0).to_numpy("int64"),
            }
        )
        frames.append(frame[BAR_FRAME_COLUMNS])
    return (pd.concat(frames, ignore_index=True) if frames else empty_bars()), failed


_YAHOO_FIELDS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}


def _columns_for(data: pd.DataFrame | None, ysym: str) -> pd.DataFrame | None:
    if data is None or data.empty or not isinstance(data.columns, pd.MultiIndex):
        return None
    tickers = data.columns.get_level_values(1)
    if ysym not in set(tickers):
        return None
    one = cast(pd.DataFrame, data.xs(ysym, axis=1, level=1))
    missing = [f for f in _YAHOO_FIELDS if f not in one.columns]
    if missing:
        raise DataSourceError(f"Yahoo Finance response for {ysym} lacks column(s) {missing}")
    return one.rename(columns=_YAHOO_FIELDS)[list(_YAHOO_FIELDS.values())]
