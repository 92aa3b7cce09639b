"""Campaign dates of the screening tours: which calendar dates are working days.

A working day is a day the State Council's calendar makes a working day (weekdays, plus the
weekend days worked in lieu of a holiday; minus public holidays and their bridge days), taken from
the maintained ``chinesecalendar`` package (module ``chinese_calendar``), and not one of the
campaign's blocked dates. The package covers the years its release lists
(:func:`covered_years`); a campaign date outside them is refused with a clear error rather than
guessed.

The routing model numbers working days 0, 1, 2, ... (:class:`lnplan.optimize.routing.Calendar`);
:class:`CampaignDates` maps those numbers to dates and back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from lnplan.errors import InputError

__all__ = ["CampaignDates", "covered_years", "is_working_date", "working_dates"]

#: Stop looking for working days after this many calendar days (a campaign of a year and more).
MAX_SPAN_DAYS = 3 * 366


def covered_years() -> tuple[int, int]:
    """First and last year the installed holiday calendar covers."""
    from chinese_calendar import constants

    days = list(constants.holidays) + list(constants.workdays)
    return min(days).year, max(days).year


def is_working_date(day: dt.date) -> bool:
    """True when ``day`` is an official working day in China (holidays and in-lieu days counted).

    Raises
    ------
    InputError
        ``day`` lies in a year the installed holiday calendar does not cover.
    """
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        first, last = covered_years()
        raise InputError(
            f"screening dates: {day.isoformat()} is outside the years the holiday calendar "
            f"covers ({first}-{last}, package chinesecalendar); choose a campaign inside them "
            "or update the package"
        ) from None


def working_dates(start: dt.date, n: int, blocked: Collection[dt.date] = ()) -> list[dt.date]:
    """The first ``n`` working days from ``start`` (included), skipping ``blocked`` dates."""
    out: list[dt.date] = []
    day = start
    skip = set(blocked)
    while len(out) < n:
        if (day - start).days > MAX_SPAN_DAYS:
            raise InputError(
                f"screening: fewer than {n} working days within {MAX_SPAN_DAYS} days of "
                f"{start.isoformat()}"
            )
        if day not in skip and is_working_date(day):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def working_days_until(start: dt.date, deadline: dt.date, blocked: Collection[dt.date] = ()) -> int:
    """Number of working days from ``start`` to ``deadline``, both included."""
    if deadline < start:
        raise InputError(
            f"screening.deadline {deadline.isoformat()} is before start_date {start.isoformat()}"
        )
    skip = set(blocked)
    n, day = 0, start
    while day <= deadline:
        if day not in skip and is_working_date(day):
            n += 1
        day += dt.timedelta(days=1)
    return n


@dataclass(frozen=True)
class CampaignDates:
    """Working-day numbers of the routing model and their calendar dates."""

    dates: tuple[dt.date, ...]

    @classmethod
    def from_start(
        cls, start: dt.date, n_days: int, blocked: Collection[dt.date] = ()
    ) -> CampaignDates:
        """The ``n_days`` working days from ``start``."""
        return cls(tuple(working_dates(start, n_days, blocked)))

    def date(self, day: int) -> dt.date:
        """Date of working day ``day`` (0-based)."""
        return self.dates[day]

    def text(self, day: int) -> str:
        """ISO date of working day ``day``."""
        return self.dates[day].isoformat()
