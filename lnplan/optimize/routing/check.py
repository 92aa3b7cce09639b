"""Independent feasibility check of timed trips against the problem.

It shares no code with the engines or the scheduler: from the problem and the ordered stops with
their wall-clock service starts it recomputes loads, travel and the working time of every activity,
and lists every rule that is broken. Times are converted to the work clock of
:class:`~lnplan.optimize.routing.model.Calendar` (working seconds; lunch pauses activities, nights
do not) with an exactness test, so a start inside a night or a lunch break is caught. The rules:

- every service start is a working moment; the service ``[start, start + service]`` and the drive
  into the stop ``[start - travel, start]`` (the team drives as late as possible: it waits or sleeps
  where it is) lie inside one working day: no night driving, no night work;
- a drive never starts before the previous service has ended (or before the trip's first day);
- the start lies in one of the stop's windows, on a day of the trip that is not blocked;
- the team is back at base (``return_s``) by the end of the trip's last day, by a drive that lies
  inside one working day and starts after the last service;
- no trip of a team includes one of the team's blocked days (from its first day to the day it is
  back);
- a trip lasts at most ``trip_max_days`` days inside the horizon, a team's trips do not overlap,
  the load of a trip is within the team's capacity, every stop is visited at most once and every
  stop without a drop penalty is visited.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem

__all__ = ["SolutionCheckError", "check_trips", "plan_objective"]


class SolutionCheckError(RuntimeError):
    """An engine returned a plan that breaks the model's rules (a bug, not a user mistake)."""


def check_trips(problem: RoutingProblem, trips: Sequence[PlannedTrip]) -> list[str]:
    """Return every violated rule (empty list: the plan is feasible)."""
    cal, tt = problem.calendar, problem.travel_time_s
    bad: list[str] = []
    seen: dict[int, int] = {}
    team_days: dict[int, list[tuple[int, int]]] = {}
    for k, trip in enumerate(trips):
        where = f"trip {k} (team {trip.team})"
        if not 0 <= trip.team < len(problem.teams):
            bad.append(f"{where}: unknown team")
            continue
        if len(trip.stops) != len(trip.start_s):
            bad.append(f"{where}: {len(trip.stops)} stops but {len(trip.start_s)} start times")
            continue
        if not 0 <= trip.first_day <= trip.last_day < cal.horizon_days:
            bad.append(f"{where}: days {trip.first_day}..{trip.last_day} outside the horizon")
        if trip.last_day - trip.first_day + 1 > cal.trip_max_days:
            bad.append(f"{where}: lasts {trip.last_day - trip.first_day + 1} days")
        team_days.setdefault(trip.team, []).append((trip.first_day, trip.last_day))
        team = problem.teams[trip.team]
        away = [trip.first_day, trip.return_s // cal.day_length_s]
        away += [t // cal.day_length_s for t in trip.start_s]
        on_leave = sorted(d for d in team.blocked_days if min(away) <= d <= max(away))
        if on_leave:
            bad.append(f"{where}: the team is blocked on day(s) {on_leave} of the trip")
        load = sum(problem.stops[i].demand for i in trip.stops if 0 <= i < len(problem.stops))
        if team.capacity is not None and load > team.capacity:
            bad.append(f"{where}: load {load} exceeds capacity {team.capacity}")
        w = cal.work_per_day_s
        limits = cal.day_limits_s

        def day_end(day: int, w: int = w, limits: tuple[int, ...] = limits) -> int:
            return day * w + (min(limits[day], w) if 0 <= day < len(limits) else w)

        end_node = team.base if team.end is None else team.end
        if problem.lodging:
            bad.extend(_check_lodging_trip(problem, trip, where, day_end, end_node))
            for i in trip.stops:
                if i in seen:
                    bad.append(f"stop {i} visited twice (trips {seen[i]} and {k})")
                seen[i] = k
            continue
        if trip.nights:
            bad.append(f"{where}: lists nights but the problem has no lodging places")
        here, ready = team.base, trip.first_day * w
        for i, start in zip(trip.stops, trip.start_s, strict=True):
            if not 0 <= i < len(problem.stops):
                bad.append(f"{where}: unknown stop {i}")
                continue
            if i in seen:
                bad.append(f"stop {i} visited twice (trips {seen[i]} and {k})")
            seen[i] = k
            s = problem.stops[i]
            label = f"{where}, stop {i} ({problem.stop_name(i)})"
            ws = cal.work_of(start, up=True)
            if cal.wall_start(ws) != start:
                bad.append(f"{label}: start {start} is not working time (night or lunch)")
            day, leg = ws // w, int(tt[here, s.node])
            if ws - leg < ready:
                bad.append(f"{label}: drive in starts before the team is free")
            if ws - leg < day * w:
                bad.append(f"{label}: drive in ({leg} s) does not fit in the day before {start}")
            if ws + s.service_s > day_end(day):
                bad.append(f"{label}: service of {s.service_s} s runs past the day's end")
            if not trip.first_day <= day <= trip.last_day:
                bad.append(f"{label}: day {day} is outside the trip")
            if day in s.blocked_days:
                bad.append(f"{label}: visited on blocked day {day}")
            if s.time_windows_s and not any(a <= start <= b for a, b in s.time_windows_s):
                bad.append(f"{label}: start {start} is outside its windows {s.time_windows_s}")
            here, ready = s.node, ws + s.service_s
        if trip.stops:
            leg = int(tt[here, end_node])
            back = cal.work_of(trip.return_s, up=True)
            if cal.wall_end(back) != trip.return_s:
                bad.append(f"{where}: return at {trip.return_s} is not working time")
            depart = back - leg
            if depart < ready:
                bad.append(f"{where}: drives home before it is free")
            if leg > 0 and (depart // w) != ((back - 1) // w):
                bad.append(f"{where}: drive home ({leg} s) is not inside one working day")
            if back > day_end((back - 1) // w):
                bad.append(f"{where}: back at {trip.return_s}, after that day's working time")
            if back > (trip.last_day + 1) * w:
                bad.append(f"{where}: back at {trip.return_s}, after the trip's last day")
    rest = 0 if cal.fixed_trip_blocks else max(cal.rest_days, 0)
    for t, spans in team_days.items():
        spans.sort()
        # the days between two trips are the rest, blocked days among them too
        for (_, b), (c, _) in itertools.pairwise(spans):
            if c <= b + rest:
                bad.append(
                    f"team {t}: a trip starts on day {c}, before day {b} + 1 + {rest} rest day(s)"
                )
    for i, s in enumerate(problem.stops):
        if s.drop_penalty is None and i not in seen:
            bad.append(f"stop {i} ({problem.stop_name(i)}) must be visited but is not")
    return bad


def _check_lodging_trip(
    problem: RoutingProblem, trip: PlannedTrip, where: str, day_end: Callable[[int], int], end: int
) -> list[str]:
    """Rules of a trip whose nights are spent at lodging places: every day starts where the last
    night was spent (the base on the first day) and ends with the drive to the next night's place
    (the trip's end place on the last day), inside that day's working time."""
    cal, tt = problem.calendar, problem.travel_time_s
    w = cal.work_per_day_s
    bad: list[str] = []
    team = problem.teams[trip.team]
    n_nights = trip.last_day - trip.first_day
    if len(trip.nights) != n_nights:
        return [f"{where}: {len(trip.nights)} nights listed for a trip of {n_nights + 1} days"]
    allowed = set(problem.lodging) | {team.base, end}
    for night in trip.nights:
        if night not in allowed:
            bad.append(
                f"{where}: spends a night at {problem.node_name(night)}, not a lodging place"
            )
    last_day = trip.first_day - 1
    for d in range(trip.first_day, trip.last_day + 1):
        here = team.base if d == trip.first_day else trip.nights[d - trip.first_day - 1]
        ready = d * w
        for i, start in zip(trip.stops, trip.start_s, strict=True):
            ws = cal.work_of(start, up=True)
            if ws // w != d:
                continue
            label = f"{where}, stop {i} ({problem.stop_name(i)})"
            if not 0 <= i < len(problem.stops):
                bad.append(f"{label}: unknown stop")
                continue
            if d < last_day:
                bad.append(f"{label}: served out of day order")
            last_day = d
            s = problem.stops[i]
            if cal.wall_start(ws) != start:
                bad.append(f"{label}: start {start} is not working time (night or lunch)")
            leg = int(tt[here, s.node])
            if ws - leg < ready:
                bad.append(f"{label}: drive in ({leg} s) starts before the team is free that day")
            if ws + s.service_s > day_end(d):
                bad.append(f"{label}: service runs past the day's working time")
            if d in s.blocked_days:
                bad.append(f"{label}: visited on blocked day {d}")
            if s.time_windows_s and not any(a <= start <= b for a, b in s.time_windows_s):
                bad.append(f"{label}: start {start} is outside its windows {s.time_windows_s}")
            here, ready = s.node, ws + s.service_s
        night = end if d == trip.last_day else trip.nights[d - trip.first_day]
        if ready + int(tt[here, night]) > day_end(d):
            bad.append(
                f"{where}: day {d} ends at {problem.node_name(night)} after its working time "
                f"({ready + int(tt[here, night]) - d * w} s > {day_end(d) - d * w} s)"
            )
    for i, start in zip(trip.stops, trip.start_s, strict=True):
        if not trip.first_day <= cal.work_of(start, up=True) // w <= trip.last_day:
            bad.append(f"{where}, stop {i}: served outside the trip's days")
    return bad


def plan_objective(problem: RoutingProblem, trips: Sequence[PlannedTrip]) -> float:
    """The model's objective of timed trips, recomputed from the trips alone.

    Travel time of every leg (base, stops in order, the trip's end place) plus the drop penalty of
    every stop no trip visits; ``inf`` when a stop that must be visited is not. The balance term
    is not included. Written here, apart from the engines and the scheduler, so that a result's
    objective never is an engine's own number.
    """
    tt = problem.travel_time_s
    day_length = problem.calendar.day_length_s
    total = 0.0
    seen: set[int] = set()
    for trip in trips:
        team = problem.teams[trip.team]
        end = team.base if team.end is None else team.end
        if problem.lodging:
            places = [team.base]
            for d in range(trip.first_day, trip.last_day + 1):
                places += [
                    problem.stops[i].node
                    for i, t in zip(trip.stops, trip.start_s, strict=True)
                    if t // day_length == d
                ]
                places.append(end if d == trip.last_day else trip.nights[d - trip.first_day])
        elif trip.stops:
            places = [team.base] + [problem.stops[i].node for i in trip.stops] + [end]
        else:
            places = []
        total += sum(int(tt[a, b]) for a, b in itertools.pairwise(places))
        seen.update(trip.stops)
    for i, s in enumerate(problem.stops):
        if i not in seen:
            total += float("inf") if s.drop_penalty is None else float(s.drop_penalty)
    return total
