"""Turn checked trips into the result: per-team trips, per-day breakdowns, totals and the
contract's fields (objective recomputed independently, bound, gap, status)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from lnplan.optimize.result import proven_gap, status_of
from lnplan.optimize.routing.bound import PROOF, objective_bound
from lnplan.optimize.routing.check import plan_objective
from lnplan.optimize.routing.model import (
    Calendar,
    PlannedTrip,
    RoutingProblem,
    RoutingResult,
    TeamDay,
    Trip,
    Visit,
)

__all__ = ["build_result"]


def _left_at(cal: Calendar, arrival_s: int, leg_s: int) -> int:
    """Wall-clock departure of a drive of ``leg_s`` working seconds that arrives at ``arrival_s``
    (a lunch break inside the drive pauses it)."""
    return cal.wall_start(cal.work_of(arrival_s, up=True) - leg_s)


def _team_day(
    problem: RoutingProblem,
    p: PlannedTrip,
    day: int,
    visits: Sequence[Visit],
    drive: tuple[int, float],
    night: int,
) -> TeamDay:
    """One day of a trip: its visits, its driving (seconds, km) and where the team sleeps."""
    return TeamDay(
        team=p.team,
        day=day,
        visits=tuple(visits),
        children=sum(v.demand for v in visits),
        driving_s=drive[0],
        driving_km=drive[1],
        overnight_node=night,
        overnight_name=problem.node_name(night),
    )


def _whole_trip(
    problem: RoutingProblem,
    p: PlannedTrip,
    depart_s: int,
    visits: Sequence[Visit],
    days: Sequence[TeamDay],
    drive: tuple[int, float],
) -> Trip:
    """The trip of ``p`` from its visits and days; ``drive`` is its total (seconds, km)."""
    team = problem.teams[p.team]
    return Trip(
        team=p.team,
        team_name=team.name or f"team {p.team}",
        base_node=team.base,
        depart_s=depart_s,
        return_s=p.return_s,
        visits=tuple(visits),
        days=tuple(days),
        demand=sum(v.demand for v in visits),
        travel_time_s=drive[0],
        distance_km=drive[1],
    )


def _trip(problem: RoutingProblem, p: PlannedTrip) -> Trip:
    cal, tt, km = problem.calendar, problem.travel_time_s, problem.distance_km
    team = problem.teams[p.team]
    end = team.end_node
    visits: list[Visit] = []
    days: list[TeamDay] = []
    if problem.lodging:
        day_of = [cal.day_of(t) for t in p.start_s]
        total_s, total_km = 0, 0.0
        for d in range(p.first_day, p.last_day + 1):
            here = team.base if d == p.first_day else p.nights[d - p.first_day - 1]
            night = end if d == p.last_day else p.nights[d - p.first_day]
            on_day = [k for k in range(len(p.stops)) if day_of[k] == d]
            nodes = [here] + [problem.stops[p.stops[k]].node for k in on_day] + [night]
            drive_s = sum(int(tt[a, b]) for a, b in itertools.pairwise(nodes))
            drive_km = sum(float(km[a, b]) for a, b in itertools.pairwise(nodes))
            day_visits: list[Visit] = []
            for k in on_day:
                s = problem.stops[p.stops[k]]
                start = p.start_s[k]
                finish = cal.wall_end(cal.work_of(start, up=True) + s.service_s)
                day_visits.append(
                    Visit(
                        stop=p.stops[k],
                        name=problem.stop_name(p.stops[k]),
                        node=s.node,
                        arrival_s=start,
                        start_s=start,
                        end_s=finish,
                        departure_s=finish,
                        demand=s.demand,
                    )
                )
            visits.extend(day_visits)
            total_s += drive_s
            total_km += drive_km
            days.append(_team_day(problem, p, d, day_visits, (drive_s, drive_km), night))
        depart = cal.day_open_s(p.first_day)
        return _whole_trip(problem, p, depart, visits, days, (total_s, total_km))
    nodes = [team.base] + [problem.stops[i].node for i in p.stops] + [end]
    legs_s = [int(tt[a, b]) for a, b in itertools.pairwise(nodes)]
    legs_km = [float(km[a, b]) for a, b in itertools.pairwise(nodes)]
    arrivals = [*p.start_s, p.return_s]  # the team drives as late as possible
    for k, i in enumerate(p.stops):
        s = problem.stops[i]
        start = p.start_s[k]
        visits.append(
            Visit(
                stop=i,
                name=problem.stop_name(i),
                node=s.node,
                arrival_s=start,
                start_s=start,
                end_s=cal.wall_end(cal.work_of(start, up=True) + s.service_s),
                departure_s=_left_at(cal, arrivals[k + 1], legs_s[k + 1]),
                demand=s.demand,
            )
        )
    depart = _left_at(cal, p.start_s[0], legs_s[0]) if p.stops else p.return_s
    first_day, last_day = cal.day_of(depart), cal.day_of(p.return_s)
    for d in range(first_day, last_day + 1):
        todays = tuple(v for v in visits if cal.day_of(v.start_s) == d)
        drive_s = sum(legs_s[k] for k in range(len(arrivals)) if cal.day_of(arrivals[k]) == d)
        drive_km = sum(legs_km[k] for k in range(len(arrivals)) if cal.day_of(arrivals[k]) == d)
        reached = [k for k in range(len(arrivals)) if cal.day_of(arrivals[k]) <= d]
        night = nodes[reached[-1] + 1] if reached else team.base
        days.append(_team_day(problem, p, d, todays, (drive_s, drive_km), night))
    return _whole_trip(problem, p, depart, visits, days, (sum(legs_s), sum(legs_km)))


def build_result(
    problem: RoutingProblem,
    planned: list[PlannedTrip],
    *,
    engine: str,
    runtime_s: float,
    rules_checked: bool,
    work: Mapping[str, float] | None = None,
    time_limit_hit: bool = False,
    warnings: tuple[str, ...] = (),
) -> RoutingResult:
    """Turn trips that passed the independent check into the per-team, per-day result.

    The objective is :func:`~lnplan.optimize.routing.check.plan_objective` of the trips, the bound
    :func:`~lnplan.optimize.routing.bound.objective_bound`; the status is ``optimal`` only when
    the bound meets the objective.
    """
    trips = [_trip(problem, p) for p in sorted(planned, key=lambda p: (p.team, p.first_day))]
    visited = {v.stop for t in trips for v in t.visits}
    dropped = tuple(i for i in range(len(problem.stops)) if i not in visited)
    objective = plan_objective(problem, planned)
    bound = objective_bound(problem)
    gap = proven_gap(objective, bound)
    return RoutingResult(
        engine=engine,
        status=status_of(has_answer=True, gap=gap),
        objective=objective,
        travel_time_s=sum(t.travel_time_s for t in trips),
        distance_km=sum(t.distance_km for t in trips),
        runtime_s=runtime_s,
        trips=tuple(trips),
        dropped=dropped,
        demand_served=sum(problem.stops[i].demand for i in visited),
        demand_dropped=sum(problem.stops[i].demand for i in dropped),
        rules_checked=rules_checked,
        bound=bound,
        gap=gap,
        proof=PROOF,
        work=dict(work or {}),
        time_limit_hit=time_limit_hit,
        warnings=warnings,
    )
