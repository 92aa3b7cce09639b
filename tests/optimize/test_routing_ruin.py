"""Ruin and recreate on the greedy plan (fixed trip blocks, no lodging places)."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from lnplan.optimize.routing import (
    Calendar,
    RoutingProblem,
    SolveParams,
    Stop,
    Team,
    check_trips,
    solve_routing,
)
from lnplan.optimize.routing.check import plan_objective
from lnplan.optimize.routing.repair import greedy_plan
from lnplan.optimize.routing.ruin import ruin_and_recreate

H = 3600


def _campaign(seed: int, n: int = 30) -> RoutingProblem:
    """Random stops up to 5 h apart, two teams (one off on day 4, one with a capacity) over two
    3-day blocks, some stops held to a trip: more than the teams can do."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 5 * H, size=(n + 1, 2))
    tt = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64)
    demand = rng.integers(5, 40, size=n)
    stops = tuple(
        Stop(node=k + 1, demand=int(d), service_s=1800 + int(d) * 400, drop_penalty=int(d) * 20000)
        for k, d in enumerate(demand)
    )
    cal = Calendar(horizon_days=6, trip_max_days=3, fixed_trip_blocks=True)
    teams = (Team(base=0, blocked_days=(4,)), Team(base=0, capacity=150))
    keep: list[tuple[int, int] | None] = [None] * n
    keep[0], keep[1] = (0, 0), (1, 1)
    return RoutingProblem(tt, tt / 60.0, stops, teams, cal, keep_trip=tuple(keep))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_never_worse_than_its_start_and_exactly_timed(seed: int) -> None:
    problem = _campaign(seed)
    start = greedy_plan(problem)
    out = ruin_and_recreate(problem, start, iterations=40, seed=seed)
    assert out.objective_before == plan_objective(problem, start)
    assert out.objective_after == plan_objective(problem, list(out.trips))
    assert out.objective_after < out.objective_before  # it improves here (work limit, seed)
    assert check_trips(problem, list(out.trips)) == []
    assert out.iterations == 40 and out.stopped_by == "iterations"
    for trip in out.trips:
        assert 4 not in range(trip.first_day, trip.last_day + 1) or trip.team != 0
        cap = problem.teams[trip.team].capacity
        assert cap is None or sum(problem.stops[i].demand for i in trip.stops) <= cap
        for i in trip.stops:
            held = problem.keep_trip[i]
            if held is not None:
                a, b = problem.calendar.trip_slots()[held[1]]
                assert trip.team == held[0] and a <= trip.first_day and trip.last_day <= b


def test_same_seed_same_answer() -> None:
    problem = _campaign(3)
    start = greedy_plan(problem)
    a = ruin_and_recreate(problem, start, iterations=30, seed=7)
    b = ruin_and_recreate(problem, start, iterations=30, seed=7)
    assert a == b


def test_finds_the_two_stops_that_the_greedy_most_valuable_first_blocks() -> None:
    """One 8-hour day. A is worth most per second on site (3 per s, 20,000 s), so the greedy plan
    takes it first and then has no room for B or C (2.8 per s, 12,000 s each); B and C together
    (67,200) are worth more than A (60,000), and fit together."""
    tt = np.full((4, 4), 600, dtype=np.int64)
    np.fill_diagonal(tt, 0)
    stops = (
        Stop(node=1, service_s=20_000, drop_penalty=60_000, name="A"),
        Stop(node=2, service_s=12_000, drop_penalty=33_600, name="B"),
        Stop(node=3, service_s=12_000, drop_penalty=33_600, name="C"),
    )
    cal = Calendar(horizon_days=1, trip_max_days=1, fixed_trip_blocks=True)
    problem = RoutingProblem(tt, tt / 60.0, stops, (Team(base=0),), cal)
    start = greedy_plan(problem)
    assert [t.stops for t in start] == [(0,)]
    assert plan_objective(problem, start) == 1_200 + 2 * 33_600
    out = ruin_and_recreate(problem, start, iterations=50, seed=0)
    assert sorted(i for t in out.trips for i in t.stops) == [1, 2]
    assert out.objective_after == 1_800 + 60_000
    assert check_trips(problem, list(out.trips)) == []


def test_zero_iterations_or_a_passed_deadline_keep_the_start() -> None:
    problem = _campaign(4)
    start = greedy_plan(problem)
    none = ruin_and_recreate(problem, start, iterations=0)
    assert list(none.trips) == sorted(start, key=lambda t: (t.team, t.first_day, t.last_day))
    assert none.stopped_by == "iterations" and none.iterations == 0
    late = ruin_and_recreate(problem, start, iterations=10, deadline=time.perf_counter() - 1)
    assert late.stopped_by == "deadline" and late.iterations == 0
    assert late.objective_after == late.objective_before


def test_solve_routing_runs_the_step_on_its_work_limit() -> None:
    problem = _campaign(5)
    params = SolveParams(time_limit_s=60, engine="ortools", max_iterations=2, ruin_iterations=25)
    result = solve_routing(problem, params)
    assert result.work["ruin_iterations"] == 25
    assert not result.time_limit_hit
    greedy = plan_objective(problem, greedy_plan(problem))
    assert result.objective <= greedy
    off = solve_routing(problem, replace(params, ruin_iterations=0))
    assert "ruin_iterations" not in off.work
