"""The window `prices fetch` asks the provider for (shared by the CLI and any other edge)."""

from __future__ import annotations

from datetime import date

import pytest

from backend.core.errors import ValidationFailed
from backend.core.settings import override_settings
from backend.pipeline.prices import history_window


def test_default_start_is_the_configured_history_back_from_today() -> None:
    with override_settings(market={"default_history_days": 30}):
        assert history_window(start=None, end=None, today=date(2013, 3, 31)) == (date(2013, 3, 1), None)


def test_explicit_dates_pass_through() -> None:
    assert history_window(start=date(2012, 1, 3), end=date(2012, 6, 29)) == (
        date(2012, 1, 3),
        date(2012, 6, 29),
    )
    assert history_window(start=date(2012, 1, 3), end=date(2012, 1, 3)) == (
        date(2012, 1, 3),
        date(2012, 1, 3),
    )


def test_an_end_before_the_start_names_both() -> None:
    with pytest.raises(ValidationFailed, match="--end 2012-01-02 is before --start 2012-01-03"):
        history_window(start=date(2012, 1, 3), end=date(2012, 1, 2))
    with (
        override_settings(market={"default_history_days": 10}),
        pytest.raises(ValidationFailed, match="--end 2013-03-01 is before --start 2013-03-21"),
    ):
        history_window(start=None, end=date(2013, 3, 1), today=date(2013, 3, 31))
