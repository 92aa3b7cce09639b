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

from lnplan.optimize.routing.calendar import allowed_start_intervals
from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem

__all__ = ["earliest_start", "time_lodging_trip", "time_trip"]


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


def time_trip(
    problem: RoutingProblem, team: int, first_day: int, last_day: int, stops: list[int]
) -> tuple[PlannedTrip, list[int]]:
    """Time the stops of a trip in the given order, leaving out those that do not fit.

    Returns
    -------
    trip, left_out
        The timed trip on the wall clock (possibly with fewer stops) and the stops left out.
    """
    cal, tt = problem.calendar, problem.travel_time_s
    w = cal.work_per_day_s
    base = problem.teams[team].base
    trip_end = (last_day + 1) * w
    order = list(stops)
    left_out: list[int] = []
    while True:
        here, ready = base, first_day * w
        starts: list[int] = []
        failed: int | None = None
        for pos, i in enumerate(order):
            stop = problem.stops[i]
            latest = trip_end - stop.service_s
            allowed = [
                (max(a, ready), min(b, latest))
                for a, b in allowed_start_intervals(cal, stop)
                if max(a, ready) <= min(b, latest)
            ]
            s = earliest_start(allowed, int(tt[here, stop.node]), ready, w)
            if s is None:
                failed = pos
                break
            starts.append(s)
            here, ready = stop.node, s + stop.service_s
        if failed is None:
            leg = int(tt[here, problem.teams[team].end_node])
            depart = ready
            if depart + leg > cal.day_work_end(depart // w):
                depart = (depart // w + 1) * w
            back = depart + leg
            if back <= cal.day_work_end(max(back - 1, 0) // w) and back <= trip_end:
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
