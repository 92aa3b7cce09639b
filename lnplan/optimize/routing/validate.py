"""Input checks and cheap feasibility checks made before any engine runs.

Mistakes in the data raise :class:`lnplan.errors.InputError`; data that is well formed but cannot
be planned (a stop out of a day's reach, a stop heavier than any team can carry, no working time
left in a stop's windows) raise :class:`lnplan.errors.InfeasibleError`. Both name the stop and
the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lnplan.errors import InfeasibleError, InputError
from lnplan.optimize.routing.model import Calendar, RoutingProblem, Stop, allowed_start_intervals

__all__ = [
    "allowed_start_intervals",
    "reach_s",
    "sleep_nodes",
    "unreachable_message",
    "validate_problem",
]


def _hm(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    return f"{sign}{seconds // 3600}h{(seconds % 3600) // 60:02d}"


def validate_calendar(cal: Calendar) -> None:
    """Raise :class:`InputError` for a calendar that cannot describe working days."""
    if cal.horizon_days < 1:
        raise InputError(
            f"the campaign horizon is {cal.horizon_days} working days; it must be at least 1 day"
        )
    if cal.trip_max_days < 1:
        raise InputError(f"trip_max_days is {cal.trip_max_days}; a trip lasts at least 1 day")
    if not 0 <= cal.day_start_s < cal.day_end_s <= cal.day_length_s:
        raise InputError(
            f"working day {cal.day_start_s}-{cal.day_end_s} s is not inside a day of "
            f"{cal.day_length_s} s with start before end"
        )
    if cal.lunch_s < 0:
        raise InputError(f"lunch_s is {cal.lunch_s}; use 0 for no lunch break")
    if cal.lunch_s > 0 and not (
        cal.day_start_s < cal.lunch_start_s and cal.lunch_start_s + cal.lunch_s < cal.day_end_s
    ):
        raise InputError(
            f"the lunch break {cal.lunch_start_s}-{cal.lunch_start_s + cal.lunch_s} s must lie "
            f"inside the working day {cal.day_start_s}-{cal.day_end_s} s"
        )


def sleep_nodes(problem: RoutingProblem, stop: Stop) -> list[int]:
    """Nodes a team can start the day at before visiting ``stop``: bases, and other stops' places
    when trips last more than one day."""
    nodes = {t.base for t in problem.teams}
    if problem.calendar.trip_max_days > 1:
        nodes.update(s.node for s in problem.stops if s.node != stop.node)
    return sorted(nodes)


def reach_s(
    tt: npt.NDArray[np.int64],
    node: int,
    bases: Sequence[int],
    other_places: Sequence[int],
    *,
    day_trips: bool,
) -> tuple[int, int]:
    """The reach rule, written once: the least driving a visit to ``node`` needs in its day.

    Day trips (``trip_max_days == 1``): the round trip from the nearest base. Longer trips: the
    shortest drive in from a base or any other place a team can sleep (``other_places``; a base
    at ``node`` itself counts as 0). Returns the seconds and the place it is measured from.
    """
    if day_trips:
        best = min(bases, key=lambda b: int(tt[b, node]) + int(tt[node, b]))
        return int(tt[best, node]) + int(tt[node, best]), int(best)
    places = [p for p in set(bases) | set(other_places) if p != node or p in bases]
    best = min(places, key=lambda p: int(tt[p, node]))
    return int(tt[best, node]), int(best)


def unreachable_message(
    label: str, reach: int, origin: str, service_s: int, day_s: int, *, day_trips: bool
) -> str:
    """The one message for a visit that does not fit in a working day with its reach."""
    how = (
        f"the best round trip from a base ({origin}) takes {_hm(reach)}"
        if day_trips
        else f"the nearest place a team can sleep ({origin}) is {_hm(reach)} away"
    )
    return (
        f"{label} cannot be reached within one working day from any place a team can sleep: "
        f"{how}, and with {_hm(service_s)} on site that exceeds a working day ({_hm(day_s)} "
        "without lunch)"
    )


def validate_problem(problem: RoutingProblem) -> None:
    """Check shapes, indices, the calendar and cheap feasibility conditions.

    Raises
    ------
    InputError
        Malformed data: matrix shapes, node indices, negative values, zero teams, a horizon
        shorter than one day, a time window outside the horizon.
    InfeasibleError
        A stop that cannot be reached within one working day from any place a team can sleep, a
        stop whose windows leave no working time, a stop heavier than every team's capacity.
    """
    tt, dist = problem.travel_time_s, problem.distance_km
    if tt.ndim != 2 or tt.shape[0] != tt.shape[1] or tt.shape[0] == 0:
        raise InputError(f"travel_time_s must be a non-empty square matrix, got shape {tt.shape}")
    if dist.shape != tt.shape:
        raise InputError(
            f"distance_km has shape {dist.shape} but travel_time_s has shape {tt.shape}"
        )
    if not np.issubdtype(tt.dtype, np.integer):
        raise InputError(f"travel_time_s must hold integer seconds, got dtype {tt.dtype}")
    if (tt < 0).any():
        i, j = np.argwhere(tt < 0)[0]
        raise InputError(f"travel_time_s[{i}, {j}] is {tt[i, j]}; travel times must be >= 0")
    if not np.isfinite(dist).all() or (dist < 0).any():
        raise InputError("distance_km must be finite and >= 0")
    n = problem.n_nodes
    if not problem.balance_weight >= 0:
        raise InputError(f"balance_weight is {problem.balance_weight}; it must be >= 0")
    if len(problem.teams) == 0:
        raise InputError("there are zero teams; give at least one team with a base")
    if problem.keep_trip and len(problem.keep_trip) != len(problem.stops):
        raise InputError(
            f"keep_trip has {len(problem.keep_trip)} entries for {len(problem.stops)} stops"
        )
    for k, keep in enumerate(problem.keep_trip):
        if keep is not None and not (0 <= keep[0] < len(problem.teams) and keep[1] >= 0):
            raise InputError(
                f"keep_trip of stop {k} is {keep}: a team index below {len(problem.teams)} and a "
                "trip index >= 0 (or None)"
            )
    cal = problem.calendar
    validate_calendar(cal)
    for k, team in enumerate(problem.teams):
        if not 0 <= team.base < n:
            raise InputError(f"team {team.name or k}: base node {team.base} is not in 0..{n - 1}")
        if team.end is not None and not 0 <= team.end < n:
            raise InputError(f"team {team.name or k}: end node {team.end} is not in 0..{n - 1}")
        if team.capacity is not None and team.capacity < 0:
            raise InputError(f"team {team.name or k}: capacity {team.capacity} is negative")
        for d in team.blocked_days:
            if not 0 <= d < cal.horizon_days:
                raise InputError(
                    f"team {team.name or k}: blocked day {d} is outside the horizon "
                    f"0..{cal.horizon_days - 1}"
                )
    for node in problem.lodging:
        if not 0 <= node < n:
            raise InputError(f"lodging place {node} is not a node in 0..{n - 1}")
    for d, limit in enumerate(cal.day_limits_s):
        if not 0 <= limit <= cal.work_per_day_s:
            raise InputError(
                f"day_limits_s[{d}] is {limit} s; it must lie in 0..{cal.work_per_day_s} "
                "(the working day without lunch)"
            )
    horizon_end = cal.day_close_s(cal.horizon_days - 1)
    horizon_start = cal.day_open_s(0)
    for k, s in enumerate(problem.stops):
        label = problem.stop_name(k) if 0 <= s.node < n else f"stop {k}"
        if not 0 <= s.node < n:
            raise InputError(f"{label}: node {s.node} is not in 0..{n - 1}")
        if s.demand < 0 or s.service_s < 0:
            raise InputError(f"{label}: demand and service_s must be >= 0")
        if s.drop_penalty is not None and s.drop_penalty < 0:
            raise InputError(f"{label}: drop_penalty {s.drop_penalty} is negative")
        for a, b in s.time_windows_s:
            if a > b:
                raise InputError(f"{label}: time window ({a}, {b}) ends before it starts")
            if b < horizon_start or a > horizon_end:
                raise InputError(
                    f"{label}: time window ({a}, {b}) s is outside the campaign horizon "
                    f"({horizon_start}, {horizon_end}) s = working days 0..{cal.horizon_days - 1}"
                )
        for d in s.blocked_days:
            if not 0 <= d < cal.horizon_days:
                raise InputError(
                    f"{label}: blocked day {d} is outside the horizon 0..{cal.horizon_days - 1}"
                )
    _check_feasibility(problem)


def _check_feasibility(problem: RoutingProblem) -> None:
    cal, tt = problem.calendar, problem.travel_time_s
    caps = [t.capacity for t in problem.teams]
    max_cap = None if any(c is None for c in caps) else max(c for c in caps if c is not None)
    bases = sorted({t.base for t in problem.teams})
    day_s = cal.work_per_day_s
    # Where a team may sleep before a stop (see sleep_nodes): bases and the other stops' places.
    if problem.lodging:
        bases = sorted(set(bases) | set(problem.lodging) | {t.end_node for t in problem.teams})
    everywhere = np.array(sorted(set(bases) | {s.node for s in problem.stops}), dtype=np.int64)
    is_base = np.isin(everywhere, bases)
    for k, s in enumerate(problem.stops):
        label = problem.stop_name(k)
        if s.drop_penalty is not None:
            continue  # an optional stop that cannot be served is left out and reported dropped
        if max_cap is not None and s.demand > max_cap:
            raise InfeasibleError(
                f"{label}: demand {s.demand} exceeds the largest team capacity {max_cap}"
            )
        if s.service_s > day_s:
            raise InfeasibleError(
                f"{label}: service time {_hm(s.service_s)} is longer than a working day "
                f"({_hm(day_s)} without lunch); split the stop into visits of at most one day"
            )
        if not allowed_start_intervals(cal, s):
            raise InfeasibleError(
                f"{label}: its time windows and blocked days leave no working time in the "
                f"horizon for a {_hm(s.service_s)} visit"
            )
        day_trips = cal.trip_max_days == 1
        reach, origin = reach_s(
            tt, s.node, bases, [int(p) for p in everywhere], day_trips=day_trips
        )
        if reach + s.service_s > day_s:
            raise InfeasibleError(
                unreachable_message(
                    label, reach, problem.node_name(origin), s.service_s, day_s,
                    day_trips=day_trips,
                )
            )  # fmt: skip
        if day_trips:
            continue
        places = everywhere[(everywhere != s.node) | is_base]
        onward = int(tt[s.node, places].min())
        if onward > day_s:
            raise InfeasibleError(
                f"{label}: every place a team could sleep next is more than one working day "
                f"away ({_hm(onward)} > {_hm(day_s)}); a team could not leave without driving "
                "at night"
            )
