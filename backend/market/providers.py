"""Where daily bars come from. Every provider returns the same `PriceBatch` shape."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
from bokeh_sampledata import stocks  # public domain; reads its files lazily on attribute access

from backend.core.errors import DataSourceError, ValidationFailed
from backend.market.symbols import SYMBOL_RE, normalize_symbols

BAR_FRAME_COLUMNS = ["ticker", "trade_date", "open", "high", "low", "close", "adj_close", "volume"]


@dataclass
class RowProblem:
    """A rejected input row: where it was and what was wrong."""

    line: int
    message: str


@dataclass
class PriceBatch:
    """Bars from one provider call.

    `bars` has BAR_FRAME_COLUMNS (trade_date as datetime.date); `errors` maps a ticker to why it has no
    bars; `rejected` lists input rows dropped with `--skip-invalid`.
    """

    source: str
    bars: pd.DataFrame
    errors: dict[str, str] = field(default_factory=dict)
    rejected: list[RowProblem] = field(default_factory=list)
    # Corporate actions the source reported (Yahoo): (ticker, ex_date, ratio) and (ticker, ex_date, amount).
    splits: pd.DataFrame = field(default_factory=lambda: empty_splits())
    dividends: pd.DataFrame = field(default_factory=lambda: empty_dividends())


class PriceProvider(abc.ABC):
    """A source of daily OHLCV bars."""

    name: str

    @abc.abstractmethod
    def fetch(self, symbols: Sequence[str], start: date | None, end: date | None) -> PriceBatch:
        """Bars for `symbols` from `start` to `end` inclusive (None: everything the source has)."""


def empty_bars() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in BAR_FRAME_COLUMNS})


def empty_splits() -> pd.DataFrame:
    return pd.DataFrame({"ticker": [], "ex_date": [], "ratio": pd.Series(dtype="float64")})


def empty_dividends() -> pd.DataFrame:
    return pd.DataFrame({"ticker": [], "ex_date": [], "amount": pd.Series(dtype="float64")})


def _clip(frame: pd.DataFrame, start: date | None, end: date | None) -> pd.DataFrame:
    if start is not None:
        frame = frame[frame["trade_date"] >= start]
    if end is not None:
        frame = frame[frame["trade_date"] <= end]
    return frame


class SampleProvider(PriceProvider):
    """Public-domain daily history in `bokeh-sampledata`: AAPL, GOOG, IBM, MSFT, FB to 2013-03-01."""

    name = "sample"
    SYMBOLS = ("AAPL", "GOOG", "IBM", "MSFT", "FB")

    def fetch(
        self, symbols: Sequence[str] = SYMBOLS, start: date | None = None, end: date | None = None
    ) -> PriceBatch:
        frames, errors = [], {}
        for symbol in normalize_symbols(symbols):
            if symbol not in self.SYMBOLS:
                errors[symbol] = f"not in the bundled sample (it has {', '.join(self.SYMBOLS)})"
                continue
            raw = pd.DataFrame(getattr(stocks, symbol))
            raw["ticker"] = symbol
            raw["trade_date"] = pd.to_datetime(raw["date"]).dt.date
            frames.append(_clip(raw[BAR_FRAME_COLUMNS], start, end))
        bars = pd.concat(frames, ignore_index=True) if frames else empty_bars()
        return PriceBatch(self.name, bars, errors)


REQUIRED_CSV_COLUMNS = ("ticker", "date", "open", "high", "low", "close", "volume")


class CsvProvider(PriceProvider):
    """A CSV file with columns ticker,date,open,high,low,close,volume[,adj_close].

    Every row is checked; a bad row raises ValidationFailed naming the file, line and problem, unless
    `skip_invalid`, in which case bad rows are reported in `PriceBatch.rejected` and the rest kept.
    """

    name = "csv"

    def __init__(self, path: Path, *, skip_invalid: bool = False) -> None:
        self.path = path
        self.skip_invalid = skip_invalid

    def fetch(
        self, symbols: Sequence[str] = (), start: date | None = None, end: date | None = None
    ) -> PriceBatch:
        raw = self._read()
        problems: dict[int, list[str]] = {}

        def flag(mask: pd.Series, message: str | pd.Series) -> None:
            for idx in np.flatnonzero(mask.to_numpy()):
                text = message if isinstance(message, str) else str(message.iloc[idx])
                problems.setdefault(int(idx), []).append(text)

        # Same spelling rules as normalize_symbol (BRK-B, BRK/B -> BRK.B), vectorised.
        ticker = raw["ticker"].str.strip().str.upper().str.lstrip("$").str.replace(r"[-/]", ".", regex=True)
        flag(
            ~ticker.str.fullmatch(SYMBOL_RE.pattern),
            "invalid ticker "
            + raw["ticker"].map(repr)
            + ": expected 1-5 letters with an optional class suffix (BRK.B)",
        )
        dates = pd.to_datetime(raw["date"].str.strip(), errors="coerce", format="mixed")
        flag(dates.isna(), "unparseable date " + raw["date"].map(repr))

        numbers: dict[str, pd.Series] = {}
        for col in ("open", "high", "low", "close", "adj_close", "volume"):
            if col == "adj_close" and col not in raw:
                continue
            text = raw[col].str.strip()
            value = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
            blank_adj = (text == "") if col == "adj_close" else pd.Series(False, index=raw.index)
            flag(value.isna() & ~blank_adj, f"unparseable {col} " + raw[col].map(repr))
            flag(value < 0, f"negative {col} " + text)
            numbers[col] = value
        adj_close = numbers.get("adj_close", numbers["close"]).fillna(numbers["close"])
        flag(
            numbers["high"] < numbers["low"],
            "high (" + raw["high"].str.strip() + ") is below low (" + raw["low"].str.strip() + ")",
        )
        flag(numbers["volume"].notna() & (numbers["volume"] % 1 != 0), "volume must be a whole number")

        trade_date = dates.dt.date
        dupes = pd.DataFrame({"t": ticker, "d": trade_date}).duplicated(keep="first") & dates.notna()
        first_line = {
            key: i + 2 for i, key in reversed(list(enumerate(zip(ticker, trade_date, strict=True))))
        }
        flag(
            dupes,
            pd.Series(
                [
                    f"duplicate ({t}, {d}) already on line {first_line[(t, d)]}"
                    for t, d in zip(ticker, trade_date, strict=True)
                ],
                index=raw.index,
            ),
        )

        rejected = [RowProblem(i + 2, "; ".join(msgs)) for i, msgs in sorted(problems.items())]
        if rejected and not self.skip_invalid:
            shown = "\n".join(f"  {self.path}:{p.line}: {p.message}" for p in rejected[:20])
            more = f"\n  ... and {len(rejected) - 20} more" if len(rejected) > 20 else ""
            raise ValidationFailed(
                f"{self.path}: {len(rejected)} invalid row(s); nothing was imported "
                f"(use --skip-invalid to import the valid rows):\n{shown}{more}"
            )
        keep = ~raw.index.isin(list(problems))
        bars = pd.DataFrame(
            {
                "ticker": ticker,
                "trade_date": trade_date,
                "open": numbers["open"],
                "high": numbers["high"],
                "low": numbers["low"],
                "close": numbers["close"],
                "adj_close": adj_close,
                "volume": numbers["volume"],
            }
        )[keep]
        if symbols:
            bars = bars[bars["ticker"].isin(normalize_symbols(symbols))]
        bars = _clip(bars, start, end).reset_index(drop=True)
        bars["volume"] = bars["volume"].astype("int64")
        return PriceBatch(self.name, bars, rejected=rejected)

    def _read(self) -> pd.DataFrame:
        try:
            with self.path.open("rb") as fh:
                content = fh.read().decode("utf-8-sig")
        except FileNotFoundError:
            raise DataSourceError(f"{self.path}: file not found") from None
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                f"{self.path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        try:
            raw = pd.read_csv(StringIO(content), dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ValidationFailed(f"{self.path}: cannot parse CSV: {exc}") from None
        raw.columns = [str(c).strip().lower() for c in raw.columns]
        missing = [c for c in REQUIRED_CSV_COLUMNS if c not in raw.columns]
        if missing:
            raise ValidationFailed(
                f"{self.path}:1: missing column(s) {', '.join(missing)}; expected header "
                f"{','.join(REQUIRED_CSV_COLUMNS)}[,adj_close]"
            )
        return raw
