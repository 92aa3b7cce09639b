"""Timing of an ordered trip under the day rules (earliest schedule, with repair).

Engines decide the order of the stops; this module sets the times, on the work clock of
:class:`~lnplan.optimize.routing.model.Calendar` (working seconds; lunch and nights vanish). For
each leg it takes the earliest service start ``s`` at the next stop such that

- ``s`` is an allowed start (a working day that is not blocked, the service ends by the day's end,
  inside a window of the stop, inside the trip),
- the drive ``[s - travel, s]`` lies inside the working day of ``s`` and starts after the previous
  service has ended: the team waits or sleeps where it is, then drives; it never drives at night
  and sleeps where its day ends.

The return to base is timed the same way (the team leaves right after its last service if it can be
home before the day ends, otherwise the next morning) and must be back by the end of the trip's last
day. A stop that cannot be timed inside its trip is left out (the caller reports it dropped). The
OR-Tools model only approximates the night rule, so its order is re-timed here rather than trusted;
for one-day problems this is the usual earliest VRPTW schedule.
"""

from __future__ import annotations

import bisect

from lnplan.optimize.routing.calendar import allowed_start_intervals
from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem

__all__ = ["TripTimer", "earliest_start", "time_lodging_trip", "time_trip"]


def earliest_start(
    allowed: list[tuple[int, int]], travel: int, ready: int, work_per_day: int
) -> int | None:
    """Earliest allowed work-clock start with the drive in before it on the same day, or None."""
    if travel > work_per_day:
        return None
    t = ready + travel
    while True:
        s = next((max(t, a) for a, b in allowed if max(t, a) <= b), None)
        if s is None:
            return None
        day_open = (s // work_per_day) * work_per_day
        if s - travel >= day_open:
            return s
        t = day_open + travel


class TripTimer:
    """Exact earliest timing of the trips of one problem (:func:`time_trip`'s rule).

    Each stop's allowed starts (:func:`~lnplan.optimize.routing.calendar.allowed_start_intervals`)
    are prepared once, on first use, and searched by bisection; a caller that times many orders
    of the same problem (the repair step) keeps one timer and can time an order from the middle
    (:meth:`advance` from the state after a prefix).
    """

    def __init__(self, problem: RoutingProblem) -> None:
        self.problem = problem
        self.w = problem.calendar.work_per_day_s
        self._intervals: dict[int, tuple[list[int], list[int]]] = {}

    def _allowed(self, i: int) -> tuple[list[int], list[int]]:
        got = self._intervals.get(i)
        if got is None:
            iv = allowed_start_intervals(self.problem.calendar, self.problem.stops[i])
            got = ([a for a, _ in iv], [b for _, b in iv])
            self._intervals[i] = got
        return got

    def advance(self, here: int, ready: int, i: int, trip_end: int) -> int | None:
        """Earliest start of stop ``i`` for a team at node ``here`` free from work time
        ``ready`` (the drive in on the day of the start, the service over by ``trip_end``), or
        None. The same as :func:`earliest_start` on the stop's allowed starts from ``ready``."""
        stop = self.problem.stops[i]
        travel = int(self.problem.travel_time_s[here, stop.node])
        w = self.w
        if travel > w:
            return None
        starts, ends = self._allowed(i)
        latest = trip_end - stop.service_s
        t = ready + travel
        while True:
            # the first allowed interval still open at t; t >= ready, so clipping the intervals
            # to [ready, latest] only matters at the end
            j = bisect.bisect_left(ends, t)
            if j == len(ends):
                return None
            s = max(t, starts[j])
            if s > latest:
                return None
            day_open = (s // w) * w
            if s - travel >= day_open:
                return s
            t = day_open + travel

    def back(self, here: int, ready: int, team: int, trip_end: int) -> int | None:
        """Work time at which the team, free at ``here`` from ``ready``, is back at its end
        (leaving at once if it can arrive before the day ends, else the next morning), or None
        when that is after the trip's end or outside a working day."""
        cal = self.problem.calendar
        w = self.w
        leg = int(self.problem.travel_time_s[here, self.problem.teams[team].end_node])
        depart = ready
        if depart + leg > cal.day_work_end(depart // w):
            depart = (depart // w + 1) * w
        back = depart + leg
        if back <= cal.day_work_end(max(back - 1, 0) // w) and back <= trip_end:
            return back
        return None

    def time(
        self, team: int, first_day: int, last_day: int, stops: list[int]
    ) -> tuple[PlannedTrip, list[int]]:
        """:func:`time_trip` with this timer's prepared intervals."""
        problem = self.problem
        cal = problem.calendar
        w = self.w
        base = problem.teams[team].base
        trip_end = (last_day + 1) * w
        order = list(stops)
        left_out: list[int] = []
        while True:
            here, ready = base, first_day * w
            starts: list[int] = []
            failed: int | None = None
            for pos, i in enumerate(order):
                s = self.advance(here, ready, i, trip_end)
                if s is None:
                    failed = pos
                    break
                starts.append(s)
                here, ready = problem.stops[i].node, s + problem.stops[i].service_s
            if failed is None:
                back = self.back(here, ready, team, trip_end)
                if back is not None:
                    trip = PlannedTrip(
                        team,
                        first_day,
                        last_day,
                        tuple(order),
                        tuple(cal.wall_start(s) for s in starts),
                        cal.wall_end(back) if order else cal.day_open_s(first_day),
                    )
                    return trip, left_out
                failed = len(order) - 1
            left_out.append(order.pop(failed))


def time_trip(
    problem: RoutingProblem, team: int, first_day: int, last_day: int, stops: list[int]
) -> tuple[PlannedTrip, list[int]]:
    """Time the stops of a trip in the given order, leaving out those that do not fit.

    Each stop starts as early as :func:`earliest_start` allows after the previous one; a stop that
    cannot start inside the trip is left out and the order timed again; when the team cannot be
    back in time, the last stop is left out.

    Returns
    -------
    trip, left_out
        The timed trip on the wall clock (possibly with fewer stops) and the stops left out.
    """
    return TripTimer(problem).time(team, first_day, last_day, stops)


def time_lodging_trip(
    problem: RoutingProblem,
    team: int,
    first_day: int,
    last_day: int,
    days: list[list[int]],
    nights: list[int],
) -> tuple[PlannedTrip, list[int]]:
    """Time a trip whose nights are spent at lodging places, day by day.

    ``days[k]`` are the stops of day ``first_day + k`` in order and ``nights[k]`` the place of the
    night after it. Each day starts at its night place (the base on the first day) at the day's
    opening and ends with the drive to the next night's place (the team's end on the last day)
    within its working time. A stop that does not fit is left out (the last of its day first).
    """
    cal, tt = problem.calendar, problem.travel_time_s
    w = cal.work_per_day_s
    member = problem.teams[team]
    left_out: list[int] = []
    stops: list[int] = []
    starts: list[int] = []
    back = first_day * w
    for k, d in enumerate(range(first_day, last_day + 1)):
        here0 = member.base if k == 0 else nights[k - 1]
        night = member.end_node if d == last_day else nights[k]
        order = list(days[k]) if k < len(days) else []
        while True:
            here, ready = here0, d * w
            day_starts: list[int] = []
            failed: int | None = None
            for pos, i in enumerate(order):
                stop = problem.stops[i]
                allowed = [
                    (max(a, ready), b)
                    for a, b in allowed_start_intervals(cal, stop)
                    if max(a, ready) <= b and a < (d + 1) * w
                ]
                s = earliest_start(allowed, int(tt[here, stop.node]), ready, w)
                if s is None or s // w != d:
                    failed = pos
                    break
                day_starts.append(s)
                here, ready = stop.node, s + stop.service_s
            if failed is None:
                if ready + int(tt[here, night]) <= cal.day_work_end(d) or not order:
                    back = ready + int(tt[here, night])
                    break
                failed = len(order) - 1
            left_out.append(order.pop(failed))
        stops.extend(order)
        starts.extend(cal.wall_start(s) for s in day_starts)
    trip = PlannedTrip(
        team,
        first_day,
        last_day,
        tuple(stops),
        tuple(starts),
        cal.wall_end(back),
        nights=tuple(nights),
    )
    return trip, left_out
