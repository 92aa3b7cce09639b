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
- a trip lasts at most ``trip_max_days`` days inside the horizon, a team's trips do not overlap,
  the load of a trip is within the team's capacity, every stop is visited at most once and every
  stop without a drop penalty is visited.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem

__all__ = ["SolutionCheckError", "check_trips"]


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
        load = sum(problem.stops[i].demand for i in trip.stops if 0 <= i < len(problem.stops))
        if team.capacity is not None and load > team.capacity:
            bad.append(f"{where}: load {load} exceeds capacity {team.capacity}")
        w = cal.work_per_day_s
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
            if ws + s.service_s > (day + 1) * w:
                bad.append(f"{label}: service of {s.service_s} s runs past the day's end")
            if not trip.first_day <= day <= trip.last_day:
                bad.append(f"{label}: day {day} is outside the trip")
            if day in s.blocked_days:
                bad.append(f"{label}: visited on blocked day {day}")
            if s.time_windows_s and not any(a <= start <= b for a, b in s.time_windows_s):
                bad.append(f"{label}: start {start} is outside its windows {s.time_windows_s}")
            here, ready = s.node, ws + s.service_s
        if trip.stops:
            leg = int(tt[here, team.base])
            back = cal.work_of(trip.return_s, up=True)
            if cal.wall_end(back) != trip.return_s:
                bad.append(f"{where}: return at {trip.return_s} is not working time")
            depart = back - leg
            if depart < ready:
                bad.append(f"{where}: drives home before it is free")
            if leg > 0 and (depart // w) != ((back - 1) // w):
                bad.append(f"{where}: drive home ({leg} s) is not inside one working day")
            if back > (trip.last_day + 1) * w:
                bad.append(f"{where}: back at {trip.return_s}, after the trip's last day")
    for t, spans in team_days.items():
        spans.sort()
        for (_, b), (c, _) in itertools.pairwise(spans):
            if c <= b:
                bad.append(f"team {t}: trips overlap (day {c} <= {b})")
    for i, s in enumerate(problem.stops):
        if s.drop_penalty is None and i not in seen:
            bad.append(f"stop {i} ({problem.stop_name(i)}) must be visited but is not")
    return bad
