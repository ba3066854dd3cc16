"""The data-quality check run on every import and fetch: bars a user should look at before trusting them.

Kinds (one `price_flags` row per ticker, date and kind):
- `spike`: a one-day move of at least `PRICES__SPIKE_PCT` that reverts the next day (a bad print);
- `unadjusted_split`: a drop (or rise) by a split ratio of 2:1 or more that stays, with no split event
  recorded for that day (an as-traded file without the split declared, or a provider that missed it);
- `ohlc_range`: open or close outside [low, high];
- `zero_volume`: a bar without volume (a halt, or a placeholder row);
- `day_glitch`: a session that is wrong for many tickers at once, found from the cross-section of that
  day (so only when the check sees at least DAY_MIN_TICKERS tickers together: `prices check`, a batch
  import or fetch): many closes that jump against the day's market move and revert the next session (a
  vendor's bad day for part of the universe), at least half of the tickers spiking (the whole day on a
  wrong scale), or many bars repeating the previous session's exactly (a stale day served as new).
Real drops that stay (a spin-off) are not flagged: they are prices, not errors. Split events are taken out
of the returns first, so a declared split is never reported again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.base import table_of
from backend.db.upsert import dialect_insert
from backend.market.models import PriceFlag
from backend.market.splits import ratio_on_date

FLAG_COLUMNS = ["ticker", "trade_date", "kind", "detail"]
CHECKED_COLUMNS = ("ticker", "trade_date", "open", "high", "low", "close", "volume")
# Split ratios (forward and reverse) whose move no ordinary session makes: a lasting halving is suspect,
# a 20-33% drop is not (earnings days do that: on the 505-stock history 5:4 and 3:2 matched 70 real moves
# and no split), so 3:2 and 5:4 splits are known only from events (Yahoo's, or `prices split`).
SPLIT_RATIOS = (2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 15.0, 20.0, 25.0, 30.0, 50.0)
SPLIT_TOLERANCE = 0.03  # in log terms: 3% either side of the ratio
RANGE_TOLERANCE = 1e-6  # float noise of vendors' rounding
# A whole-day glitch needs a universe to be seen: below this many tickers with bars that day, no verdict.
DAY_MIN_TICKERS = 20
DAY_MIN_COUNT = 5  # and at least this many tickers showing it
# Measured on the 505-stock history (2013-2018), whose README lists its whole-day glitches. A ticker's
# "reversal" is a move against the day's median of at least DAY_REVERSAL_Z robust standard deviations of
# that day's moves (1.4826 x MAD) that the next session takes back by half or more. Normal days: median
# 0.2% of tickers, 99th percentile 1.2%, the highest real day 1.8% (2016-08-01); the listed glitch days
# 2017-09-14, 2014-08-04, 2014-10-30 and 2014-10-29: 3.1-4.4%. 2014-10-30's smaller errors, 2017-08-01 and
# 2014-08-01 stay under it: errors of 1-3% on one close are within what a real session does.
DAY_REVERSAL_Z = 4.0
DAY_REVERSAL_SHARE = 0.025
DAY_SPIKE_SHARE = 0.5  # the whole day on a wrong scale: the day's median moves with it, so count spikes
# Exact repeats of open, high, low, close and (non-zero) volume: at most 8 of ~490 tickers on a real day,
# 169 on 2014-08-04 and 78 on 2014-07-18.
DAY_REPEAT_SHARE = 0.1


def check_bars(bars: pd.DataFrame, splits: pd.DataFrame, *, spike_pct: float) -> pd.DataFrame:
    """Flags for `bars` (ticker, trade_date, open, high, low, close, volume; any number of tickers).

    A row's spike/split verdict needs its neighbours, so pass one session of context either side of the
    rows you want judged; the first and last row of each ticker are never called a spike.
    """
    if bars.empty:
        return pd.DataFrame(columns=FLAG_COLUMNS)
    bars = bars.sort_values(["ticker", "trade_date"], kind="stable").reset_index(drop=True)
    found: list[pd.DataFrame] = []

    def add(mask: pd.Series | np.ndarray, kind: str, detail: Callable[[np.ndarray], pd.Series]) -> None:
        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        if rows.size:  # details are formatted for flagged rows only: most bars have none
            found.append(
                pd.DataFrame(
                    {
                        "ticker": bars["ticker"].to_numpy()[rows],
                        "trade_date": bars["trade_date"].to_numpy()[rows],
                        "kind": kind,
                        "detail": detail(rows).to_numpy(),
                    }
                )
            )

    o, h, lo, c = (bars[k].astype("float64") for k in ("open", "high", "low", "close"))
    top, bottom = h * (1 + RANGE_TOLERANCE), lo * (1 - RANGE_TOLERANCE)
    outside = (o > top) | (o < bottom) | (c > top) | (c < bottom)
    add(
        outside,
        "ohlc_range",
        lambda i: (
            "open "
            + _fmt(o, i)
            + " / close "
            + _fmt(c, i)
            + " outside ["
            + _fmt(lo, i)
            + ", "
            + _fmt(h, i)
            + "]"
        ),
    )
    add(bars["volume"] == 0, "zero_volume", lambda i: pd.Series(["volume 0"] * len(i)))

    same = bars["ticker"].eq(bars["ticker"].shift(1))
    same_next = bars["ticker"].eq(bars["ticker"].shift(-1))
    ratio = np.asarray(ratio_on_date(bars, splits), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Returns with recorded splits taken out: a 4:1 split's as-traded drop is not a move.
        closes = c.to_numpy()
        r1 = np.log(closes / np.roll(closes, 1)) + np.log(ratio)
        r2 = np.roll(r1, -1)
    r1 = np.where(same.to_numpy(), r1, np.nan)
    r2 = np.where(same_next.to_numpy(), r2, np.nan)
    big = np.log1p(spike_pct)
    with np.errstate(invalid="ignore"):
        spike = (
            (np.abs(r1) >= big)
            & (np.abs(r2) >= 0.5 * np.abs(r1))
            & (np.sign(r1) == -np.sign(r2))
            & (np.abs(r1 + r2) < 0.5 * np.abs(r1))
        )
        distance = np.min([np.abs(np.abs(r1) - np.log(k)) for k in SPLIT_RATIOS], axis=0)
        after_spike = np.roll(spike, 1) & same.to_numpy()  # the way back from a spike is no split
        split_like = (distance < SPLIT_TOLERANCE) & ~spike & ~after_spike & ~np.isnan(r1)
    prev, nxt = c.shift(1), c.shift(-1)
    add(
        spike,
        "spike",
        lambda i: "close " + _fmt(c, i) + " after " + _fmt(prev, i) + ", back to " + _fmt(nxt, i),
    )
    implied = pd.Series(np.exp(-r1), index=bars.index)
    add(
        split_like,
        "unadjusted_split",
        lambda i: (
            "close "
            + _fmt(c, i)
            + " after "
            + _fmt(prev, i)
            + ": looks like a "
            + _ratio(implied.iloc[i].reset_index(drop=True))
            + " split"
        ),
    )
    repeat = (
        same.to_numpy()
        & (bars["volume"].to_numpy() > 0)  # a halted stock's flat bars are `zero_volume`, not staleness
        & np.all(
            [bars[k].eq(bars[k].shift(1)).to_numpy() for k in ("open", "high", "low", "close", "volume")],
            axis=0,
        )
    )
    glitch = _day_glitches(bars["trade_date"], spike=spike, repeat=repeat, r1=r1, r2=r2)
    add(glitch.notna().to_numpy(), "day_glitch", lambda i: glitch.iloc[i].reset_index(drop=True))
    if not found:
        return pd.DataFrame(columns=FLAG_COLUMNS)
    return pd.concat(found, ignore_index=True)[FLAG_COLUMNS]


def _day_glitches(
    days: pd.Series, *, spike: np.ndarray, repeat: np.ndarray, r1: np.ndarray, r2: np.ndarray
) -> pd.Series:
    """Per row: why its session is broken across the universe (NaN for the rows of sound days)."""
    frame = pd.DataFrame({"day": days.to_numpy(), "r1": r1, "r2": r2, "spike": spike, "repeat": repeat})
    by_day = frame.groupby("day", sort=False)
    judged = frame["r1"].notna() & frame["r2"].notna()
    # Moves against the day's market, scaled by how much that day's moves spread (robust to the outliers).
    e1 = frame["r1"] - by_day["r1"].transform("median")
    e2 = frame["r2"] - by_day["r2"].transform("median")
    scale = 1.4826 * e1.abs().groupby(frame["day"]).transform("median")
    with np.errstate(invalid="ignore"):
        reversal = (
            judged
            & (e1.abs() >= DAY_REVERSAL_Z * scale)
            & (e1.abs() > 0)
            & (np.sign(e1) == -np.sign(e2))
            & (e2.abs() >= 0.5 * e1.abs())
            & ((e1 + e2).abs() < 0.5 * e1.abs())
        )
    frame["judged"], frame["reversal"] = judged, reversal
    frame["with_prev"] = frame["r1"].notna() | repeat
    stats = frame.groupby("day", sort=False)[["judged", "reversal", "spike", "with_prev", "repeat"]].sum()
    judged_n, with_prev = stats["judged"], stats["with_prev"]
    enough = judged_n >= DAY_MIN_TICKERS
    scaled = enough & (stats["spike"] >= np.maximum(DAY_MIN_COUNT, DAY_SPIKE_SHARE * judged_n))
    against = enough & ~scaled
    against &= stats["reversal"] >= np.maximum(DAY_MIN_COUNT, DAY_REVERSAL_SHARE * judged_n)
    stale = (with_prev >= DAY_MIN_TICKERS) & (
        stats["repeat"] >= np.maximum(DAY_MIN_COUNT, DAY_REPEAT_SHARE * with_prev)
    )
    detail = np.full(len(frame), None, dtype=object)
    day_of_row = frame["day"].to_numpy()
    for day in stats.index[scaled | against | stale]:  # a handful of days: the loop is cheap
        rows = day_of_row == day
        n, count = int(judged_n[day]), stats.loc[day]
        if scaled[day]:
            why = f"{int(count['spike'])} of {n} tickers jumped and reverted the next session"
            detail[rows] = f"whole-day glitch: {why} (the whole day on a wrong scale?)"
        elif against[day]:
            why = f"{int(count['reversal'])} of {n} tickers moved against the market and reverted"
            detail[rows & reversal.to_numpy()] = f"whole-day glitch: {why} the next session; this close too"
        if stale[day]:
            why = f"{int(count['repeat'])} of {int(with_prev[day])} tickers repeat the previous session's bar"
            # A day can have both kinds of bad bars; the first reason found stays.
            fresh = rows & repeat & pd.isna(detail)
            detail[fresh] = f"whole-day glitch: {why} exactly (a stale day); this one too"
    return pd.Series(detail, index=frame.index, dtype="object")


def _fmt(values: pd.Series, rows: np.ndarray) -> pd.Series:
    return pd.Series([f"{v:,.2f}" if pd.notna(v) else "-" for v in values.to_numpy()[rows]])


def _ratio(implied: pd.Series) -> pd.Series:
    """2.03 -> '2:1', 0.5 -> '1:2' (reverse): the nearest common ratio."""

    def one(value: float) -> str:
        if not np.isfinite(value) or value <= 0:
            return "?"
        forward = value >= 1
        size = value if forward else 1 / value
        k = min(SPLIT_RATIOS, key=lambda r: abs(np.log(size) - np.log(r)))
        text = f"{k:g}:1" if k.is_integer() else f"{k * 2:g}:2" if (k * 2).is_integer() else f"{k * 4:g}:4"
        return text if forward else ":".join(reversed(text.split(":")))

    return implied.map(one)


async def replace_flags(
    *,
    session: AsyncSession,
    flags: pd.DataFrame,
    ranges: dict[str, tuple[date, date]] | None = None,
    whole: Sequence[str] = (),
) -> None:
    """Store the check's verdict for each ticker's checked range (`whole`: all of their history): flags
    no longer found there are removed (unless the user excluded the row, which stays until `prices
    include`), new ones added."""
    table = table_of(PriceFlag)
    automatic = and_(table.c.kind != "manual", table.c.excluded.is_(False))
    for ticker, (first, last) in (ranges or {}).items():
        await session.execute(
            delete(table).where(table.c.ticker == ticker, table.c.trade_date.between(first, last), automatic)
        )
    symbols = list(whole)
    for i in range(0, len(symbols), 500):
        await session.execute(delete(table).where(table.c.ticker.in_(symbols[i : i + 500]), automatic))
    if flags.empty:
        return
    stmt = dialect_insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["ticker", "trade_date", "kind"], set_={"detail": stmt.excluded.detail}
    )
    rows = [
        {"ticker": t, "trade_date": d, "kind": k, "detail": text[:200]}
        for t, d, k, text in flags[FLAG_COLUMNS].itertuples(index=False)
    ]
    for i in range(0, len(rows), 5_000):
        await session.execute(stmt, rows[i : i + 5_000])


async def excluded_days(*, session: AsyncSession, tickers: Sequence[str] = ()) -> set[tuple[str, date]]:
    """(ticker, trade_date) of the bars the user excluded; all tickers when empty."""
    query = select(PriceFlag.ticker, PriceFlag.trade_date).where(PriceFlag.excluded.is_(True))
    if tickers:
        query = query.where(PriceFlag.ticker.in_(list(tickers)))
    return {(t, d) for t, d in (await session.execute(query.distinct())).all()}


async def set_excluded(*, session: AsyncSession, ticker: str, days: Iterable[date], excluded: bool) -> int:
    """Exclude (or include again) a ticker's bars on `days`; a day without a flag gets a `manual` one.

    Returns how many days changed state."""
    table = table_of(PriceFlag)
    changed = 0
    for day in days:
        where = and_(table.c.ticker == ticker, table.c.trade_date == day)
        if excluded:
            result = await session.execute(
                update(table).where(where, table.c.excluded.is_(False)).values(excluded=True)
            )
            flagged = await session.scalar(select(table.c.kind).where(where).limit(1))
            if flagged is None:
                await session.execute(
                    dialect_insert(session, table).values(
                        ticker=ticker, trade_date=day, kind="manual", detail="excluded by hand", excluded=True
                    )
                )
                changed += 1
            else:
                changed += int(result.rowcount > 0)  # type: ignore[attr-defined]
        else:
            gone = await session.execute(delete(table).where(where, table.c.kind == "manual"))
            result = await session.execute(
                update(table).where(where, table.c.excluded.is_(True)).values(excluded=False)
            )
            changed += int(gone.rowcount > 0 or result.rowcount > 0)  # type: ignore[attr-defined]
    return changed


async def list_flags(*, session: AsyncSession, tickers: Sequence[str] = ()) -> pd.DataFrame:
    """Stored flags (ticker, trade_date, kind, detail, excluded), by ticker and date."""
    table = table_of(PriceFlag)
    query = select(table.c.ticker, table.c.trade_date, table.c.kind, table.c.detail, table.c.excluded)
    if tickers:
        query = query.where(table.c.ticker.in_(list(tickers)))
    rows = (await session.execute(query.order_by(table.c.ticker, table.c.trade_date, table.c.kind))).all()
    return pd.DataFrame(rows, columns=[*FLAG_COLUMNS, "excluded"])


async def flags_page(
    *, session: AsyncSession, ticker: str, after: tuple[date, str] | None = None, limit: int = 100
) -> list[PriceFlag]:
    """A ticker's stored flags by date then kind, after the cursor (date, kind)."""
    query = select(PriceFlag).where(PriceFlag.ticker == ticker)
    if after is not None:
        day, kind = after
        query = query.where(
            (PriceFlag.trade_date > day) | ((PriceFlag.trade_date == day) & (PriceFlag.kind > kind))
        )
    query = query.order_by(PriceFlag.trade_date, PriceFlag.kind).limit(limit)
    return list((await session.scalars(query)).all())
