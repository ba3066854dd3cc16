from pathlib import Path

import pytest

from backend.core.errors import DataSourceError, ValidationFailed
from backend.market.providers import CsvProvider

HEADER = "ticker,date,open,high,low,close,volume\n"
GOOD = (
    "AAPL,2024-01-02,187.15,188.44,183.89,185.64,82488700\n"
    "MSFT,2024-01-02,373.86,375.9,366.77,370.87,25258600\n"
)


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(header + body)
    return path


def test_valid_file_parses_and_adj_close_defaults_to_close(tmp_path):
    batch = CsvProvider(write(tmp_path, GOOD)).fetch()
    assert len(batch.bars) == 2
    assert batch.bars["adj_close"].tolist() == batch.bars["close"].tolist()
    assert batch.bars["volume"].dtype == "int64"


def test_optional_adj_close_column_and_lowercase_tickers(tmp_path):
    path = write(
        tmp_path,
        "aapl,2024-01-02,187.15,188.44,183.89,185.64,82488700,184.9\n",
        header="ticker,date,open,high,low,close,volume,adj_close\n",
    )
    bars = CsvProvider(path).fetch().bars
    assert bars.loc[0, "ticker"] == "AAPL" and bars.loc[0, "adj_close"] == 184.9


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("AAPL,2024-13-45,1,2,0.5,1.5,100", "unparseable date '2024-13-45'"),
        ("AAPL,2024-01-03,abc,2,0.5,1.5,100", "unparseable open 'abc'"),
        ("AAPL,2024-01-03,1,2,0.5,1.5,", "unparseable volume ''"),
        ("AAPL,2024-01-03,1,1.0,2.0,1.5,100", "high (1.0) is below low (2.0)"),
        ("AAPL,2024-01-03,-1,2,0.5,1.5,100", "negative open -1"),
        ("AAPL,2024-01-03,1,2,0.5,1.5,-100", "negative volume -100"),
        ("AAPL,2024-01-02,1,2,0.5,1.5,100", "duplicate (AAPL, 2024-01-02) already on line 2"),
        ("TOOLONGX,2024-01-03,1,2,0.5,1.5,100", "invalid ticker 'TOOLONGX'"),
    ],
)
def test_bad_rows_name_file_line_and_problem(tmp_path, row, problem):
    path = write(tmp_path, GOOD + row + "\n")
    with pytest.raises(ValidationFailed) as info:
        CsvProvider(path).fetch()
    message = str(info.value)
    assert f"{path}:4: " in message and problem in message
    assert "nothing was imported" in message


def test_skip_invalid_keeps_good_rows_and_reports_rejected(tmp_path):
    path = write(tmp_path, GOOD + "AAPL,2024-01-03,1,1.0,2.0,1.5,100\nAAPL,nope,1,2,1,1,1\n")
    batch = CsvProvider(path, skip_invalid=True).fetch()
    assert len(batch.bars) == 2
    assert [(p.line, p.message.split(" ")[0]) for p in batch.rejected] == [(4, "high"), (5, "unparseable")]


def test_missing_column_is_named(tmp_path):
    path = write(tmp_path, "AAPL,2024-01-02,1,2,1\n", header="ticker,date,open,high,low\n")
    with pytest.raises(ValidationFailed, match=r"prices.csv:1: missing column\(s\) close, volume"):
        CsvProvider(path).fetch()


def test_missing_file_and_binary_garbage(tmp_path):
    with pytest.raises(DataSourceError, match="file not found"):
        CsvProvider(tmp_path / "nope.csv").fetch()
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\x81")
    with pytest.raises(ValidationFailed, match="not UTF-8"):
        CsvProvider(path).fetch()
