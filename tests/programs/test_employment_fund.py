from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lnplan.errors import InputError, LayerValidationError, LnplanError
from lnplan.optimize.result import STATUSES
from lnplan.programs import ProgrammeOutput, available
from lnplan.programs import employment_fund as ef
from lnplan.scenario import load_scenario
from lnplan.world import build_world

QUICK = Path(__file__).resolve().parents[2] / "scenarios" / "quick.toml"


@pytest.fixture(scope="module")
def scenario_world():
    sc = load_scenario(QUICK)
    return sc, build_world(sc)


@pytest.fixture(scope="module")
def output(scenario_world, tmp_path_factory) -> ProgrammeOutput:
    sc, world = scenario_world
    return ef.run(sc, world, tmp_path_factory.mktemp("fund"))


def test_registered():
    assert ef in available()
    assert ef.SECTION == "funding"


def test_allocation_spends_budget_on_priority_counties(scenario_world, output):
    sc, world = scenario_world
    alloc = output.tables["allocation"]
    pri = world.county_indicators[world.county_indicators["priority"]]
    assert set(alloc["county_code"]) == set(pri["county_code"])
    assert alloc["amount_yuan"].sum() == sc.funding.budget_yuan
    assert (alloc["amount_yuan"] % sc.funding.unit_yuan == 0).all()
    assert output.summary["status"] == "optimal"
    # need follows the scenario's weights
    w = sc.funding.need_weights
    row = pri.iloc[0]
    want = sum(float(v) * row[k] for k, v in w.items())
    got = alloc.loc[alloc["county_code"] == row["county_code"], "need"].iloc[0]
    assert got == pytest.approx(want)


def test_allocation_model_record(output):
    rec = output.models["allocation"]
    assert rec["status"] == output.summary["status"]
    assert rec["status"] in ("optimal", "feasible")
    assert rec["rules_checked"] is True
    assert rec["proof"] in ("CP-SAT search", "exact threshold in rational arithmetic")
    assert rec["objective"] == pytest.approx(output.summary["objective_value"])
    assert rec["gap"] >= 0
    assert {"branches", "conflicts", "deterministic_time", "wall_time_s"} <= set(rec["work"])


def test_no_allocation_within_the_work_limit_names_the_setting(scenario_world, tmp_path):
    # a work limit of 1e-9 deterministic seconds stops CP-SAT before any allocation
    _, world = scenario_world
    sc = load_scenario(QUICK, ["funding.deterministic_time_s=1e-9"])
    with pytest.raises(LnplanError, match=r"funding\.deterministic_time_s") as err:
        ef.run(sc, world, tmp_path)
    assert "infeasible" not in str(err.value)


def test_sensitivity_21_points(scenario_world, output):
    sc, _ = scenario_world
    sens = output.tables["sensitivity"]
    assert len(sens) == 2 * ef.SWEEP_POINTS_EACH_SIDE + 1
    assert sens["budget_yuan"].iloc[ef.SWEEP_POINTS_EACH_SIDE] == sc.funding.budget_yuan
    assert set(sens["status"]) <= set(STATUSES)
    counties = [
        c for c in sens.columns if c not in ("budget_yuan", "status", "objective", "bound", "gap")
    ]
    ok = sens["status"] == "optimal"
    assert (sens.loc[ok, counties].sum(axis=1) == sens.loc[ok, "budget_yuan"]).all()


def test_targets_apportioned_exactly(scenario_world, output):
    sc, _ = scenario_world
    targets = sc.targets()
    by_city = output.tables["targets_by_city"]
    by_county = output.tables["targets_by_county"]
    for key in ef.APPORTION_TARGETS:
        want = sc.funding.jobs_target if key == "new_jobs_per_year" else targets.value(key)
        assert by_city[key].sum() == want
        assert by_county[key].sum() == want
        per_city = by_county.groupby("city_code")[key].sum()
        assert (per_city.reindex(by_city["city_code"]).to_numpy() == by_city[key]).all()


def test_outputs_are_aggregates(output):
    for table in output.tables.values():
        assert "household_id" not in table.columns
    layer = output.layers["fund_by_county"]
    assert layer.crs is not None
    assert layer.attrs["value_column"] == "amount_yuan"
    assert len(layer) == len(output.tables["allocation"])


def test_jobs_objective_with_assumed_curves(scenario_world, tmp_path):
    _, world = scenario_world
    sc = load_scenario(QUICK, ["funding.objective=jobs"])
    out = ef.run(sc, world, tmp_path)
    alloc = out.tables["allocation"]
    assert alloc["amount_yuan"].sum() == sc.funding.budget_yuan
    assert alloc["expected_jobs"].sum() > 0
    assert "assumed" in out.summary["effect_curves"]


def test_effect_curves_diminishing():
    (c,) = ef.effect_curves([40], budget_yuan=1000, jobs_target=10)
    slopes = np.diff([0, *c.jobs]) / np.diff([0, *c.breakpoints_yuan])
    assert (np.diff(slopes) < 0).all()
    assert c.jobs[-1] == pytest.approx(40)
    assert slopes[0] == pytest.approx(10 / 1000)


def test_county_need_missing_indicator():
    with pytest.raises(InputError, match="county indicators lack nope"):
        ef.county_need(pd.DataFrame({"a": [1]}), {"nope": 1.0})


def test_sweep_budgets():
    b = ef.sweep_budgets(35_000_000, 10_000)
    assert b[0] == 25_000_000 and b[-1] == 45_000_000 and len(b) == 21


def test_read_need_table_gbk_and_blank_bounds(tmp_path):
    f = tmp_path / "n.csv"
    f.write_text("区县,需求,下限,上限\n沈河区,1.5,,100\n和平区,2,5,\n", encoding="gbk")
    t = ef.read_need_table(f, valid_names={"沈河区", "和平区"})
    assert t.names == ("沈河区", "和平区")
    assert t.need.tolist() == [1.5, 2.0]
    assert t.floor_yuan is not None and t.floor_yuan.tolist() == [0.0, 5.0]
    assert t.cap_yuan is not None and t.cap_yuan.tolist() == [100.0, np.inf]


def test_read_need_table_floor_above_cap(tmp_path):
    f = tmp_path / "n.csv"
    f.write_text("county,need,floor_yuan,cap_yuan\nA,1,500,100\n", encoding="utf-8")
    with pytest.raises(LayerValidationError, match=r"row 2, column 'floor_yuan': floor is above"):
        ef.read_need_table(f)


def test_read_weight_table_thousands_separator(tmp_path):
    f = tmp_path / "w.csv"
    f.write_text('name,weight\nA,"1,000"\nB,500\n', encoding="utf-8")
    t = ef.read_weight_table(f)
    assert t.weights.tolist() == [1000.0, 500.0]
    assert t.floors is None and t.caps is None


def test_read_weight_table_unsupported_type(tmp_path):
    f = tmp_path / "w.shp"
    f.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"unsupported file type '.shp'"):
        ef.read_weight_table(f)
