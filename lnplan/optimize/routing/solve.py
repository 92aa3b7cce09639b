"""Solve a routing problem with an engine, check the plan independently, build the result."""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import replace

from lnplan.errors import InfeasibleError, InputError
from lnplan.optimize.routing.check import SolutionCheckError, check_trips
from lnplan.optimize.routing.model import (
    Calendar,
    PlannedTrip,
    RoutingProblem,
    RoutingResult,
    SolveParams,
    StopOrder,
    TeamDay,
    Trip,
    Visit,
)
from lnplan.optimize.routing.schedule import time_trip
from lnplan.optimize.routing.validate import validate_problem

__all__ = ["ENGINES", "solve_routing"]

log = logging.getLogger(__name__)

ENGINES = ("auto", "pyvrp", "ortools", "ortools-default")


def solve_routing(
    problem: RoutingProblem, params: SolveParams | None = None, *, log_search: bool = False
) -> RoutingResult:
    """Plan the trips of every team.

    Parameters
    ----------
    problem
        The routing problem.
    params
        Time limit, seed, iteration limit and engine (see :class:`SolveParams`).
    log_search
        Let the engine log its search.

    Returns
    -------
    RoutingResult
        The plan after the independent check, with the engine that produced it.

    Raises
    ------
    InputError
        Malformed problem, unknown engine, or an engine that cannot express the problem.
    InfeasibleError
        Cheap pre-checks fail, or no engine solution visits every stop that must be visited.
    SolutionCheckError
        The engine's plan breaks a rule (a bug).
    """
    from lnplan.optimize.routing.pyvrp_engine import pyvrp_can_solve

    params = params or SolveParams()
    if params.engine not in ENGINES:
        raise InputError(f"unknown engine {params.engine!r}; choose one of {', '.join(ENGINES)}")
    if params.time_limit_s <= 0:
        raise InputError(f"time_limit_s is {params.time_limit_s}; it must be positive")
    validate_problem(problem)
    engine = params.engine
    why_not = pyvrp_can_solve(problem)
    if engine == "auto":
        engine = "pyvrp" if why_not is None else "ortools"
    if engine == "pyvrp" and why_not is not None:
        raise InputError(f"the pyvrp engine cannot solve this problem: {why_not}; use ortools")
    t0 = time.perf_counter()
    if engine == "pyvrp":
        from lnplan.optimize.routing.pyvrp_engine import solve_pyvrp

        sequences, status = solve_pyvrp(problem, params)
    else:
        from lnplan.optimize.routing.ortools_engine import solve_ortools

        # Multi-day problems: up to three rounds (half the time, then a quarter each), each
        # learning night leads from the last; a round that finds nothing gives the rest of the
        # time to one last round. The time limit covers the timing and repair too.
        rounds = 3 if problem.calendar.horizon_days > 1 and engine == "ortools" else 1
        deadline = t0 + params.time_limit_s
        lead: dict[int, int] = {}
        best: tuple[float, list[PlannedTrip]] | None = None
        last = False
        for r in range(rounds):
            last = last or r == rounds - 1
            remaining = deadline - time.perf_counter()
            if r > 0 and remaining < 0.1:
                break
            budget = replace(params, time_limit_s=max(0.1, remaining * (1.0 if last else 0.5)))
            sequences, status = solve_ortools(
                problem, budget, tuned=engine == "ortools", lead_s=lead, log_search=log_search
            )
            if status == "no_solution":
                break
            planned, left = _time_and_repair(problem, sequences)
            score = _score(problem, planned)
            log.info("round %d: %d stop(s) did not fit after timing; score %s", r, len(left), score)
            if best is None or score < best[0]:
                best = (score, planned)
            if not planned and problem.stops:
                last = True  # nothing found in time: one last, longer round
                continue
            if not left or last:
                break
            tt = problem.travel_time_s
            for seq in sequences:
                nodes = [problem.teams[seq.team].base] + [problem.stops[i].node for i in seq.stops]
                for pos, i in enumerate(seq.stops):
                    if i in left:
                        lead[i] = max(lead.get(i, 0), int(tt[nodes[pos], nodes[pos + 1]]))
        if best is not None:
            planned, status = best[1], "feasible"
    if status == "no_solution":
        raise InfeasibleError(
            f"the {engine} engine found no plan within {params.time_limit_s} s that visits every "
            "stop that must be visited; give stops a drop penalty, add teams or lengthen the "
            "horizon"
        )
    if engine == "pyvrp":
        planned, _ = _time_and_repair(problem, sequences)
    runtime = time.perf_counter() - t0
    problems = check_trips(problem, planned)
    if problems:
        raise SolutionCheckError(
            f"the {engine} plan failed the independent check:\n  " + "\n  ".join(problems[:20])
        )
    return build_result(problem, planned, engine=engine, status=status, runtime_s=runtime)


def _score(problem: RoutingProblem, planned: list[PlannedTrip]) -> float:
    """Travel time plus the penalties of stops not visited (mandatory ones count as infinite)."""
    tt = problem.travel_time_s
    seen = {i for p in planned for i in p.stops}
    total = 0.0
    for p in planned:
        base = problem.teams[p.team].base
        nodes = [base] + [problem.stops[i].node for i in p.stops] + [base]
        total += sum(int(tt[a, b]) for a, b in itertools.pairwise(nodes))
    for i, s in enumerate(problem.stops):
        if i not in seen:
            total += float("inf") if s.drop_penalty is None else s.drop_penalty
    return total


def _time_and_repair(
    problem: RoutingProblem, orders: list[StopOrder]
) -> tuple[list[PlannedTrip], list[int]]:
    """Time every engine trip; re-insert stops that no longer fit where it is cheapest.

    Returns the timed trips and the stops that did not fit their engine trip (before repair).
    """
    trips: dict[tuple[int, int, int], PlannedTrip] = {}
    left: list[int] = []
    for o in orders:
        trip, out = time_trip(problem, o.team, o.first_day, o.last_day, list(o.stops))
        trips[(o.team, o.first_day, o.last_day)] = trip
        left.extend(out)
    if left:
        log.info("%d stop(s) did not fit after exact timing; re-inserting", len(left))
        tt = problem.travel_time_s
        slots = problem.calendar.trip_slots()
        for i in sorted(left, key=lambda i: -problem.stops[i].demand):
            node = problem.stops[i].node
            best: tuple[int, tuple[int, int, int], PlannedTrip] | None = None
            for team in range(len(problem.teams)):
                base = problem.teams[team].base
                for first, last in slots:
                    key = (team, first, last)
                    cur = list(trips[key].stops) if key in trips else []
                    nodes = [base] + [problem.stops[j].node for j in cur] + [base]
                    for pos in range(len(cur) + 1):
                        a, b = nodes[pos], nodes[pos + 1]
                        extra = int(tt[a, node] + tt[node, b] - tt[a, b])
                        if best is not None and extra >= best[0]:
                            continue
                        trip, out = time_trip(
                            problem, team, first, last, [*cur[:pos], i, *cur[pos:]]
                        )
                        if not out:
                            best = (extra, key, trip)
            if best is not None:
                trips[best[1]] = best[2]
            else:
                log.info("stop %d (%s) could not be re-inserted: dropped", i, problem.stop_name(i))
    return [t for t in trips.values() if t.stops], left


def _left_at(cal: Calendar, arrival_s: int, leg_s: int) -> int:
    """Wall-clock departure of a drive of ``leg_s`` working seconds that arrives at ``arrival_s``
    (a lunch break inside the drive pauses it)."""
    return cal.wall_start(cal.work_of(arrival_s, up=True) - leg_s)


def build_result(
    problem: RoutingProblem,
    planned: list[PlannedTrip],
    *,
    engine: str,
    status: str,
    runtime_s: float,
) -> RoutingResult:
    """Turn checked trips into the per-team, per-day result."""
    cal, tt, km = problem.calendar, problem.travel_time_s, problem.distance_km
    trips: list[Trip] = []
    visited: set[int] = set()
    total_tt, total_km = 0, 0.0
    for p in sorted(planned, key=lambda p: (p.team, p.first_day)):
        team = problem.teams[p.team]
        nodes = [team.base] + [problem.stops[i].node for i in p.stops] + [team.base]
        legs_s = [int(tt[a, b]) for a, b in itertools.pairwise(nodes)]
        legs_km = [float(km[a, b]) for a, b in itertools.pairwise(nodes)]
        arrivals = [*p.start_s, p.return_s]  # the team drives as late as possible
        visits = []
        for k, i in enumerate(p.stops):
            s = problem.stops[i]
            start = p.start_s[k]
            departure = _left_at(cal, arrivals[k + 1], legs_s[k + 1])
            visits.append(
                Visit(
                    stop=i,
                    name=problem.stop_name(i),
                    node=s.node,
                    arrival_s=start,
                    start_s=start,
                    end_s=cal.wall_end(cal.work_of(start, up=True) + s.service_s),
                    departure_s=departure,
                    demand=s.demand,
                )
            )
            visited.add(i)
        depart = _left_at(cal, p.start_s[0], legs_s[0]) if p.stops else p.return_s
        first_day, last_day = cal.day_of(depart), cal.day_of(p.return_s)
        days = []
        for d in range(first_day, last_day + 1):
            todays = tuple(v for v in visits if cal.day_of(v.start_s) == d)
            drive_s = sum(legs_s[k] for k in range(len(arrivals)) if cal.day_of(arrivals[k]) == d)
            drive_km = sum(legs_km[k] for k in range(len(arrivals)) if cal.day_of(arrivals[k]) == d)
            reached = [k for k in range(len(arrivals)) if cal.day_of(arrivals[k]) <= d]
            night = nodes[reached[-1] + 1] if reached else team.base
            days.append(
                TeamDay(
                    team=p.team,
                    day=d,
                    visits=todays,
                    children=sum(v.demand for v in todays),
                    driving_s=drive_s,
                    driving_km=drive_km,
                    overnight_node=night,
                    overnight_name=problem.node_name(night),
                )
            )
        trip_tt, trip_km = sum(legs_s), sum(legs_km)
        total_tt += trip_tt
        total_km += trip_km
        trips.append(
            Trip(
                team=p.team,
                team_name=team.name or f"team {p.team}",
                base_node=team.base,
                depart_s=depart,
                return_s=p.return_s,
                visits=tuple(visits),
                days=tuple(days),
                demand=sum(v.demand for v in visits),
                travel_time_s=trip_tt,
                distance_km=trip_km,
            )
        )
    dropped = tuple(i for i in range(len(problem.stops)) if i not in visited)
    penalty = sum(problem.stops[i].drop_penalty or 0 for i in dropped)
    return RoutingResult(
        engine=engine,
        status=status,
        objective=float(total_tt + penalty),
        travel_time_s=total_tt,
        distance_km=total_km,
        runtime_s=runtime_s,
        trips=tuple(trips),
        dropped=dropped,
        demand_served=sum(problem.stops[i].demand for i in visited),
        demand_dropped=sum(problem.stops[i].demand for i in dropped),
        checked=True,
    )
