"""Tests of the VRP instance readers, the objective conventions and `lnplan bench routing`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnplan.cli import app
from lnplan.errors import InputError
from lnplan.optimize.routing import SolveParams, check_trips, solve_routing
from lnplan.optimize.routing.schedule import time_trip
from lnplan.optimize.vrp_instances import (
    evaluate_routes,
    read_solomon,
    read_solution,
    read_vrplib,
    to_routing_problem,
)


@pytest.mark.parametrize(
    ("name", "reader", "expected"),
    [
        ("solomon/C101", read_solomon, 827.3),
        ("solomon/RC101", read_solomon, 1619.8),
        ("solomon/R201", read_solomon, 1143.2),
        ("cvrp_A/A-n32-k5", read_vrplib, 784),
        ("cvrp_X/X-n101-k25", read_vrplib, 27591),
    ],
)
def test_reference_solution_reevaluates_to_published_value(
    shared_benchmarks: Path, name: str, reader, expected: float
) -> None:
    ext = ".vrp" if reader is read_vrplib else ".txt"
    inst = reader(shared_benchmarks / f"{name}{ext}")
    sol = read_solution(shared_benchmarks / f"{name}.sol")
    assert sol.cost == pytest.approx(expected)
    assert evaluate_routes(inst, sol.routes) == pytest.approx(expected)
    # The published solution is feasible for the lnplan model: timed and independently checked.
    problem = to_routing_problem(inst)
    trips = []
    for k, route in enumerate(sol.routes):
        trip, left_out = time_trip(problem, k % len(problem.teams), 0, 0, [c - 1 for c in route])
        assert left_out == []
        trips.append(trip)
    if len(trips) <= len(problem.teams):
        assert check_trips(problem, trips) == []


def test_solomon_c101_reaches_the_optimum(shared_benchmarks: Path) -> None:
    inst = read_solomon(shared_benchmarks / "solomon/C101.txt")
    result = solve_routing(to_routing_problem(inst), SolveParams(time_limit_s=3, seed=1))
    assert result.engine == "pyvrp"
    assert result.travel_time_s / inst.scale <= 827.3 * 1.01


def test_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_solomon(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("X1\n\nnothing here\n")
    with pytest.raises(InputError, match="not a Solomon file"):
        read_solomon(bad)
    geo = tmp_path / "geo.vrp"
    geo.write_text("NAME : g\nEDGE_WEIGHT_TYPE : GEO\nCAPACITY : 10\nNODE_COORD_SECTION\n1 0 0\n")
    with pytest.raises(InputError, match="EDGE_WEIGHT_TYPE 'GEO' is not supported"):
        read_vrplib(geo)


def test_cli_bench_routing_json(shared_benchmarks: Path) -> None:
    runner = CliRunner()
    path = shared_benchmarks / "cvrp_A/A-n32-k5.vrp"
    out = runner.invoke(app, ["bench", "routing", str(path), "--time-limit", "1", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert {"objective", "routes", "status", "time_s", "engine"} <= set(data)
    assert data["objective"] >= 784 and data["routes"] >= 5 and data["engine"] == "pyvrp"


def test_cli_bench_routing_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["bench", "routing", str(tmp_path / "x.vrp")])
    assert out.exit_code == 2
    assert "no such file" in out.output
    out = runner.invoke(app, ["bench", "routing", "x.txt", "--format", "tsplib"])
    assert out.exit_code == 2
    assert "accepted: solomon, vrplib, ophs, toptw" in out.output


# --- OPHS and TOPTW (issue 14: benchmark the multi-day engine) -----------------------------------

_OPHS = """5 1 2
12
6 6
0 0 0
10 0 0
5 0 0
2 1 5
7 1 3
20 20 100
----------
"""

# depot 0 (budget 100), three customers: i x y d S f a list O C
_TOPTW = """4 1 3 1
0 100
 0 0.00 0.00 0.00 0.00 0 0 0 100
 1 3.00 4.00 1.00 10.00 1 1 1 0 100
 2 6.00 8.00 1.00 20.00 1 1 1 20 30
 3 30.00 40.00 1.00 50.00 1 1 1 0 100
"""


def _ophs(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.ophs"
    path.write_text(_OPHS)
    return path


def test_ophs_reader_and_checker(tmp_path: Path) -> None:
    from lnplan.optimize.vrp_instances import check_ophs_tour, read_ophs

    inst = read_ophs(_ophs(tmp_path))
    assert inst.n_hotels == 3 and inst.n_days == 2 and inst.day_limits == (6.0, 6.0)
    assert list(inst.scores[3:]) == [5, 3, 100]
    good = [[0, 3, 2], [2, 4, 1]]  # 2.236 + 3.162 = 5.40 each day
    assert check_ophs_tour(inst, good) == (8, [])
    score, bad = check_ophs_tour(inst, [[0, 3, 4, 1], [1, 1]])  # day 1: 2.24 + 5 + 3.16 > 6
    assert score == 8 and any("length" in b for b in bad)
    _, bad = check_ophs_tour(inst, [[0, 3, 2], [0, 4, 1]])
    assert any("not where the last day ended" in b for b in bad)
    _, bad = check_ophs_tour(inst, [[0, 3, 2], [2, 3, 1]])
    assert any("twice" in b for b in bad)
    _, bad = check_ophs_tour(inst, [[0, 3, 2], [2, 4, 2]])
    assert any("end hotel" in b for b in bad)


def test_ophs_day_limit_tolerance_is_the_reference_convention(tmp_path: Path) -> None:
    from lnplan.optimize.vrp_instances import check_ophs_tour, read_ophs

    text = _OPHS.replace("6 6\n", "5.395 6\n")  # day 1 needs 5.3983: over Td, within Td + 0.01
    path = tmp_path / "tight.ophs"
    path.write_text(text)
    inst = read_ophs(path)
    assert check_ophs_tour(inst, [[0, 3, 2], [2, 4, 1]])[1] == []
    assert check_ophs_tour(inst, [[0, 3, 2], [2, 4, 1]], tolerance=0.0)[1] != []


def test_ophs_reader_errors(tmp_path: Path) -> None:
    from lnplan.optimize.vrp_instances import read_ophs

    bad = tmp_path / "bad.ophs"
    bad.write_text("5 1 2\n12\n6 6\n0 0 0\n")
    with pytest.raises(InputError, match="expected 6 rows"):
        read_ophs(bad)
    with pytest.raises(InputError, match="no such file"):
        read_ophs(tmp_path / "missing.ophs")


def test_ophs_solved_through_the_multiday_model_passes_both_checkers(tmp_path: Path) -> None:
    from lnplan.optimize.result import contract_problems
    from lnplan.optimize.vrp_instances import (
        check_ophs_tour,
        ophs_days_of,
        ophs_to_routing_problem,
        read_ophs,
    )

    inst = read_ophs(_ophs(tmp_path))
    problem = ophs_to_routing_problem(inst)
    assert problem.lodging == (0, 1, 2) and problem.teams[0].end == 1
    result = solve_routing(problem, SolveParams(time_limit_s=20, max_iterations=30))
    assert result.engine == "ortools" and contract_problems(result) == []
    score, bad = check_ophs_tour(inst, ophs_days_of(inst, result))
    assert bad == []
    assert score <= 8  # the far customer (100) is out of any day's reach
    assert 5 not in {v.node for t in result.trips for v in t.visits}


def test_lodging_checker_flags_a_night_outside_lodging(tmp_path: Path) -> None:
    from dataclasses import replace

    from lnplan.optimize.routing import PlannedTrip
    from lnplan.optimize.vrp_instances import ophs_to_routing_problem, read_ophs

    problem = ophs_to_routing_problem(read_ophs(_ophs(tmp_path)))
    trip = PlannedTrip(0, 0, 1, (), (), 0, nights=(3,))  # a night at customer 3
    assert any("not a lodging place" in b for b in check_trips(problem, [trip]))
    no_lodging = replace(problem, lodging=())
    assert any("no lodging places" in b for b in check_trips(no_lodging, [trip]))


def test_toptw_reader_checker_and_solve(tmp_path: Path) -> None:
    from lnplan.optimize.result import contract_problems
    from lnplan.optimize.vrp_instances import (
        check_toptw_routes,
        read_toptw,
        toptw_routes_of,
        toptw_to_routing_problem,
    )

    path = tmp_path / "t.txt"
    path.write_text(_TOPTW)
    inst = read_toptw(path)
    assert list(inst.profit) == [0, 10, 20, 50] and inst.cost[0, 1] == 50  # 5.0 in tenths
    assert check_toptw_routes(inst, [[1, 2]], 1) == (30, [])
    assert check_toptw_routes(inst, [[2, 1]], 1) == (30, [])  # waits at 2 until 20.0
    _, bad = check_toptw_routes(inst, [[3, 2]], 1)  # reaches 2 at 91.0, after its close 30.0
    assert any("customer 2 starts at 91.0" in b for b in bad)
    _, bad = check_toptw_routes(inst, [[3]], 1)  # 50 out, 50 back + 1 service > 100
    assert any("back at" in b for b in bad)
    problem = toptw_to_routing_problem(inst, 1)
    result = solve_routing(
        problem, SolveParams(time_limit_s=20, max_iterations=200, engine="ortools")
    )
    assert contract_problems(result) == []
    profit, bad = check_toptw_routes(inst, toptw_routes_of(result), 1)
    assert bad == [] and profit <= 30


def test_cli_bench_routing_ophs_json(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(
        app,
        ["bench", "routing", str(_ophs(tmp_path)), "--format", "ophs", "--time-limit", "20",
         "--max-iterations", "20", "--seed", "1", "--json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert {"objective", "status", "time_s"} <= set(data)
    assert data["benchmark_checked"] is True and data["objective"] <= data["bound"]
