"""Yahoo Finance through yfinance: batched downloads, retries with backoff, a clear reason per ticker.

With `auto_adjust=False` Yahoo's Open/High/Low/Close/Volume are already split-adjusted (to the splits known
on the day of the request) and only `Adj Close` also takes dividends out. We store prices as traded, so
each bar is un-adjusted with the split actions Yahoo sends alongside (`actions=True`): a bar before a 4:1
split gets its prices multiplied by 4 and its volume divided by 4. The splits themselves are returned as
events (`PriceBatch.splits`), which drive every later split adjustment.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from backend.core.calendar import ET, last_settled_session, utcnow
from backend.core.errors import DataSourceError
from backend.core.settings import MarketSettings, get_settings
from backend.market.providers import (
    BAR_FRAME_COLUMNS,
    PriceBatch,
    PriceProvider,
    empty_bars,
    empty_dividends,
    empty_splits,
)
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
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        if download is None:
            import yfinance as yf  # heavy (requests, curl_cffi): only when Yahoo is really used

            download = yf.download
        self.download = download
        self.settings = settings or get_settings().market
        self.sleep = sleep
        self.now = now

    def fetch(self, symbols: Sequence[str], start: date | None = None, end: date | None = None) -> PriceBatch:
        """Fetch in batches; tickers that fail transiently are retried with exponential backoff.

        Bars stop at the last completed NYSE session (an unfinished session is never returned), and at
        `end` when it is earlier.
        """
        wanted = normalize_symbols(symbols)  # bad symbols fail here, before any request
        completed = last_settled_session(self.now())
        end = min(end, completed) if end is not None else completed
        frames: list[pd.DataFrame] = []
        splits: list[pd.DataFrame] = []
        dividends: list[pd.DataFrame] = []
        errors: dict[str, str] = {}
        size = self.settings.yahoo_batch_size
        for i in range(0, len(wanted), size):
            batch = wanted[i : i + size]
            for attempt in range(self.settings.yahoo_retries + 1):
                got, failed = self._download_batch(batch, start, end)
                frames.append(got.bars)
                splits.append(got.splits)
                dividends.append(got.dividends)
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
        return PriceBatch(
            self.name,
            _concat(frames, empty_bars()),
            errors,
            splits=_concat(splits, empty_splits()),
            dividends=_concat(dividends, empty_dividends()),
        )

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
        self, symbols: list[str], start: date | None, end: date
    ) -> tuple[PriceBatch, dict[str, str]]:
        capture = _FailureCapture()
        yf_logger = logging.getLogger("yfinance")
        yf_logger.addHandler(capture)
        try:
            # No `end` in the request: the bars up to today carry the splits after `end` too, which the
            # un-adjustment of the earlier bars needs (Yahoo's Close is adjusted for every split so far).
            data = self._call_download(
                symbols,
                start=start.isoformat() if start else None,
                period=None if start else "max",
                interval="1d",
                actions=True,
            )
        except Exception as exc:  # the whole request failed (network, Yahoo outage) after retries
            failed = {s: f"Yahoo Finance request failed: {exc}" for s in symbols}
            return PriceBatch(self.name, empty_bars()), failed
        finally:
            yf_logger.removeHandler(capture)
        return _to_bars(data, symbols, capture.reasons, end)

    @retry(
        retry=retry_if_exception_type((ConnectionError, TimeoutError, OSError)),
        wait=wait_exponential(multiplier=1, min=1, max=30),
        stop=stop_after_attempt(3),
        reraise=True,
    )
    def _call_download(self, symbols: list[str], *, actions: bool = False, **window: Any) -> Any:
        """One `yf.download` over `window` (start/end/period/interval) with our fixed options."""
        return self.download(
            [yahoo_symbol(s) for s in symbols],
            **window,
            auto_adjust=False,
            actions=actions,
            group_by="column",
            threads=True,
            progress=False,
            timeout=self.settings.yahoo_timeout_seconds,
            multi_level_index=True,
        )


def _to_bars(
    data: pd.DataFrame | None, symbols: list[str], reasons: dict[str, str], end: date
) -> tuple[PriceBatch, dict[str, str]]:
    """Split yfinance's (Price, Ticker) column frame into our long bar rows (as traded, up to `end`),
    split events and dividends; name every empty ticker."""
    failed: dict[str, str] = {}
    frames, splits, dividends = [], [], []
    for symbol in symbols:
        ysym = yahoo_symbol(symbol)
        one = _columns_for(data, ysym)
        if one is None or one.dropna(subset=["close"]).empty:
            why = reasons.get(ysym.upper())
            failed[symbol] = (
                why or "Yahoo Finance returned no data (unknown or delisted symbol, or no trading in range)"
            )
            continue
        days = _trade_dates(one.index)
        ratio = one["splits"].fillna(0.0).to_numpy(float) if "splits" in one else np.zeros(len(one))
        is_split = (ratio > 0) & (ratio != 1.0)
        splits.append(pd.DataFrame({"ticker": symbol, "ex_date": days[is_split], "ratio": ratio[is_split]}))
        if "dividends" in one:
            paid = one["dividends"].fillna(0.0).to_numpy(float)
            dividends.append(
                pd.DataFrame({"ticker": symbol, "ex_date": days[paid > 0], "amount": paid[paid > 0]})
            )
        # Yahoo's bar at t is divided by every split after t: multiply it back. The split on t itself
        # happened before t's open, so t is already as traded.
        factor = np.ones(len(one))
        factor[:-1] = np.cumprod(np.where(is_split, ratio, 1.0)[::-1])[::-1][1:]
        keep = one[["open", "high", "low", "close"]].notna().all(axis=1).to_numpy() & (days <= end)
        frame = pd.DataFrame(
            {
                "ticker": symbol,
                "trade_date": days,
                "open": one["open"].to_numpy(float) * factor,
                "high": one["high"].to_numpy(float) * factor,
                "low": one["low"].to_numpy(float) * factor,
                "close": one["close"].to_numpy(float) * factor,
                "adj_close": one["adj_close"].fillna(one["close"]).to_numpy(float),
                "volume": np.rint(one["volume"].fillna(0).to_numpy(float) / factor).astype("int64"),
            }
        )[keep]
        frames.append(frame[BAR_FRAME_COLUMNS].reset_index(drop=True))
    batch = PriceBatch(
        "yahoo",
        _concat(frames, empty_bars()),
        splits=_concat(splits, empty_splits()),
        dividends=_concat(dividends, empty_dividends()),
    )
    return batch, failed


def _trade_dates(index: pd.Index) -> np.ndarray:
    """Session dates of a daily index: yfinance's download is tz-naive, `Ticker.history` is in New York
    time; either way the date is the New York session."""
    stamps = pd.DatetimeIndex(pd.to_datetime(index))
    if stamps.tz is not None:
        stamps = stamps.tz_convert(ET)
    return np.array(stamps.date, dtype=object)


def _concat(frames: list[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else empty


_YAHOO_FIELDS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
_ACTIONS = {"Dividends": "dividends", "Stock Splits": "splits"}


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
    present = [f for f in _ACTIONS if f in one.columns]
    renamed = one.rename(columns={**_YAHOO_FIELDS, **_ACTIONS})
    return renamed[[*_YAHOO_FIELDS.values(), *(_ACTIONS[f] for f in present)]]
