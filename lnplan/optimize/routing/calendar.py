"""The campaign calendar: working days, lunch, trip slots, and the three clocks.

Three clocks meet here, and only here:

- the *wall clock*: seconds since 00:00 of working day 0 (``day_length_s`` per day; weekends and
  holidays are not days of the horizon), used by every result and table;
- the *work clock*: working seconds since the campaign start, ``W = day_end_s - day_start_s -
  lunch_s`` per day, where lunch and nights vanish; the scheduler and the engines plan on it
  (:meth:`Calendar.wall_start`, :meth:`Calendar.wall_end` and :meth:`Calendar.work_of` convert);
- the OR-Tools engine's coarser units (whole minutes, or the lodging engine's period clock),
  derived from the work clock inside :mod:`~lnplan.optimize.routing.ortools_engine`.

:func:`allowed_start_intervals` is the core rule of when a visit may start. Property tests in
``tests/optimize/test_routing_calendar.py`` pin the conversions down.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lnplan.optimize.routing.model import Stop

__all__ = ["DAY_S", "Calendar", "allowed_start_intervals", "team_trip_windows"]

DAY_S = 86_400


@dataclass(frozen=True)
class Calendar:
    """Working days, the lunch break, trips and the campaign horizon.

    Work happens from ``day_start_s`` to ``day_end_s`` each working day, with a fixed lunch break
    ``[lunch_start_s, lunch_start_s + lunch_s)``. Lunch pauses whatever the team is doing (a
    screening session or a drive resumes after it); nothing pauses over night: a drive and a
    service each lie inside one working day.

    Internally the engines use the *work clock*: seconds of working time since the campaign start,
    ``W = day_end_s - day_start_s - lunch_s`` per day, so day ``d`` is ``[d W, (d + 1) W]`` and
    lunch and nights vanish. :meth:`wall_start`, :meth:`wall_end` and :meth:`work_of` convert.

    Parameters
    ----------
    horizon_days
        Working days in the campaign.
    trip_max_days
        Longest trip in working days (the team returns to base at the end of a trip).
    day_start_s, day_end_s
        Start and end of the working day, seconds after the day's 00:00.
    lunch_start_s, lunch_s
        Start of the lunch break (seconds after 00:00) and its length (0: no lunch break).
    day_length_s
        Length of one day on the time axis (86 400 s for real calendars).
    day_limits_s
        Optional working seconds of each day of the horizon (on the work clock, lunch excluded),
        at most ``work_per_day_s``: a short day ends early (a half day before a holiday, or the
        day lengths of a benchmark). Empty: every day is a full working day.
    fixed_trip_blocks
        ``False`` (default): a trip starts on any day and ends when it is best for it to end,
        within ``trip_max_days``; ``True``: trips live in the fixed consecutive blocks of
        :meth:`trip_slots` (the behaviour before free-length trips).
    rest_days
        Working days a team rests at its base between two trips (free-length trips; the fixed
        blocks ignore it).
    """

    horizon_days: int = 20
    trip_max_days: int = 5
    day_start_s: int = 8 * 3600
    day_end_s: int = 17 * 3600
    lunch_start_s: int = 12 * 3600
    lunch_s: int = 3600
    day_length_s: int = DAY_S
    day_limits_s: tuple[int, ...] = ()
    fixed_trip_blocks: bool = False
    rest_days: int = 0

    @property
    def work_per_day_s(self) -> int:
        """Working seconds in one day (``W``)."""
        return self.day_end_s - self.day_start_s - max(self.lunch_s, 0)

    def work_on_day_s(self, day: int) -> int:
        """Working seconds of day ``day`` (its limit, or the whole working day)."""
        if day < len(self.day_limits_s):
            return min(self.day_limits_s[day], self.work_per_day_s)
        return self.work_per_day_s

    def day_work_end(self, day: int) -> int:
        """Work-clock moment at which day ``day``'s work ends (``day * W`` + its working time)."""
        return day * self.work_per_day_s + self.work_on_day_s(day)

    def day_open_s(self, day: int) -> int:
        """Absolute (wall-clock) start of working day ``day``."""
        return day * self.day_length_s + self.day_start_s

    def day_close_s(self, day: int) -> int:
        """Absolute (wall-clock) end of working day ``day``."""
        return day * self.day_length_s + self.day_end_s

    def day_of(self, time_s: int) -> int:
        """The day a wall-clock moment belongs to."""
        return time_s // self.day_length_s

    def _wall(self, day: int, offset: int, *, after_lunch: bool) -> int:
        lunch_at = self.lunch_start_s - self.day_start_s
        pause = (
            self.lunch_s
            if self.lunch_s > 0 and (offset > lunch_at or (after_lunch and offset == lunch_at))
            else 0
        )
        return day * self.day_length_s + self.day_start_s + offset + pause

    def wall_start(self, work_s: int) -> int:
        """Wall-clock time at which something starting at work time ``work_s`` starts."""
        w = self.work_per_day_s
        return self._wall(work_s // w, work_s % w, after_lunch=True)

    def wall_end(self, work_s: int) -> int:
        """Wall-clock time at which something ending at work time ``work_s`` ends."""
        w = self.work_per_day_s
        day = max(work_s - 1, 0) // w
        return self._wall(day, work_s - day * w, after_lunch=False)

    def work_of(self, time_s: int, *, up: bool) -> int:
        """Work time of a wall-clock moment; outside working time, the next (``up``) or the
        previous working moment."""
        w = self.work_per_day_s
        day, tod = divmod(time_s, self.day_length_s)
        lunch_end = self.lunch_start_s + max(self.lunch_s, 0)
        if tod < self.day_start_s:
            return day * w if up else day * w - 1
        if tod >= self.day_end_s:
            return (day + 1) * w if up else (day + 1) * w - 1
        if self.lunch_s > 0 and self.lunch_start_s <= tod < lunch_end:
            at = day * w + self.lunch_start_s - self.day_start_s
            return at if up else at - 1
        off = (
            tod - self.day_start_s - (self.lunch_s if self.lunch_s > 0 and tod >= lunch_end else 0)
        )
        return day * w + off

    @property
    def free_length_trips(self) -> bool:
        """Whether trips are of free length (each ends when best, within ``trip_max_days``)
        rather than the fixed blocks of :meth:`trip_slots`."""
        return not self.fixed_trip_blocks and self.horizon_days > 1 and self.trip_max_days > 1

    def max_trips(self) -> int:
        """The most trips one team can make in the horizon."""
        if self.fixed_trip_blocks or self.horizon_days == 1:
            return len(self.trip_slots())
        step = 1 + max(self.rest_days, 0)
        return -(-(self.horizon_days + max(self.rest_days, 0)) // step)

    def trip_slots(self) -> list[tuple[int, int]]:
        """First and last day of each trip slot."""
        d = self.trip_max_days
        return [
            (first, min(first + d, self.horizon_days) - 1)
            for first in range(0, self.horizon_days, d)
        ]


def team_trip_windows(cal: Calendar, blocked_days: Collection[int] = ()) -> list[tuple[int, int]]:
    """First and last day of each trip a team may make (one engine vehicle each), in order.

    A team's trips never include its ``blocked_days``: the days of the horizon are cut into runs
    of consecutive days that are not blocked, and every trip lies inside one run. Fixed blocks:
    each block of :meth:`Calendar.trip_slots` cut at the blocked days. Free-length trips: per run
    of ``L`` days, as many windows (the whole run) as a team can make trips there,
    ``floor((L + rest_days) / (1 + rest_days))`` (trips of one day with the rest days between,
    so that unused windows always fit too). With no blocked day this is the calendar's own rule
    (the blocks, or :meth:`Calendar.max_trips` windows over the horizon).
    """
    free = cal.free_length_trips
    blocked = set(blocked_days)
    if not blocked:
        if free:
            return [(0, cal.horizon_days - 1)] * cal.max_trips()
        return cal.trip_slots()
    if free:
        step = 1 + max(cal.rest_days, 0)
        out: list[tuple[int, int]] = []
        for a, b in _runs(0, cal.horizon_days - 1, blocked):
            out += [(a, b)] * ((b - a + 1 + step - 1) // step)
        return out
    return [run for f, la in cal.trip_slots() for run in _runs(f, la, blocked)]


def _runs(first: int, last: int, blocked: Collection[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive days in ``first..last`` that are not ``blocked``."""
    out: list[tuple[int, int]] = []
    start: int | None = None
    for d in range(first, last + 2):
        if d <= last and d not in blocked:
            start = d if start is None else start
        elif start is not None:
            out.append((start, d - 1))
            start = None
    return out


@functools.lru_cache(maxsize=1 << 16)
def allowed_start_intervals(cal: Calendar, stop: Stop) -> tuple[tuple[int, int], ...]:
    """Closed intervals of allowed service starts for a stop, on the work clock, sorted, disjoint.

    A start must lie in a working day that is not blocked, leave room for the whole service before
    the day ends, and lie in one of the stop's windows (if it has any). Cached (both arguments are
    frozen).
    """
    w = cal.work_per_day_s
    blocked = set(stop.blocked_days)
    days = [
        (d * w, cal.day_work_end(d) - stop.service_s)
        for d in range(cal.horizon_days)
        if d not in blocked and stop.service_s <= cal.work_on_day_s(d)
    ]
    if not stop.time_windows_s:
        return tuple(days)
    windows = [(cal.work_of(a, up=True), cal.work_of(b, up=False)) for a, b in stop.time_windows_s]
    out: list[tuple[int, int]] = []
    for lo, hi in days:
        for a, b in windows:
            x, y = max(lo, a), min(hi, b)
            if x <= y:
                out.append((x, y))
    out.sort()
    merged: list[tuple[int, int]] = []
    for a, b in out:
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)
