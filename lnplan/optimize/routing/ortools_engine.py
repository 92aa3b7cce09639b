"""OR-Tools routing engine: the whole model, including multi-day trips.

Formulation (on the work clock of :class:`~lnplan.optimize.routing.model.Calendar`, where lunch and
nights vanish and day ``d`` is ``[d W, (d + 1) W]``)
-----------
- One OR-Tools vehicle per (team, trip slot); it starts and ends at the team's base, may leave any
  time in the slot and must be back by the end of the slot's last day.
- Nodes: the distinct bases, then one node per stop (stops at the same place are separate nodes).
- Arc cost: travel time (s). A stop with a drop penalty is in a disjunction with that penalty.
- Time dimension: transit ``service(i) + travel(i, j)``, unbounded waiting (slack). The cumul of a
  stop is its service start; its domain is the allowed starts (working days minus blocked days,
  service ending by the day's end, inside its windows).
- Nights: a drive may not run over night, so an arc whose drive plus the service after it is
  longer than a working day is removed. The exact rule (the drive into ``j`` starts in the day of
  ``j``'s service) depends on the predecessor, which a node domain cannot say; the domain removes
  the first ``min_i travel(i, j)`` seconds of every day instead, so the drive from the nearest place
  fits. The order found is then re-timed under the exact rule
  (:mod:`lnplan.optimize.routing.schedule`) and stops that no longer fit are re-inserted greedily
  or reported dropped. On multi-day problems the search runs in rounds: a stop that did not fit
  gets the drive from its predecessor of that round as its lead in the next round, and the best
  timed plan of all rounds is kept.
- Capacity dimension (per trip) when a team has a capacity.
- Optional balance: a workload dimension (service plus travel, from 0 at the start of each trip)
  with global span cost ``balance_weight``, which penalises the busiest trip.
- Search: parallel cheapest insertion, then guided local search until the time limit (``tuned``);
  or OR-Tools' default parameters (``tuned=False``), for comparison.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from lnplan.optimize.routing.model import RoutingProblem, SolveParams, StopOrder
from lnplan.optimize.routing.validate import allowed_start_intervals

__all__ = ["solve_ortools"]

log = logging.getLogger(__name__)


def solve_ortools(
    problem: RoutingProblem,
    params: SolveParams,
    *,
    tuned: bool = True,
    lead_s: Mapping[int, int] | None = None,
    log_search: bool = False,
) -> tuple[list[StopOrder], str]:
    """Solve with OR-Tools routing.

    ``lead_s`` raises the night lead of some stops (stop index -> seconds of the day that must
    stay free before its start), as learnt from an earlier round whose order did not time out.

    Returns
    -------
    trips, status
        The stop order of each non-empty trip (not yet timed), and ``"feasible"`` or
        ``"no_solution"``.
    """
    cal = problem.calendar
    bases = sorted({t.base for t in problem.teams})
    base_index = {b: i for i, b in enumerate(bases)}
    loc = np.array(bases + [s.node for s in problem.stops], dtype=np.int64)
    n_nodes = len(loc)
    n_base = len(bases)
    service = np.array([0] * n_base + [s.service_s for s in problem.stops], dtype=np.int64)
    travel = problem.travel_time_s[np.ix_(loc, loc)].astype(np.int64)

    slots = cal.trip_slots()
    vehicles = [(t, first, last) for t in range(len(problem.teams)) for first, last in slots]
    starts = [base_index[problem.teams[t].base] for t, _, _ in vehicles]
    manager = pywrapcp.RoutingIndexManager(n_nodes, len(vehicles), starts, starts)
    routing = pywrapcp.RoutingModel(manager)

    travel_cb = routing.RegisterTransitMatrix(travel.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(travel_cb)
    w = cal.work_per_day_s
    # Multi-day calendars: the time dimension counts whole minutes (durations rounded up, so a
    # plan is never tighter than in seconds), which keeps the domains with daily holes small.
    unit = 60 if cal.horizon_days > 1 and w % 60 == 0 else 1
    travel_u = -(-travel // unit)
    service_u = -(-service // unit)
    time_cb = routing.RegisterTransitMatrix((travel_u + service_u[:, None]).tolist())
    w_u = w // unit
    horizon = cal.horizon_days * w_u
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time = routing.GetDimensionOrDie("time")

    for k, stop in enumerate(problem.stops):
        idx = manager.NodeToIndex(n_base + k)
        others = travel_u[:, n_base + k][loc != stop.node]
        lead = int(others.min()) if others.size else 0
        lead = max(lead, -(-(lead_s or {}).get(k, 0) // unit))
        exact = [(-(-a // unit), b // unit) for a, b in allowed_start_intervals(cal, stop)]
        exact = [(a, b) for a, b in exact if a <= b]
        allowed = [
            (max(a, (a // w_u) * w_u + lead), b)
            for a, b in exact
            if max(a, (a // w_u) * w_u + lead) <= b
        ] or exact
        if not allowed:  # no whole minute left: leave the stop out of this engine's plan
            routing.AddDisjunction([idx], int(stop.drop_penalty or 0))
            idx_var = routing.ActiveVar(idx)
            idx_var.SetValue(0)
            continue
        var = time.CumulVar(idx)
        var.SetRange(allowed[0][0], allowed[-1][1])
        for (_, b), (c, _) in itertools.pairwise(allowed):
            if c - 1 >= b + 1:
                var.RemoveInterval(b + 1, c - 1)
        if stop.drop_penalty is not None:
            routing.AddDisjunction([idx], int(stop.drop_penalty))

    # A drive and the service after it happen on one day: arcs too long for that are removed.
    too_long = (travel + service[None, :] > w) & (service[None, :] > 0)
    index_of = [manager.NodeToIndex(n) if n >= n_base else -1 for n in range(n_nodes)]
    for a in range(n_nodes):
        cut = [int(b) for b in np.nonzero(too_long[a])[0] if b >= n_base and b != a]
        if not cut:
            continue
        indices = (
            [routing.Start(v) for v in range(len(vehicles)) if starts[v] == a]
            if a < n_base
            else [manager.NodeToIndex(a)]
        )
        values = [index_of[b] for b in cut]
        for idx in indices:
            routing.NextVar(idx).RemoveValues(values)

    # The drive home happens within one day too: no stop more than a day from the base ends a trip.
    for k in range(len(problem.stops)):
        far = [v for v in range(len(vehicles)) if travel[n_base + k, starts[v]] > w]
        for v in far:
            routing.NextVar(manager.NodeToIndex(n_base + k)).RemoveValue(routing.End(v))

    for v, (_, first, last) in enumerate(vehicles):
        start, end = routing.Start(v), routing.End(v)
        time.CumulVar(start).SetRange(first * w_u, (last + 1) * w_u)
        time.CumulVar(end).SetRange(first * w_u, (last + 1) * w_u)
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(end))
        routing.AddVariableMaximizedByFinalizer(time.CumulVar(start))

    caps = [problem.teams[t].capacity for t, _, _ in vehicles]
    if any(c is not None for c in caps):
        total = sum(s.demand for s in problem.stops)
        demand = [0] * n_base + [s.demand for s in problem.stops]
        demand_cb = routing.RegisterUnaryTransitVector(demand)
        routing.AddDimensionWithVehicleCapacity(
            demand_cb, 0, [total if c is None else int(c) for c in caps], True, "load"
        )
    if problem.balance_weight > 0:
        routing.AddDimension(time_cb, 0, horizon, True, "work")
        work = routing.GetDimensionOrDie("work")
        work.SetGlobalSpanCostCoefficient(max(1, round(problem.balance_weight)))

    search = pywrapcp.DefaultRoutingSearchParameters()
    if tuned:
        search.first_solution_strategy = (
            routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
        )
        search.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        )
    search.time_limit.FromMilliseconds(max(1, math.ceil(params.time_limit_s * 1000)))
    if params.max_iterations is not None:
        search.solution_limit = int(params.max_iterations)
    search.log_search = log_search
    solution = routing.SolveWithParameters(search)
    if solution is None:
        return [], "no_solution"

    trips: list[StopOrder] = []
    for v, (team, first, last) in enumerate(vehicles):
        stops: list[int] = []
        idx = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(idx):
            stops.append(manager.IndexToNode(idx) - n_base)
            idx = solution.Value(routing.NextVar(idx))
        if stops:
            trips.append(StopOrder(team, first, last, tuple(stops)))
    log.info("OR-Tools objective %s", solution.ObjectiveValue())
    return trips, "feasible"
