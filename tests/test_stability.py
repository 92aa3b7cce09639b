"""``--baseline`` on the fund and the tours (quick scenario): what the reports say is what the
tables show, and the held plans stay within ``stability.max_loss``."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

import lnplan
from lnplan import cache
from lnplan.compare import _first_visits
from lnplan.optimize.result import contract_problems
from lnplan.programs.screening_routes import build_plan
from lnplan.stability import baseline_trips
from tests.test_run import QUICK

FAST = {"sites.time_limit_s": 3.0, "screening.time_limit_s": 30.0, "screening.max_iterations": 20}
#: Changes the fund (budget) and the tours (a weight): both are re-solved against the baseline.
CHANGE = {"funding.budget_yuan": 36_000_000, "screening.mountain_weight": 1.6}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[lnplan.Plan, lnplan.Plan, lnplan.Plan]:
    """The baseline, the changed scenario without and with --baseline."""
    cache.clear_memory()
    out = tmp_path_factory.mktemp("stability")
    base = lnplan.run(lnplan.load_scenario(QUICK, set=FAST), out / "a", progress=False)
    changed = lnplan.load_scenario(QUICK, set={**FAST, **CHANGE})
    plain = lnplan.run(changed, out / "plain", progress=False)
    held = lnplan.run(changed, out / "held", baseline=base.out_dir, progress=False)
    return base, plain, held


def test_fund_held_moves_no_more_than_plain_and_reports_the_tables(runs) -> None:
    base, plain, held = runs
    runs_ = held.manifest["programme_runs"]["employment_fund"]
    assert runs_["outcome"] == "solved"
    s = held.views_by_name["employment_fund"].summary
    c_plain, c_held = lnplan.compare(base, plain).summary, lnplan.compare(base, held).summary
    moved = c_held["yuan_added"] + c_held["yuan_removed"]
    assert moved <= c_plain["yuan_added"] + c_plain["yuan_removed"]
    assert (
        s["baseline_yuan_moved"] == moved
        and s["baseline_counties_changed"] == (c_held["counties_changed"])
    )
    assert s["baseline_yuan_moved_bound"] <= moved
    assert s["stability_cost"] <= held.scenario.stability.max_loss + 1e-6
    assert int(held.views_by_name["employment_fund"].table["amount_yuan"].sum()) == 36_000_000
    record = runs_["models"]["stability"]
    assert record["objective"] == moved and record["status"] in ("optimal", "feasible")
    assert any(line.startswith("employment_fund:") for line in held.manifest["baseline"]["lines"])


def test_tours_report_what_the_tables_show(runs) -> None:
    base, _, held = runs
    assert held.manifest["programme_runs"]["screening_routes"]["outcome"] == "solved"
    s = held.views_by_name["screening_routes"].summary
    old, new = base.views_by_name["screening_routes"], held.views_by_name["screening_routes"]
    a, b = old.tables["schedule"], new.tables["schedule"]
    both = set(a["township_code"]) & set(b["township_code"])
    moved = lnplan.compare(base, held).summary["townships_moved"]
    assert s["baseline_townships_visited_again"] == len(both)
    assert s["baseline_townships_same_team_and_trip"] == len(both) - moved
    assert s["baseline_townships_moved"] == moved
    assert s["stability_resolves"] == 0 or s["baseline_visits_held"] > 0
    assert s["baseline_townships_held"] <= s["baseline_townships"]
    # the plan kept is the held one only within the loss, else the best one
    best = s["best_weighted_children_screened"]
    if s["baseline_held_plan_used"]:
        assert s["weighted_children_screened"] >= (1 - held.scenario.stability.max_loss) * best
        assert (
            s["baseline_townships_same_team_and_trip"] == s["baseline_townships_kept_by_held_plan"]
        )
    else:
        assert s["weighted_children_screened"] == best
    for record in held.manifest["programme_runs"]["screening_routes"]["models"].values():
        assert record["rules_checked"]


def test_a_plan_held_to_its_own_schedule_holds_every_visited_township(runs) -> None:
    """Each township of the baseline's schedule is held to its own team and trip block."""
    base = runs[0]
    assert base.scenario is not None and base.result.world is not None
    plan = build_plan(base.scenario, base.result.world)
    schedule = base.views_by_name["screening_routes"].tables["schedule"]
    keep = baseline_trips(plan, schedule)
    first = _first_visits(schedule).set_index("township_code")
    first_date = schedule.groupby(["team", "trip"])["date"].min()
    slots = plan.problem.calendar.trip_slots()
    codes = plan.towns["code"].astype(str)
    held = 0
    for part, k in zip(plan.part_of_stop, keep, strict=True):
        code = codes.iloc[part.row]
        if code not in first.index:
            assert k is None
            continue
        held += 1
        team, trip = first.loc[code, "team"], first.loc[code, "trip"]
        assert k is not None and plan.problem.teams[k[0]].name == team
        a, b = slots[k[1]]
        day = plan.dates.dates.index(pd.Timestamp(first_date[(team, trip)]).date())
        assert a <= day <= b
    assert held >= schedule["township_code"].nunique()


def test_the_fund_record_keeps_the_contract(runs) -> None:
    record = runs[2].manifest["programme_runs"]["employment_fund"]["models"]["stability"]

    numbers = {k: float(record[k]) for k in ("objective", "bound", "gap")}
    assert contract_problems(SimpleNamespace(**{**record, **numbers})) == []
