"""The independent checker of screening plans (finding 7): it reads the scenario's settings and
the tables as written, and catches a wrong service-time formula or a tampered table."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from lnplan.programs import screening_check, screening_routes
from lnplan.programs.screening_check import PlanCheckError, check_plan

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def case(small_campaign, tmp_path_factory):
    """The small campaign of tests/programs/conftest.py, planned."""
    scenario, world = small_campaign
    out = screening_routes.run(scenario, world, tmp_path_factory.mktemp("check"))
    return scenario, world, out


def test_the_plan_passes_and_is_checked(case) -> None:
    scenario, world, out = case
    assert not out.tables["schedule"].empty
    assert check_plan(scenario, world, out.tables, out.summary) == []
    assert out.summary["solution_checked"] is True


def _tampered(out, table: str, row: int, column: str, value):
    tabs = {k: v.copy() for k, v in out.tables.items()}
    tabs[table].loc[tabs[table].index[row], column] = value
    return tabs


def test_a_tampered_end_time_is_caught(case) -> None:
    scenario, world, out = case
    end = out.tables["schedule"]["end"].iloc[0]
    hh, mm = map(int, end.split(":"))
    later = f"{hh + (mm + 10) // 60:02d}:{(mm + 10) % 60:02d}"
    tabs = _tampered(out, "schedule", 0, "end", later)
    assert any("the visit lasts" in p for p in check_plan(scenario, world, tabs, out.summary))


def test_tampered_km_overnight_and_dates_are_caught(case) -> None:
    scenario, world, out = case
    days = out.tables["team_days"]
    tabs = _tampered(out, "team_days", 0, "km_driven", float(days["km_driven"].iloc[0]) + 5)
    assert any("km driven" in p for p in check_plan(scenario, world, tabs, out.summary))
    tabs = _tampered(out, "team_days", 0, "overnight", "某地")
    assert any("overnight" in p for p in check_plan(scenario, world, tabs, out.summary))
    tabs = _tampered(out, "schedule", 0, "date", "2023-09-09")  # a Saturday
    assert any("working days" in p for p in check_plan(scenario, world, tabs, out.summary))
    tabs = _tampered(out, "trips", 0, "return", "20:00")
    assert check_plan(scenario, world, tabs, out.summary)
    tabs = _tampered(out, "schedule", 0, "children_screened", 999)
    assert check_plan(scenario, world, tabs, out.summary)


def test_a_wrong_service_time_formula_stops_the_run(case, monkeypatch, tmp_path) -> None:
    """The scheduler's formula changed (10 % less time a child): the check, which reads the
    scenario's settings, stops the run instead of writing the plan as checked."""
    scenario, world, _ = case
    right = screening_routes.per_child_s
    monkeypatch.setattr(screening_routes, "per_child_s", lambda sec: int(right(sec) * 0.9))
    with pytest.raises(PlanCheckError, match="the visit lasts"):
        screening_routes.run(scenario, world, tmp_path)


def test_the_checker_shares_no_code_with_the_scheduler() -> None:
    tree = ast.parse(Path(screening_check.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    assert not any(m.startswith("lnplan.optimize") for m in imported)
    assert "lnplan.programs.screening_calendar" not in imported
    # From the programme it takes only the base lookup (an input, not a schedule).
    assert {m for m in imported if m.startswith("lnplan.programs.screening_routes.")} == {
        "lnplan.programs.screening_routes.find_base"
    }


def test_an_empty_plan_is_written_with_its_columns_and_checked(case, monkeypatch, tmp_path) -> None:
    """A search that finds nothing in its limit gives empty tables, still checked."""
    import lnplan.optimize.routing as routing

    scenario, world, _ = case
    real = routing.solve_routing

    def nothing(problem, params):
        result = real(problem, params)
        return dataclasses.replace(
            result,
            trips=(),
            demand_served=0,
            dropped=tuple(range(len(problem.stops))),
            travel_time_s=0,
            distance_km=0.0,
        )

    monkeypatch.setattr(routing, "solve_routing", nothing)
    out = screening_routes.run(scenario, world, tmp_path)
    assert out.tables["schedule"].empty and "date" in out.tables["schedule"].columns
    assert out.summary["children_screened"] == 0 and out.summary["solution_checked"] is True
    assert out.tables["unscreened"]["children_left"].sum() == out.summary["children_awaiting"]
