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
- Search: parallel cheapest insertion (or the initial routes given), then guided local search
  until the time limit (``tuned``);
  or OR-Tools' default parameters (``tuned=False``), for comparison.
- Lodging problems whose stops have no time windows or blocked days: the OR-Tools rounds get a
  fifth of the time (``LODGING_ROUNDS_SHARE``) and only give a start to the prize-collecting
  iterated local search of :mod:`lnplan.optimize.routing.local_search`, which stops on
  ``SolveParams.local_search_iterations`` (or the time limit when that is ``None``).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from lnplan.optimize.routing.calendar import allowed_start_intervals, team_trip_windows
from lnplan.optimize.routing.check import plan_objective
from lnplan.optimize.routing.local_search import improve_lodging_trips, local_search_applies
from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem, SolveParams, StopOrder
from lnplan.optimize.routing.repair import time_and_repair

__all__ = ["night_sequences", "plan_with_ortools", "solve_ortools"]

log = logging.getLogger(__name__)

#: Share of the time limit the OR-Tools rounds may use when the local search follows them.
LODGING_ROUNDS_SHARE = 0.2
#: Local search iterations when the rounds have a work limit (``max_iterations``) and
#: ``local_search_iterations`` is not set: the whole search then stops on work.
LOCAL_SEARCH_ITERATIONS = 2000


def solve_ortools(
    problem: RoutingProblem,
    params: SolveParams,
    *,
    tuned: bool = True,
    lead_s: Mapping[int, int] | None = None,
    log_search: bool = False,
    initial: Sequence[StopOrder] = (),
) -> tuple[list[StopOrder], bool, dict[str, float]]:
    """Solve with OR-Tools routing.

    ``lead_s`` raises the night lead of some stops (stop index -> seconds of the day that must
    stay free before its start), as learnt from an earlier round whose order did not time out.
    ``initial`` (trips without lodging): the search starts from these stop orders instead of
    building a first solution (the routes the model refuses, or their refused tails, are left
    empty; when it refuses them all, the first solution is built as usual).

    Returns
    -------
    trips, found, work
        The stop order of each non-empty trip (not yet timed), whether a solution was found, and
        the work done (``solutions``, ``time_limit_hit``).
    """
    if problem.lodging:
        return _solve_lodging(problem, params, tuned=tuned, log_search=log_search)
    cal = problem.calendar
    bases = sorted({t.base for t in problem.teams})
    bases = sorted(set(bases) | {t.end_node for t in problem.teams})
    base_index = {b: i for i, b in enumerate(bases)}
    loc = np.array(bases + [s.node for s in problem.stops], dtype=np.int64)
    n_nodes = len(loc)
    n_base = len(bases)
    service = np.array([0] * n_base + [s.service_s for s in problem.stops], dtype=np.int64)
    travel = problem.travel_time_s[np.ix_(loc, loc)].astype(np.int64)

    free = cal.free_length_trips
    # free-length trips: as many vehicles per team as it can make trips, each over the horizon
    # (over each run of days between the team's blocked days); fixed: one per block
    vehicles = [
        (t, first, last)
        for t, team in enumerate(problem.teams)
        for first, last in team_trip_windows(cal, team.blocked_days)
    ]
    if not vehicles:  # every team is blocked on every day: nothing can be visited
        return [], True, {"solutions": 0.0, "time_limit_hit": 0.0}
    starts = [base_index[problem.teams[t].base] for t, _, _ in vehicles]
    ends = [base_index[problem.teams[t].end_node] for t, _, _ in vehicles]
    manager = pywrapcp.RoutingIndexManager(n_nodes, len(vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    _hold_to_trips(routing, problem, vehicles, lambda k: manager.NodeToIndex(n_base + k))

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
        far = [v for v in range(len(vehicles)) if travel[n_base + k, ends[v]] > w]
        for v in far:
            routing.NextVar(manager.NodeToIndex(n_base + k)).RemoveValue(routing.End(v))

    for v, (_, first, last) in enumerate(vehicles):
        start, end = routing.Start(v), routing.End(v)
        time.CumulVar(start).SetRange(first * w_u, (last + 1) * w_u)
        time.CumulVar(end).SetRange(first * w_u, (last + 1) * w_u)
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(end))
        if free:
            # a trip leaves at a day's opening (waiting at the base is slack) and is back within
            # trip_max_days days; a team's next trip starts after it and its rest days
            time.CumulVar(start).SetValues([d * w_u for d in range(first, last + 1)])
            time.SetSpanUpperBoundForVehicle(cal.trip_max_days * w_u, v)
            if v > 0 and vehicles[v - 1] == vehicles[v]:  # same team, same run of days
                routing.solver().Add(
                    time.CumulVar(routing.End(v - 1)) + cal.rest_days * w_u <= time.CumulVar(start)
                )
        else:
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

    routes: list[list[int]] = [[] for _ in vehicles]
    for o in sorted(initial, key=lambda o: (o.team, o.first_day)):
        # a fixed block's own vehicle; free-length trips: the team's next unused vehicle
        fits = [
            v
            for v, (t, a, b) in enumerate(vehicles)
            if t == o.team and not routes[v] and (free or (a, b) == (o.first_day, o.last_day))
        ]
        if fits:
            routes[fits[0]] = [manager.NodeToIndex(n_base + i) for i in o.stops]
    solution, work = _search(
        routing, params, tuned=tuned, log_search=log_search, initial_routes=routes
    )
    if solution is None:
        return [], False, work

    trips: list[StopOrder] = []
    for v, (team, first, last) in enumerate(vehicles):
        stops: list[int] = []
        idx = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(idx):
            stops.append(manager.IndexToNode(idx) - n_base)
            idx = solution.Value(routing.NextVar(idx))
        if stops:
            if free:
                first = solution.Value(time.CumulVar(routing.Start(v))) // w_u
                last = min(first + cal.trip_max_days - 1, last)
            trips.append(StopOrder(team, first, last, tuple(stops)))
    if free:  # a trip's days end before the team's next trip and its rest days
        trips.sort(key=lambda o: (o.team, o.first_day))
        for k, (prev, nxt) in enumerate(itertools.pairwise(trips)):
            # the days between two trips are the rest, blocked days among them too
            if prev.team == nxt.team and prev.last_day > nxt.first_day - 1 - cal.rest_days:
                trimmed = max(prev.first_day, nxt.first_day - 1 - cal.rest_days)
                trips[k] = replace(prev, last_day=trimmed)
    log.info("OR-Tools objective %s", solution.ObjectiveValue())
    return trips, True, work


def _hold_to_trips(
    routing: pywrapcp.RoutingModel,
    problem: RoutingProblem,
    vehicles: list[tuple[int, int, int]],
    index_of: Any,
) -> None:
    """Stops with a ``problem.keep_trip`` may only ride that trip's vehicle (or be left out).

    ``keep_trip`` names ``(team, trip)``: on fixed trip blocks ``trip`` is the block of
    :meth:`Calendar.trip_slots`, held to the team's vehicles inside that block (one, or the parts
    its blocked days cut it into); on free-length trips it is the team's ``trip``-th vehicle. A
    trip the team cannot make holds nothing.
    """
    cal = problem.calendar
    blocks = cal.trip_slots() if not cal.free_length_trips or problem.lodging else None
    for k, keep in enumerate(problem.keep_trip):
        if keep is None:
            continue
        team, trip = keep
        own = [v for v, (t, _, _) in enumerate(vehicles) if t == team]
        if blocks is None:
            allowed = own[trip : trip + 1] if trip >= 0 else []
        elif 0 <= trip < len(blocks):
            a, b = blocks[trip]
            allowed = [v for v in own if vehicles[v][1] <= b and vehicles[v][2] >= a]
        else:
            allowed = []
        if allowed:
            # -1: left out (the binding of SetAllowedVehiclesForIndex takes no Python list)
            routing.VehicleVar(index_of(k)).SetValues([-1, *allowed])


def _search(
    routing: pywrapcp.RoutingModel,
    params: SolveParams,
    *,
    tuned: bool,
    log_search: bool,
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION",
    initial_routes: Sequence[Sequence[int]] = (),
) -> tuple[Any, dict[str, float]]:
    """Run the search: work limit ``max_iterations`` (OR-Tools ``solution_limit``), the
    wall-clock ``time_limit_s`` as a safety cap. Returns the assignment (or None) and the work.

    ``initial_routes`` (variable indices per vehicle): start from them when the model accepts
    some (:func:`_accepted_start`) instead of building a first solution."""
    search = pywrapcp.DefaultRoutingSearchParameters()
    if tuned:
        search.first_solution_strategy = getattr(
            routing_enums_pb2.FirstSolutionStrategy, first_solution
        )
        search.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        )
    search.time_limit.FromMilliseconds(max(1, math.ceil(params.time_limit_s * 1000)))
    if params.max_iterations is not None:
        search.solution_limit = int(params.max_iterations)
    search.log_search = log_search
    t0 = time.perf_counter()
    start = None
    if any(initial_routes):
        routing.CloseModelWithParameters(search)
        start = _accepted_start(routing, [list(r) for r in initial_routes])
    if start is not None:
        solution = routing.SolveFromAssignmentWithParameters(start, search)
    else:
        solution = routing.SolveWithParameters(search)
    elapsed = time.perf_counter() - t0
    solutions = int(routing.solver().Solutions())
    reached_work_limit = params.max_iterations is not None and solutions >= params.max_iterations
    local_optimum = (
        not tuned and solution is not None and elapsed < 0.95 * params.time_limit_s
    )  # the default search stops by itself at a local optimum
    hit = not reached_work_limit and not local_optimum and elapsed >= 0.95 * params.time_limit_s
    return solution, {"solutions": solutions, "time_limit_hit": float(hit)}


def _accepted_start(routing: pywrapcp.RoutingModel, routes: list[list[int]]) -> Any:
    """An assignment of ``routes`` that the (closed) model accepts, or None.

    When the model refuses the whole, each route is kept alone if accepted, else its longest
    accepted prefix (the engine's night rule is stricter than exact timing for some orders).
    """
    whole = routing.ReadAssignmentFromRoutes(routes, True)
    if whole is not None:
        return whole
    kept: list[list[int]] = [[] for _ in routes]

    def accepted(v: int, route: list[int]) -> bool:
        alone = [route if u == v else [] for u in range(len(routes))]
        return routing.ReadAssignmentFromRoutes(alone, True) is not None

    for v, route in enumerate(routes):
        if not route or accepted(v, route):
            kept[v] = route
            continue
        lo, hi = 0, len(route) - 1  # the prefix of length lo is accepted, longer than hi not
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if accepted(v, route[:mid]) else (lo, mid - 1)
        kept[v] = route[:lo]
    log.info(
        "initial routes: %d of %d stop(s) accepted by the model",
        sum(map(len, kept)), sum(map(len, routes)),
    )  # fmt: skip
    return routing.ReadAssignmentFromRoutes(kept, True) if any(kept) else None


def plan_with_ortools(
    problem: RoutingProblem,
    params: SolveParams,
    *,
    tuned: bool,
    deadline: float,
    log_search: bool = False,
    initial: Sequence[PlannedTrip] = (),
) -> tuple[bool, list[PlannedTrip], dict[str, float], bool]:
    """OR-Tools rounds with lead learning, exact timing and repair; the best timed plan wins.

    ``initial`` (a timed plan, e.g. :func:`~lnplan.optimize.routing.repair.greedy_plan`; not
    used with lodging places) competes as a plan, and each round starts its search from the best
    plan so far instead of building a first solution.

    Multi-day problems without lodging run up to three rounds (half the time, then a quarter
    each), each learning night leads from the last: a stop that did not fit after exact timing
    gets the drive from its predecessor as its lead. A round that finds nothing gives the rest of
    the time to one last round. Plans are compared by
    :func:`~lnplan.optimize.routing.check.plan_objective`. The deadline covers timing and repair.

    Returns
    -------
    found, planned, work, repair_cut_short
    """
    if problem.lodging and tuned:
        return _lodging_rounds(problem, params, deadline=deadline, log_search=log_search)
    rounds = 3 if problem.calendar.horizon_days > 1 and tuned and not problem.lodging else 1
    lead: dict[int, int] = {}
    best: tuple[float, list[PlannedTrip]] | None = None
    if initial and not problem.lodging:
        best = (plan_objective(problem, initial), list(initial))
    work = {"rounds": 0.0, "solutions": 0.0, "time_limit_hit": 0.0}
    repair_cut = False
    last = False
    for r in range(rounds):
        last = last or r == rounds - 1
        remaining = deadline - time.perf_counter()
        if r > 0 and remaining < 0.1:
            break
        budget = replace(params, time_limit_s=max(0.1, remaining * (1.0 if last else 0.5)))
        start = [] if best is None else [StopOrder(t.team, t.first_day, t.last_day, t.stops)
                                         for t in best[1]]  # fmt: skip
        sequences, found, got = solve_ortools(
            problem, budget, tuned=tuned, lead_s=lead, log_search=log_search, initial=start
        )
        work["rounds"] += 1
        work["solutions"] += got["solutions"]
        work["time_limit_hit"] = max(work["time_limit_hit"], got["time_limit_hit"])
        if not found:
            break
        planned, left, cut = time_and_repair(problem, sequences, deadline=deadline)
        repair_cut = repair_cut or cut
        score = plan_objective(problem, planned)
        log.info("round %d: %d stop(s) did not fit after timing; score %s", r, len(left), score)
        if best is None or score < best[0]:
            best = (score, planned)
        if not planned and problem.stops:
            last = True  # nothing found in time: one last, longer round
            continue
        if not left or last:
            break
        _learn_leads(problem, sequences, set(left), lead)
    if best is None:
        return False, [], work, repair_cut
    return True, best[1], work, repair_cut


def _learn_leads(
    problem: RoutingProblem, sequences: list[StopOrder], left: set[int], lead: dict[int, int]
) -> None:
    tt = problem.travel_time_s
    for seq in sequences:
        nodes = [problem.teams[seq.team].base] + [problem.stops[i].node for i in seq.stops]
        for pos, i in enumerate(seq.stops):
            if i in left:
                lead[i] = max(lead.get(i, 0), int(tt[nodes[pos], nodes[pos + 1]]))


def _solve_lodging(
    problem: RoutingProblem,
    params: SolveParams,
    *,
    tuned: bool,
    log_search: bool,
    fixed_nights: tuple[int, ...] | None = None,
) -> tuple[list[StopOrder], bool, dict[str, float]]:
    """OR-Tools model of trips whose nights are spent at lodging places (exact night rule).

    One vehicle per (team, trip slot), on a *period clock* where day ``d`` is
    ``[d P, d P + work_on_day(d)]`` with ``P = 3 W + 1``: the night is longer than two working
    days. Waiting (slack) is at most ``W`` everywhere except at a night's *arrival* node, so a
    night can only be spent there: crossing a night elsewhere needs more than ``W`` of slack.
    Each possible night is a pair of optional nodes at a lodging place (one pair per place and
    night of the slot): the arrival node (inside a working day, unbounded slack, followed only by
    its departure node) and the departure node (exactly at a day's opening, so the drive out of
    the lodging starts in the morning). The pair is a pickup-and-delivery pair (same vehicle, both
    or neither). The team's base and end count as lodging places.
    """
    cal = problem.calendar
    w_s = cal.work_per_day_s
    # Engine unit: domains with daily holes cost memory and time in proportion to their range,
    # so the clock counts units of ``unit`` seconds (durations rounded up, day limits down: a
    # plan of the engine is never tighter than in seconds), keeping the horizon near 1e5 units.
    unit = max(1, math.ceil(cal.horizon_days * (3 * w_s + 1) / 100_000))
    w = w_s // unit
    period = 3 * w + 1

    def limit_of(d: int) -> int:
        return cal.work_on_day_s(d) // unit

    vehicles = [
        (t, first, last)
        for t, team in enumerate(problem.teams)
        for first, last in team_trip_windows(
            replace(cal, fixed_trip_blocks=True), team.blocked_days
        )
    ]
    n_stops = len(problem.stops)
    # node list: 0..n_stops-1 stops; then per vehicle start and end; then lodging pairs
    loc: list[int] = [s.node for s in problem.stops]
    service = [s.service_s for s in problem.stops]
    starts, ends = [], []
    for t, _, _ in vehicles:
        starts.append(len(loc))
        loc.append(problem.teams[t].base)
        service.append(0)
        ends.append(len(loc))
        loc.append(problem.teams[t].end_node)
        service.append(0)
    pairs: list[tuple[int, int, int, int]] = []  # (vehicle, place, arrival node, departure node)
    for v, (t, first, last) in enumerate(vehicles):
        member = problem.teams[t]
        places = sorted(set(problem.lodging) | {member.base, member.end_node})
        for night in range(last - first):
            for place in places if fixed_nights is None else [fixed_nights[night]]:
                pairs.append((v, place, len(loc), len(loc) + 1))
                loc += [place, place]
                service += [0, 0]
    n = len(loc)
    loc_a = np.array(loc, dtype=np.int64)
    travel = problem.travel_time_s[np.ix_(loc_a, loc_a)].astype(np.int64)
    travel_u = -(-travel // unit)
    manager = pywrapcp.RoutingIndexManager(n, len(vehicles), starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    _hold_to_trips(routing, problem, vehicles, manager.NodeToIndex)
    cost_cb = routing.RegisterTransitMatrix(travel.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    transit = travel_u + (-(-np.array(service, dtype=np.int64) // unit))[:, None]
    for _, _, arr, dep in pairs:
        transit[arr, dep] = period - w  # the night: waiting up to W more reaches the next morning
    time_cb = routing.RegisterTransitMatrix(transit.tolist())
    horizon = cal.horizon_days * period
    routing.AddDimension(time_cb, w, horizon, False, "time")  # waiting: at most one day
    dim = routing.GetDimensionOrDie("time")

    def on_period(a: int, b: int) -> tuple[int, int]:
        d = a // w_s
        return d * period - (-(a - d * w_s) // unit), d * period + (b - d * w_s) // unit

    def restrict(var: Any, intervals: list[tuple[int, int]]) -> None:
        var.SetRange(intervals[0][0], intervals[-1][1])
        for (_, b), (c, _) in itertools.pairwise(intervals):
            if c - 1 >= b + 1:
                var.RemoveInterval(b + 1, c - 1)

    solver = routing.solver()
    for k, stop in enumerate(problem.stops):
        idx = manager.NodeToIndex(k)
        allowed = [on_period(a, b) for a, b in allowed_start_intervals(cal, stop)]
        allowed = [(a, b) for a, b in allowed if a <= b]
        if stop.drop_penalty is not None:
            routing.AddDisjunction([idx], int(stop.drop_penalty))
        if not allowed:
            routing.ActiveVar(idx).SetValue(0)
            continue
        restrict(dim.CumulVar(idx), allowed)
    for v, (_, first, last) in enumerate(vehicles):
        opens = [d * period for d in range(first, last + 1)]
        start = routing.Start(v)
        dim.CumulVar(start).SetValues(opens)
        days = [(d * period, d * period + limit_of(d)) for d in range(first, last + 1)]
        restrict(dim.CumulVar(routing.End(v)), days)
        routing.AddVariableMinimizedByFinalizer(dim.CumulVar(routing.End(v)))
    for k, (v, _place, arr, dep) in enumerate(pairs):
        a_idx, d_idx = manager.NodeToIndex(arr), manager.NodeToIndex(dep)
        _, first, last = vehicles[v]
        if fixed_nights is not None:  # night k at its given place: both nodes visited, in order
            routing.VehicleVar(a_idx).SetValue(v)
            routing.VehicleVar(d_idx).SetValue(v)
            routing.NextVar(a_idx).SetValue(d_idx)
            restrict(dim.CumulVar(a_idx), [(d * period, d * period + limit_of(d))
                                            for d in (first + k,)])  # fmt: skip
            dim.CumulVar(d_idx).SetValue((first + k + 1) * period)
            continue
        routing.AddDisjunction([a_idx], 0)
        routing.AddDisjunction([d_idx], 0)
        routing.AddPickupAndDelivery(a_idx, d_idx)
        routing.VehicleVar(a_idx).SetValues([-1, v])
        routing.VehicleVar(d_idx).SetValues([-1, v])
        solver.Add(routing.VehicleVar(a_idx) == routing.VehicleVar(d_idx))
        solver.Add(routing.ActiveVar(a_idx) == routing.ActiveVar(d_idx))
        routing.NextVar(a_idx).SetValues([a_idx, d_idx])
        days = [(d * period, d * period + limit_of(d)) for d in range(first, last)]
        restrict(dim.CumulVar(a_idx), days)
        dim.CumulVar(d_idx).SetValues([d * period for d in range(first + 1, last + 1)])
    # A drive (with the service before it) longer than a working day never happens; removing
    # such arcs also makes a night impossible anywhere but at a night's arrival node: crossing
    # one elsewhere needs more than W of waiting.
    too_long = transit > w
    for _, _, arr, dep in pairs:
        too_long[arr, dep] = False
    is_terminal = np.zeros(n, dtype=bool)
    is_terminal[starts + ends] = True
    for v in range(len(vehicles)):
        for a_node, a_index in ((starts[v], routing.Start(v)),):
            cut = [manager.NodeToIndex(int(b)) for b in np.nonzero(too_long[a_node])[0]
                   if not is_terminal[b]]  # fmt: skip
            if cut:
                routing.NextVar(a_index).RemoveValues(cut)
    for a in range(n):
        if is_terminal[a]:
            continue
        idx = manager.NodeToIndex(a)
        cut = [manager.NodeToIndex(int(b)) for b in np.nonzero(too_long[a])[0]
               if not is_terminal[b] and b != a]  # fmt: skip
        cut += [routing.End(v) for v in range(len(vehicles)) if too_long[a, ends[v]]]
        if cut:
            routing.NextVar(idx).RemoveValues(cut)
    caps = [problem.teams[t].capacity for t, _, _ in vehicles]
    if any(c is not None for c in caps):
        total = sum(s.demand for s in problem.stops)
        demand = [s.demand for s in problem.stops] + [0] * (n - n_stops)
        demand_cb = routing.RegisterUnaryTransitVector(demand)
        routing.AddDimensionWithVehicleCapacity(
            demand_cb, 0, [total if c is None else int(c) for c in caps], True, "load"
        )
    # Insertion heuristics fail on the fixed nights' chained nodes; a depth-first assignment,
    # then savings, build the first plan there.
    strategies = (
        ["FIRST_UNBOUND_MIN_VALUE", "SAVINGS"]
        if fixed_nights is not None
        else ["PARALLEL_CHEAPEST_INSERTION"]
    )
    deadline = time.perf_counter() + params.time_limit_s
    solution: Any = None
    work: dict[str, float] = {"solutions": 0.0, "time_limit_hit": 0.0}
    for first_solution in strategies:
        left = max(0.1, deadline - time.perf_counter())
        solution, work = _search(
            routing, replace(params, time_limit_s=left), tuned=tuned, log_search=log_search,
            first_solution=first_solution,
        )  # fmt: skip
        if solution is not None:
            break
    if solution is None:
        return [], False, work
    place_of = {arr: place for _, place, arr, _ in pairs}
    trips: list[StopOrder] = []
    for v, (team, first, _last) in enumerate(vehicles):
        stops: list[int] = []
        stop_days: list[int] = []
        nights: list[int] = []
        here = problem.teams[team].base
        idx = solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            when = solution.Value(dim.CumulVar(idx))
            if node < n_stops:
                stops.append(node)
                stop_days.append(when // period)
            elif node in place_of:
                day = when // period
                nights += [here] * max(0, day - first - len(nights))
                here = place_of[node]
                nights.append(here)
            idx = solution.Value(routing.NextVar(idx))
        end_day = solution.Value(dim.CumulVar(idx)) // period
        start_day = solution.Value(dim.CumulVar(routing.Start(v))) // period
        if not stops and problem.teams[team].end_node == problem.teams[team].base:
            continue  # no trip; a team that ends elsewhere still makes its way there
        # nights are counted from the slot's first day; trim to the trip's own days
        while len(nights) < end_day - first:
            nights.append(here)
        nights = nights[start_day - first : end_day - first]
        trips.append(
            StopOrder(team, start_day, end_day, tuple(stops), tuple(nights), tuple(stop_days))
        )
    log.info("OR-Tools objective %s", solution.ObjectiveValue())
    return trips, True, work


def night_sequences(problem: RoutingProblem, count: int) -> list[tuple[int, ...]]:
    """Promising lodging places for the nights of a one-team, one-slot problem, best first.

    A day from place ``a`` to place ``b`` can reach the stops inside its *ellipse*
    (``travel(a, s) + service(s) + travel(s, b)`` within the day's working time). A beam search
    over the nights keeps, for each day and place, the sequences whose ellipses hold the most
    drop penalty; the sequences found are ranked by the penalty of the union of their ellipses
    (each stop counted once). Sequences whose days cannot even be driven are left out.
    """
    cal, tt = problem.calendar, problem.travel_time_s
    (first, last), team = cal.trip_slots()[0], problem.teams[0]
    places = sorted(set(problem.lodging) | {team.base, team.end_node})
    nodes = np.array([s.node for s in problem.stops], dtype=np.int64)
    prize = np.array([float(s.drop_penalty or 0) for s in problem.stops])
    service = np.array([s.service_s for s in problem.stops], dtype=np.int64)
    reach: dict[tuple[int, int, int], npt.NDArray[np.bool_]] = {}

    def ellipse(d: int, a: int, b: int) -> npt.NDArray[np.bool_] | None:
        key = (d, a, b)
        if key not in reach:
            limit = cal.work_on_day_s(d)
            if tt[a, b] > limit:
                reach[key] = None  # type: ignore[assignment]
            else:
                reach[key] = (tt[a, nodes] + service + tt[nodes, b]) <= limit
        return reach[key]

    beam = 8
    # partial sequences: place where the last night is spent -> [(value, nights)]
    states: dict[int, list[tuple[float, tuple[int, ...]]]] = {team.base: [(0.0, ())]}
    for d in range(first, last):
        nxt: dict[int, list[tuple[float, tuple[int, ...]]]] = {}
        for a, partial in states.items():
            for b in places:
                e = ellipse(d, a, b)
                if e is None:
                    continue
                gain = float(prize[e].sum())
                nxt.setdefault(b, []).extend((v + gain, (*seq, b)) for v, seq in partial)
        states = {b: sorted(v, reverse=True)[:beam] for b, v in nxt.items()}
    finals: list[tuple[float, tuple[int, ...]]] = []
    for a, partial in states.items():
        if ellipse(last, a, team.end_node) is None:
            continue
        for _, seq in partial:
            stops_in = np.zeros(len(nodes), dtype=bool)
            here = team.base
            for d, place in zip(range(first, last + 1), [*seq, team.end_node], strict=True):
                e = ellipse(d, here, place)
                if e is not None:
                    stops_in |= e
                here = place
            finals.append((float(prize[stops_in].sum()), seq))
    finals.sort(reverse=True)
    seen: list[tuple[int, ...]] = []
    for _, seq in finals:
        if seq not in seen:
            seen.append(seq)
        if len(seen) >= count:
            break
    return seen


def _lodging_rounds(
    problem: RoutingProblem, params: SolveParams, *, deadline: float, log_search: bool
) -> tuple[bool, list[PlannedTrip], dict[str, float], bool]:
    """Lodging problems: rounds over promising night places, then the free model.

    With one team and one trip slot, the nights of the best few :func:`night_sequences` are fixed
    in turn (each round an OR-Tools search on the same model with those nights), and a last
    round lets the engine choose the nights itself. The best timed plan wins. Otherwise one round
    of the free model.
    """
    work = {"rounds": 0.0, "solutions": 0.0, "time_limit_hit": 0.0}
    ls_iterations = params.local_search_iterations
    if ls_iterations is None and params.max_iterations is not None:
        ls_iterations = LOCAL_SEARCH_ITERATIONS  # a work limit on the rounds: one here too
    polish = local_search_applies(problem) and ls_iterations != 0
    end_of_rounds = deadline
    if polish and params.max_iterations is None:
        # no work limit on the rounds: they only give the local search a start, a fifth of the
        # time at most (with max_iterations they stop on it, the clock staying a safety cap)
        start = time.perf_counter()
        end_of_rounds = start + LODGING_ROUNDS_SHARE * max(0.0, deadline - start)
    single = (
        len(problem.teams) == 1
        and len(problem.calendar.trip_slots()) == 1
        and not problem.teams[0].blocked_days
    )
    nights_list: list[tuple[int, ...] | None] = []
    if single and problem.calendar.trip_slots()[0][1] > problem.calendar.trip_slots()[0][0]:
        nights_list += list(night_sequences(problem, 3))
    nights_list.append(None)  # the free model: only when no fixed nights gave a plan
    best: tuple[float, list[PlannedTrip]] | None = None
    repair_cut = False
    for r, nights in enumerate(nights_list):
        remaining = end_of_rounds - time.perf_counter()
        if nights is None and best is not None:
            break
        if r > 0 and remaining < 0.1:
            break
        share = max(1, len(nights_list) - 1 - r) if nights is not None else 1
        budget = replace(params, time_limit_s=max(0.1, remaining / share))
        sequences, found, got = _solve_lodging(
            problem, budget, tuned=True, log_search=log_search, fixed_nights=nights
        )
        work["rounds"] += 1
        work["solutions"] += got["solutions"]
        work["time_limit_hit"] = max(work["time_limit_hit"], got["time_limit_hit"])
        if not found:
            continue
        planned, _left, cut = time_and_repair(problem, sequences, deadline=deadline)
        repair_cut = repair_cut or cut
        score = plan_objective(problem, planned)
        log.info("lodging round %d (nights %s): score %s", r, nights, score)
        if best is None or score < best[0]:
            best = (score, planned)
    if best is None:
        return False, [], work, repair_cut
    if polish:
        out = improve_lodging_trips(
            problem,
            best[1],
            max_iterations=ls_iterations,
            seed=params.seed,
            deadline=deadline,
        )
        log.info(
            "local search: objective %s -> %s in %d iterations (%d improvements), stopped by %s",
            out.objective_before,
            out.objective_after,
            out.iterations,
            out.improvements,
            out.stopped_by,
        )
        work["local_search_iterations"] = float(out.iterations)
        work["local_search_improvements"] = float(out.improvements)
        work["local_search_cut"] = float(out.stopped_by == "deadline")
        best = (out.objective_after, list(out.trips))
    return True, best[1], work, repair_cut
