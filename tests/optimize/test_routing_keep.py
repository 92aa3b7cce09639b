"""Stops held to a team's trip (``RoutingProblem.keep_trip``, used by ``--baseline``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lnplan.errors import InputError
from lnplan.optimize.routing import Calendar, RoutingProblem, SolveParams, Stop, Team, solve_routing

PARAMS = SolveParams(time_limit_s=30, max_iterations=50, engine="ortools")


def _two_bases(horizon_days: int = 1) -> RoutingProblem:
    """Bases at nodes 0 and 1, far apart; stops 2, 3 beside base 0 and 4, 5 beside base 1."""
    xy = np.array([[0, 0], [50, 0], [1, 0], [0, 1], [51, 0], [50, 1]], dtype=float)
    tt = np.rint(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1)) * 60).astype(np.int64)
    stops = tuple(Stop(node=k, demand=1, service_s=600, drop_penalty=10**6) for k in range(2, 6))
    cal = Calendar(horizon_days=horizon_days, trip_max_days=1)
    return RoutingProblem(
        tt, tt / 60.0, stops, (Team(base=0, name="A"), Team(base=1, name="B")), cal
    )


def _placed(result) -> dict[int, tuple[int, int]]:
    """Stop -> (team, day of its visit)."""
    return {v.stop: (t.team, v.start_s // 86400) for t in result.trips for v in t.visits}


def test_stops_ride_the_trip_they_are_held_to() -> None:
    free = solve_routing(_two_bases(), PARAMS)
    assert {s: t for s, (t, _) in _placed(free).items()} == {0: 0, 1: 0, 2: 1, 3: 1}
    held = replace(_two_bases(), keep_trip=((1, 0), (1, 0), None, None))
    result = solve_routing(held, PARAMS)
    assert result.rules_checked
    placed = _placed(result)
    assert all(placed[s][0] == 1 for s in (0, 1) if s in placed)  # team B or left out
    assert set(placed) == {0, 1, 2, 3}  # the penalties make the detour worth it


def test_a_stop_held_to_the_second_trip_is_visited_on_its_day() -> None:
    problem = replace(_two_bases(horizon_days=2), keep_trip=((0, 1), None, None, None))
    placed = _placed(solve_routing(problem, PARAMS))
    assert placed[0] == (0, 1)


def test_keep_trip_is_checked() -> None:
    with pytest.raises(InputError, match="keep_trip has 1 entries for 4 stops"):
        solve_routing(replace(_two_bases(), keep_trip=((0, 0),)), PARAMS)
    with pytest.raises(InputError, match="keep_trip of stop 0"):
        solve_routing(replace(_two_bases(), keep_trip=((5, 0), None, None, None)), PARAMS)
    with pytest.raises(InputError, match="keep_trip"):
        held = replace(_two_bases(), keep_trip=((1, 0), None, None, None))
        solve_routing(held, replace(PARAMS, engine="pyvrp"))


def test_a_held_stop_follows_its_block_when_blocked_days_cut_the_team_s_trips() -> None:
    # Team A is blocked on day 0, so its vehicles are days 1 and 2 (two one-day blocks of
    # three); a stop held to block 2 rides the vehicle of day 2, not A's second vehicle by count.
    base = _two_bases(horizon_days=3)
    teams = (replace(base.teams[0], blocked_days=(0,)), base.teams[1])
    problem = replace(base, teams=teams, keep_trip=((0, 2), None, None, None))
    result = solve_routing(problem, PARAMS)
    assert result.rules_checked
    placed = _placed(result)
    assert placed[0] == (0, 2)
    assert all(day != 0 for team, day in placed.values() if team == 0)


def test_no_plan_for_the_mandatory_stops_is_not_called_infeasible() -> None:
    # two mandatory visits of 6 h each for one team on one day: the search finds no plan, which
    # is reported as a search that ended without one, not as a proof of infeasibility
    from lnplan.errors import InfeasibleError, NoSolutionInLimitError

    base = _two_bases()
    stops = tuple(replace(s, service_s=6 * 3600, drop_penalty=None) for s in base.stops[:2])
    problem = replace(base, stops=stops, teams=base.teams[:1], keep_trip=())
    with pytest.raises(NoSolutionInLimitError, match="does not prove that none exists") as err:
        solve_routing(problem, PARAMS)
    assert not isinstance(err.value, InfeasibleError)
