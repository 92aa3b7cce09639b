"""Campaign dates: weekends and China's public holidays are skipped, days worked in lieu kept."""

from __future__ import annotations

import datetime as dt

import pytest

from lnplan.errors import InputError
from lnplan.programs.screening_calendar import (
    CampaignDates,
    covered_years,
    is_working_date,
    working_dates,
    working_days_until,
)


def test_national_day_2023_is_skipped_and_the_in_lieu_weekend_worked() -> None:
    days = working_dates(dt.date(2023, 9, 25), 8)
    assert [d.isoformat() for d in days] == [
        "2023-09-25",
        "2023-09-26",
        "2023-09-27",
        "2023-09-28",
        # 29 Sep - 6 Oct: Mid-Autumn Festival and National Day
        "2023-10-07",  # Saturday, worked in lieu
        "2023-10-08",  # Sunday, worked in lieu
        "2023-10-09",
        "2023-10-10",
    ]


def test_blocked_dates_and_deadline_count() -> None:
    start = dt.date(2023, 9, 4)  # a Monday
    assert working_dates(start, 3, blocked=[dt.date(2023, 9, 5)]) == [
        dt.date(2023, 9, 4),
        dt.date(2023, 9, 6),
        dt.date(2023, 9, 7),
    ]
    assert working_days_until(start, dt.date(2023, 9, 10)) == 5
    assert working_days_until(start, dt.date(2023, 9, 10), [dt.date(2023, 9, 8)]) == 4
    with pytest.raises(InputError, match="before start_date"):
        working_days_until(start, dt.date(2023, 9, 1))
    dates = CampaignDates.from_start(start, 6)
    assert dates.text(5) == "2023-09-11"  # the weekend skipped


def test_years_outside_the_holiday_calendar_are_refused() -> None:
    first, last = covered_years()
    assert first <= 2023 <= last
    with pytest.raises(InputError, match=f"outside the years.*{first}-{last}"):
        is_working_date(dt.date(last + 1, 3, 2))
