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
    assert "accepted: solomon, vrplib" in out.output
