"""`bar_counts_once`: a step's repeated bar counts come from one look at the table."""

from datetime import date

from backend.market import service as market_service
from backend.market.providers import PriceBatch
from tests.factories import make_bars

END = date(2020, 3, 31)


async def test_inside_the_block_a_question_is_asked_once_and_subsets_come_from_the_full_count(session):
    for seed, ticker in enumerate(("AAA", "BBB")):
        bars = make_bars(ticker, n=80, start=date(2020, 1, 2), seed=seed)
        await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    later = make_bars("AAA", n=120, start=date(2020, 1, 2), seed=0).iloc[80:]
    with market_service.bar_counts_once():
        every = await market_service.bar_counts(session=session, tickers=[], end=END)
        assert every == {"AAA": 62, "BBB": 62}  # sessions 2020-01-02 .. 2020-03-31
        await market_service.ingest(session=session, batch=PriceBatch("csv", later))
        # Answered from the first count: the block promises prices that do not change under it.
        assert await market_service.bar_counts(session=session, tickers=["AAA", "ZZZ"], end=END) == {
            "AAA": 62
        }
        assert await market_service.bar_counts(session=session, tickers=[], end=None) == {
            "AAA": 120,
            "BBB": 80,
        }
    assert await market_service.bar_counts(session=session, tickers=["AAA"], end=None) == {"AAA": 120}


async def test_a_batch_asks_for_its_own_tickers_only(session):
    for seed, ticker in enumerate(("AAA", "BBB")):
        bars = make_bars(ticker, n=80, start=date(2020, 1, 2), seed=seed)
        await market_service.ingest(session=session, batch=PriceBatch("csv", bars))
    with market_service.bar_counts_once():
        assert await market_service.bar_counts(session=session, tickers=["BBB"], end=END) == {"BBB": 62}
        more = make_bars("BBB", n=100, start=date(2019, 8, 1), seed=9).iloc[:20]
        await market_service.ingest(session=session, batch=PriceBatch("csv", more))
        assert await market_service.bar_counts(session=session, tickers=["BBB"], end=END) == {"BBB": 62}
        assert await market_service.bar_counts(session=session, tickers=["AAA", "BBB"], end=END) == {
            "AAA": 62,
            "BBB": 82,
        }
