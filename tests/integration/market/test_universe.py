"""The bundled US universe (`tickers seed`) and the refresh from recorded NASDAQ Trader directories."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.core.errors import DataSourceError, ValidationFailed
from backend.market import directory
from backend.market import service as market_service
from backend.market.models import Ticker
from backend.market.symbols import TickerInfo
from backend.sentiment import service as sentiment_service
from backend.sentiment.extract import extract_tickers

RECORDED = Path(__file__).resolve().parents[2] / "data" / "nasdaqtrader"


def recorded() -> directory.Directory:
    return directory.parse_directories(
        (RECORDED / "nasdaqlisted.txt").read_text(), (RECORDED / "otherlisted.txt").read_text()
    )


async def count(session, *where) -> int:
    return (await session.execute(select(func.count()).select_from(Ticker).where(*where))).scalar_one()


async def test_seed_loads_the_whole_market_with_etfs_and_is_idempotent(session):
    first = await market_service.seed_universe(session=session)
    assert first.inserted > 5900 and first.skipped > 1000  # warrants, units, rights, preferreds left out
    total = await count(session)
    again = await market_service.seed_universe(session=session)
    assert again.inserted == 0 and again.updated == first.total
    assert await count(session) == total
    for symbol in ("GME", "AMC", "BB", "SOFI", "KOSS", "PLTR", "BRK.B", "BF.B"):
        row = await session.get(Ticker, symbol)
        assert row is not None and row.asset_type == "stock" and row.active, symbol
    gme = await session.get(Ticker, "GME")
    assert gme.exchange == "NYSE" and gme.market_cap > 1e9 and gme.industry
    for symbol in ("SPY", "QQQ", "IWM", "DIA", "TQQQ", "SQQQ", "UVXY", "XLF", "GLD", "TLT"):
        row = await session.get(Ticker, symbol)
        assert row is not None and row.asset_type == "etf", symbol
    assert (await session.get(Ticker, "XLF")).sector == "Financials"  # shares the sector cap with banks
    # GICS from the index data beats the screener's classification; one taxonomy for the sector cap.
    assert (await session.get(Ticker, "GOOGL")).sector == "Communication Services"
    assert (await session.get(Ticker, "A")).sector == "Health Care"
    sectors = set((await session.scalars(select(Ticker.sector).distinct())).all())
    assert not sectors & {"Finance", "Technology", "Telecommunications", "Basic Materials"}
    assert await session.get(Ticker, "GRRRW") is None  # a warrant


async def test_extraction_uses_the_seeded_universe(session):
    await market_service.seed_universe(session=session)
    index = await sentiment_service.known_tickers(session=session)
    text = "$AMC and GME to the moon, SPY puts, BRK/B, ALL IN on KOSS, IT IS TIME"
    assert extract_tickers(text, index) == ["AMC", "BRK.B", "GME", "KOSS", "SPY"]


def test_parse_recorded_directories():
    found = recorded()
    symbols = {t.symbol: t for t in found.listings}
    assert found.created_at.isoformat() == "2026-11-29T18:32:00"
    assert found.test_issues == 3  # ZVZZT, ZXZZT, NTEST
    assert {"BRKHW", "BHAVU", "AACPR", "RAC.WS"}.isdisjoint(symbols)  # warrant, unit, rights, warrant
    assert not any("$" in s for s in symbols)  # ABR$D, a preferred
    assert symbols["BRK.B"].exchange == "NYSE" and symbols["BRK.B"].asset_type == "stock"
    assert symbols["SPY"].asset_type == "etf" and symbols["SPY"].exchange == "NYSE Arca"
    assert symbols["UVXY"].exchange == "Cboe BZX"
    assert symbols["NEWCO"].exchange == "NASDAQ"


def test_truncated_directory_is_refused():
    text = (RECORDED / "nasdaqlisted.txt").read_text()
    cut = text[: text.index("File Creation Time")]
    with pytest.raises(DataSourceError, match="File Creation Time"):
        directory.parse_directories(cut, (RECORDED / "otherlisted.txt").read_text())


def test_offline_fetch_fails_with_one_line(monkeypatch):
    from backend.core.settings import UniverseSettings

    cfg = UniverseSettings(nasdaq_listed_url="http://127.0.0.1:9/nasdaqlisted.txt", timeout_seconds=2)
    with pytest.raises(DataSourceError, match="needs the internet; nothing was changed") as info:
        directory.fetch_directories(cfg)
    assert "\n" not in str(info.value)


async def test_refresh_adds_reactivates_and_marks_delisted_inactive(session):
    old = [
        TickerInfo(s, f"{s} Inc", "Energy", None, "NYSE", 1e9)
        for s in ("AAPL", "AMC", "GME", "BB", "T", "F", "A", "KOSS", "PLTR", "SOFI", "GONE")
    ]
    old.append(TickerInfo("SPY", "SPDR", "Index ETF", None, "NYSE Arca", None, "etf"))
    await market_service.seed_universe(session=session, infos=old)
    await market_service.ensure_tickers(session=session, symbols=["FB"], source="sample")
    dormant = await session.get(Ticker, "AMC")
    dormant.active = False
    await session.flush()

    result = await market_service.refresh_universe(
        session=session, listings=recorded().listings, max_deactivate_share=0.5
    )
    assert result.deactivated == ["GONE"]
    assert result.reactivated == ["AMC"]
    assert "NEWCO" in result.added and "BRK.B" in result.added
    assert "MOON" not in result.added and "YOLO" not in result.added  # ETFs not already known
    gone = await session.get(Ticker, "GONE")
    await session.refresh(gone)
    assert gone is not None and gone.active is False  # kept, not deleted
    fb = await session.get(Ticker, "FB")
    await session.refresh(fb)
    assert fb.active  # not from the seed: the user's data is not the directories' business
    amc = await session.get(Ticker, "AMC")
    await session.refresh(amc)
    assert amc.active and amc.sector == "Energy"  # the refresh keeps what the directories do not carry
    assert "GONE" not in await market_service.known_symbols(session=session)
    again = await market_service.refresh_universe(
        session=session, listings=recorded().listings, max_deactivate_share=0.5
    )
    assert (again.added, again.reactivated, again.deactivated) == ([], [], [])


async def test_refresh_refuses_to_delist_most_of_the_market(session):
    infos = [
        TickerInfo(f"Q{chr(65 + i)}{chr(65 + j)}", None, None, None, "NYSE")
        for i in range(20)
        for j in range(5)
    ]
    await market_service.seed_universe(session=session, infos=infos)
    before = await count(session, Ticker.active)
    with pytest.raises(ValidationFailed, match="refusing a partial or wrong file"):
        await market_service.refresh_universe(session=session, listings=recorded().listings)
    assert await count(session, Ticker.active) == before


async def test_deactivation_guard_allows_exactly_the_limit(session):
    # 20 seeded shares: losing 2 (10%, the default limit) is a normal refresh, losing 3 of the 18 left
    # (17%) is refused and changes nothing.
    infos = [TickerInfo(f"ZQ{chr(65 + i)}", None, None, None, "NYSE") for i in range(20)]
    await market_service.seed_universe(session=session, infos=infos)
    symbols = {t.symbol for t in infos}
    others = await count(session, Ticker.active, Ticker.symbol.not_in(symbols))
    assert others == 0  # the limit is a share of every active seeded ticker: only ours here

    result = await market_service.refresh_universe(session=session, listings=infos[:18])
    assert result.deactivated == ["ZQS", "ZQT"]
    assert await count(session, Ticker.active) == 18
    assert await count(session) == 20  # inactive, not deleted

    with pytest.raises(ValidationFailed, match="would delist 3 of 18 active tickers"):
        await market_service.refresh_universe(session=session, listings=infos[:15])
    assert await count(session, Ticker.active) == 18
