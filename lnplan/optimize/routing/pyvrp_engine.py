"""PyVRP engine (hybrid genetic search) for the one-day special cases: CVRP and VRPTW.

PyVRP has no nights, so it runs only on problems with one working day (on the work clock a lunch
break vanishes), at most one window per stop, no blocked days and no workload balance
(:func:`pyvrp_can_solve`). Multi-depot fleets, capacities and optional stops with drop penalties
(prizes) are passed through. The engine returns the order of each route; the times are set by
:mod:`lnplan.optimize.routing.schedule`.
"""

from __future__ import annotations

import logging

import numpy as np

from lnplan.optimize.routing.calendar import allowed_start_intervals
from lnplan.optimize.routing.model import RoutingProblem, SolveParams, StopOrder

__all__ = ["pyvrp_can_solve", "solve_pyvrp"]

log = logging.getLogger(__name__)

_BIG = 2**40


def pyvrp_can_solve(problem: RoutingProblem) -> str | None:
    """``None`` when PyVRP can express the problem, else the reason it cannot."""
    cal = problem.calendar
    if cal.horizon_days != 1:
        return "it has more than one working day (nights need the OR-Tools engine)"
    if problem.balance_weight > 0:
        return "it asks for workload balance"
    if problem.lodging:
        return "it has lodging places (nights need the OR-Tools engine)"
    if any(t.blocked_days for t in problem.teams):
        return "a team has blocked days"
    if any(k is not None for k in problem.keep_trip):
        return "it holds stops to given trips (keep_trip)"
    if any(t.end is not None and t.end != t.base for t in problem.teams):
        return "a team ends at another place than its base"
    for s in problem.stops:
        if len(s.time_windows_s) > 1:
            return "a stop has more than one time window"
        if s.blocked_days:
            return "a stop has blocked days"
    return None


def solve_pyvrp(
    problem: RoutingProblem, params: SolveParams
) -> tuple[list[StopOrder], bool, dict[str, float]]:
    """Solve a one-day problem with PyVRP's hybrid genetic search.

    Stops after ``max_iterations`` iterations (PyVRP ``MaxIterations``) when given, with the
    wall-clock ``time_limit_s`` as a safety cap; ``work`` records the iterations and whether the
    cap stopped the search.
    """
    import pyvrp
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

    cal = problem.calendar
    open_s, close_s = 0, cal.work_per_day_s  # the work clock of the single day
    bases = sorted({t.base for t in problem.teams})
    loc = np.array(bases + [s.node for s in problem.stops], dtype=np.int64)
    matrix = np.ascontiguousarray(problem.travel_time_s[np.ix_(loc, loc)].astype(np.int64))
    locations = [pyvrp.Location(x=0.0, y=0.0) for _ in range(len(loc))]
    depots = [pyvrp.Depot(location=i, tw_early=open_s, tw_late=close_s) for i in range(len(bases))]
    clients = []
    for k, s in enumerate(problem.stops):
        allowed = allowed_start_intervals(cal, s)
        # an optional stop with no allowed start is offered with no prize (and dropped on timing)
        early, late = (allowed[0][0], allowed[-1][1]) if allowed else (0, 0)
        clients.append(
            pyvrp.Client(
                location=len(bases) + k,
                delivery=[int(s.demand)],
                service_duration=int(s.service_s),
                tw_early=int(early),
                tw_late=int(late),
                prize=int(s.drop_penalty or 0) if allowed else 0,
                required=s.drop_penalty is None,
            )
        )
    groups: dict[tuple[int, int | None], list[int]] = {}
    for t, team in enumerate(problem.teams):
        groups.setdefault((team.base, team.capacity), []).append(t)
    vtypes = []
    vtype_teams: list[list[int]] = []
    for (base, cap), members in groups.items():
        d = bases.index(base)
        vtypes.append(
            pyvrp.VehicleType(
                num_available=len(members),
                capacity=[_BIG if cap is None else int(cap)],
                start_depot=d,
                end_depot=d,
                tw_early=open_s,
                tw_late=close_s,
            )
        )
        vtype_teams.append(members)
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vtypes,
        distance_matrices=[matrix],  # type: ignore[list-item]
        duration_matrices=[matrix],  # type: ignore[list-item]
    )
    limit = MaxRuntime(params.time_limit_s)
    stop: MaxRuntime | MultipleCriteria = limit
    if params.max_iterations is not None:
        stop = MultipleCriteria([MaxIterations(params.max_iterations), limit])
    result = pyvrp.solve(data, stop=stop, seed=params.seed, display=False, collect_stats=False)
    iterations = int(result.num_iterations)
    hit = params.max_iterations is None or iterations < params.max_iterations
    work = {"iterations": float(iterations), "time_limit_hit": float(hit)}
    if not result.best.is_feasible():
        return [], False, work
    used = [0] * len(vtypes)
    trips: list[StopOrder] = []
    for route in result.best.routes():
        vt = route.vehicle_type()
        member = vtype_teams[vt][used[vt]]
        used[vt] += 1
        stops = [int(a.idx) for a in route.schedule() if a.is_client()]
        trips.append(StopOrder(member, 0, 0, tuple(stops)))
    log.info("PyVRP cost %s", result.cost())
    return trips, True, work
