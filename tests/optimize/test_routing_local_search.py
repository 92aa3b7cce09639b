"""Tests of the prize-collecting local search on lodging problems (tiny OPHS instances).

Every search here stops on its work limit (iterations, solution counts), never on the clock.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import replace

import numpy as np
import pytest

from lnplan.optimize.routing import SolveParams, check_trips, solve_routing
from lnplan.optimize.routing.check import plan_objective
from lnplan.optimize.routing.local_search import improve_lodging_trips, local_search_applies
from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem
from lnplan.optimize.routing.ortools_engine import LOCAL_SEARCH_ITERATIONS
from lnplan.optimize.routing.schedule import time_lodging_trip
from lnplan.optimize.vrp_instances import OphsInstance, ophs_to_routing_problem


def _instance(points: list[tuple[float, float, int]], n_hotels: int, limits: list[float]):
    table = np.array(points, dtype=np.float64)
    return OphsInstance(
        name="tiny",
        coords=table[:, :2].copy(),
        scores=table[:, 2].astype(np.int64),
        n_hotels=n_hotels,
        tmax=sum(limits),
        day_limits=tuple(limits),
    )


def _empty_plan(problem: RoutingProblem) -> list[PlannedTrip]:
    """One trip that visits nothing and spends every night at the base."""
    days = problem.calendar.horizon_days
    trip, _ = time_lodging_trip(
        problem, 0, 0, days - 1, [[] for _ in range(days)], [problem.teams[0].base] * (days - 1)
    )
    return [trip]


def _score(problem: RoutingProblem, trips: tuple[PlannedTrip, ...] | list[PlannedTrip]) -> int:
    factor = sum(problem.calendar.day_limits_s) + 1
    return sum(int(problem.stops[i].drop_penalty or 0) // factor for t in trips for i in t.stops)


def _best_score(inst: OphsInstance) -> int:
    """Brute force: every night place, every split of the customers into days, every order."""
    customers = list(range(inst.n_hotels, len(inst.coords)))
    n_days = inst.n_days

    def shortest(start: int, stops: tuple[int, ...], end: int) -> float:
        return min(
            sum(inst.distance(a, b) for a, b in itertools.pairwise([start, *perm, end]))
            for perm in itertools.permutations(stops)
        )

    best = 0
    for nights in itertools.product(range(inst.n_hotels), repeat=n_days - 1):
        places = [0, *nights, 1]
        for split in itertools.product(range(n_days + 1), repeat=len(customers)):
            score = sum(
                int(inst.scores[c]) for c, d in zip(customers, split, strict=True) if d < n_days
            )
            if score <= best:
                continue
            day_of = dict(zip(customers, split, strict=True))
            ok = all(
                shortest(places[d], tuple(c for c in customers if day_of[c] == d), places[d + 1])
                <= inst.day_limits[d] + 0.01
                for d in range(n_days)
            )
            if ok:
                best = score
    return best


def test_local_search_moves_a_night_to_the_hotel_that_opens_the_far_stops() -> None:
    # A line: start/end hotel at 0, an extra hotel at 10; A (9) and B (11) score 10 each, C (1)
    # scores 1. Days of 12: sleeping at the base reaches only C; sleeping at hotel 2 reaches all.
    inst = _instance(
        [(0, 0, 0), (0, 0, 0), (10, 0, 0), (9, 0, 10), (11, 0, 10), (1, 0, 1)], 3, [12, 12]
    )
    problem = ophs_to_routing_problem(inst)
    start = _empty_plan(problem)
    out = improve_lodging_trips(problem, start, max_iterations=5, seed=0)
    assert check_trips(problem, list(out.trips)) == []
    assert _score(problem, out.trips) == 21 == _best_score(inst)
    assert out.trips[0].nights == (2,)
    assert out.objective_after < out.objective_before
    assert out.stopped_by == "iterations"
    assert out.iterations == 5


@pytest.mark.parametrize("seed", range(6))
def test_local_search_reaches_the_brute_force_optimum_and_passes_the_checker(seed: int) -> None:
    rng = random.Random(seed)
    hotels = [(0.0, 0.0, 0), (rng.uniform(0, 6), rng.uniform(0, 6), 0)]
    hotels.append((rng.uniform(0, 6), rng.uniform(0, 6), 0))
    customers = [(rng.uniform(0, 6), rng.uniform(0, 6), rng.randint(1, 9)) for _ in range(5)]
    inst = _instance(hotels + customers, 3, [rng.uniform(6, 10), rng.uniform(6, 10)])
    problem = ophs_to_routing_problem(inst)
    out = improve_lodging_trips(problem, _empty_plan(problem), max_iterations=30, seed=seed)
    assert check_trips(problem, list(out.trips)) == []
    assert out.objective_after == pytest.approx(plan_objective(problem, list(out.trips)))
    assert out.objective_after <= out.objective_before
    assert _score(problem, out.trips) == _best_score(inst)


def test_local_search_is_repeatable_for_a_seed() -> None:
    rng = random.Random(7)
    points = [(0.0, 0.0, 0), (5.0, 5.0, 0), (2.5, 5.0, 0)]
    points += [(rng.uniform(0, 6), rng.uniform(0, 6), rng.randint(1, 9)) for _ in range(25)]
    problem = ophs_to_routing_problem(_instance(points, 3, [7.0, 7.0, 7.0]))
    runs = [
        improve_lodging_trips(problem, _empty_plan(problem), max_iterations=40, seed=3)
        for _ in range(2)
    ]
    assert runs[0].trips == runs[1].trips
    assert check_trips(problem, list(runs[0].trips)) == []


def test_local_search_leaves_problems_with_time_windows_alone() -> None:
    inst = _instance([(0, 0, 0), (0, 0, 0), (1, 0, 5)], 2, [4, 4])
    problem = ophs_to_routing_problem(inst)
    windowed = replace(problem, stops=(replace(problem.stops[0], time_windows_s=((0, 10),)),))
    assert local_search_applies(problem) and not local_search_applies(windowed)
    start = _empty_plan(windowed)
    out = improve_lodging_trips(windowed, start, max_iterations=10)
    assert out.stopped_by == "not applicable"
    assert list(out.trips) == start


def test_solve_routing_runs_the_local_search_on_its_work_limit() -> None:
    rng = random.Random(1)
    points = [(0.0, 0.0, 0), (6.0, 0.0, 0), (3.0, 3.0, 0)]
    points += [(rng.uniform(0, 6), rng.uniform(0, 4), rng.randint(1, 9)) for _ in range(15)]
    inst = _instance(points, 3, [6.0, 6.0])
    problem = ophs_to_routing_problem(inst)
    params = SolveParams(
        time_limit_s=120, max_iterations=5, local_search_iterations=20, engine="ortools"
    )
    result = solve_routing(problem, params)
    assert result.rules_checked
    assert result.work["local_search_iterations"] == 20
    assert not any("local search" in w for w in result.warnings)
    off = solve_routing(problem, replace(params, local_search_iterations=0))
    assert "local_search_iterations" not in off.work
    assert result.objective <= off.objective + 1e-9
    assert math.isfinite(result.objective)


def test_local_search_leaves_teams_with_blocked_days_alone() -> None:
    # the search widens a trip to its calendar slot, which may hold a team's blocked day
    inst = _instance([(0, 0, 0), (0, 0, 0), (1, 0, 5)], 2, [4, 4])
    problem = ophs_to_routing_problem(inst)
    blocked = replace(problem, teams=(replace(problem.teams[0], blocked_days=(1,)),))
    assert local_search_applies(problem) and not local_search_applies(blocked)


def test_a_work_limit_on_the_rounds_puts_one_on_the_local_search_too() -> None:
    rng = random.Random(2)
    points = [(0.0, 0.0, 0), (6.0, 0.0, 0), (3.0, 3.0, 0)]
    points += [(rng.uniform(0, 6), rng.uniform(0, 4), rng.randint(1, 9)) for _ in range(8)]
    problem = ophs_to_routing_problem(_instance(points, 3, [6.0, 6.0]))
    result = solve_routing(
        problem, SolveParams(time_limit_s=120, max_iterations=5, engine="ortools")
    )
    assert result.work["local_search_iterations"] == LOCAL_SEARCH_ITERATIONS
    assert not any("cut short" in w for w in result.warnings)
