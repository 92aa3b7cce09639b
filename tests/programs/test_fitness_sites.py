"""Tests of the fitness demonstration sites programme on the quick demo world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lnplan.errors import InputError
from lnplan.programs import ProgrammeOutput, fitness_sites
from lnplan.scenario import load_scenario
from lnplan.world import build_world

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick():
    scenario = load_scenario(REPO / "scenarios" / "quick.toml", ["sites.time_limit_s=5"])
    return scenario, build_world(scenario)


@pytest.fixture(scope="module")
def output(quick, tmp_path_factory) -> ProgrammeOutput:
    scenario, world = quick
    return fitness_sites.run(scenario, world, tmp_path_factory.mktemp("sites"))


def test_p_sites_with_city_minimums(output: ProgrammeOutput, quick) -> None:
    scenario, world = quick
    sites = output.tables["sites"]
    assert len(sites) == scenario.sites.p == output.summary["sites"]
    assert sites["candidate_id"].is_unique
    per_city = sites["city_code"].astype(str).value_counts()
    cities = world.candidates["city_code"].astype(str).unique()
    for city in cities:
        assert per_city.get(city, 0) >= scenario.sites.min_sites_per_city


def test_coverage_tables_add_up(output: ProgrammeOutput, quick) -> None:
    _, world = quick
    s = output.summary
    assert s["households"] == len(world.households)
    for name in ("coverage_by_city", "coverage_by_county"):
        t = output.tables[name]
        assert t["households"].sum() == s["households"]
        assert t["covered_households"].sum() == s["covered_households"]
        assert (t["covered_households"] <= t["households"]).all()
    assert output.tables["coverage_by_city"]["sites"].sum() == s["sites"]
    assert output.tables["sites"]["catchment_households"].sum() <= s["households"]
    assert s["status"] in ("optimal", "feasible")
    assert s["objective_value"] == pytest.approx(s["covered_households"])


def test_siting_model_record_keeps_the_contract(output: ProgrammeOutput) -> None:
    rec = output.models["siting"]
    assert rec["status"] in ("optimal", "feasible")
    assert rec["rules_checked"] is True
    assert rec["objective"] == pytest.approx(output.summary["objective_value"])
    if rec["status"] == "optimal":
        assert rec["proof"]


def test_capacity_budget_and_equity_from_the_scenario(quick, tmp_path) -> None:
    # 20 sites within 15 min: small enough that the capacitated MIP ends on its own (about 2 s;
    # the 120 s cap is only a safety net), so the answer is the same on any machine
    scenario, world = quick
    p = 20
    sec = scenario.sites.model_copy(
        update={
            "p": p,
            "travel_time_min": 15.0,
            "capacity_households": 100.0,
            "site_cost_yuan": 100_000.0,
            "budget_yuan": 100_000.0 * p,
            "equity": "floor",
            "equity_floor": 0.0,
            "min_sites_per_city": 0,
            "time_limit_s": 120.0,
        }
    )
    out = fitness_sites.run(scenario.model_copy(update={"sites": sec}), world, tmp_path)
    rec = out.models["siting"]
    assert rec["status"] in ("optimal", "feasible")
    assert rec["rules_checked"] is True
    sites = out.tables["sites"]
    assert len(sites) <= p  # the budget allows p sites at 100,000 yuan
    # no site is assigned more households than its capacity (without it the busiest gets 122)
    assert (sites["catchment_households"] >= 0).all()
    assert (sites["catchment_households"] <= 100.0 + 1e-6).all()
    assert rec["objective"] <= 100.0 * len(sites) + 1e-6


def test_scenario_budget_is_a_rule(quick, tmp_path) -> None:
    from lnplan.errors import InfeasibleError

    scenario, world = quick
    sec = scenario.sites.model_copy(
        update={"site_cost_yuan": 1.0, "budget_yuan": 0.0, "min_sites_per_city": 1}
    )
    with pytest.raises(InfeasibleError, match="budget"):
        fitness_sites.run(scenario.model_copy(update={"sites": sec}), world, tmp_path)


def test_catchments_are_service_areas_of_chosen_sites(output: ProgrammeOutput, quick) -> None:
    scenario, _ = quick
    catch = output.layers["catchments"]
    assert len(catch) > 0
    assert set(catch.geom_type) == {"Polygon"}
    assert set(catch["candidate_id"]) <= set(output.tables["sites"]["candidate_id"])
    assert catch["candidate_id"].is_unique
    assert (catch["catchment_households"] >= scenario.maps.min_cell_households).all()
    assert catch["catchment_households"].sum() <= output.summary["covered_households"]
    # Invariants of every answer (which sites get a catchment depends on the answer found): a
    # catchment holds no more households than its site serves in the sites table.
    shown = output.tables["sites"].set_index("candidate_id")["catchment_households"]
    mine = catch.set_index("candidate_id")["catchment_households"]
    assert (mine.to_numpy() <= shown.loc[mine.index].to_numpy()).all()


def test_layers_are_shareable(output: ProgrammeOutput, quick) -> None:
    scenario, _ = quick
    cells = output.layers["coverage"]
    assert "household_id" not in cells.columns
    assert (cells["households"] >= scenario.maps.min_cell_households).all()
    assert np.all(cells["covered"] <= cells["households"])
    assert len(output.layers["sites"]) == scenario.sites.p


@pytest.fixture(scope="module")
def with_existing(quick, tmp_path_factory):
    scenario, world = quick
    excluded = world.candidates["candidate_id"].astype(str).head(40).tolist()
    sec = scenario.sites.model_copy(
        update={
            "existing_kinds": ["county_rehab_centre"],
            "exclude_candidates": excluded,
            "max_sites_per_city": 8,
        }
    )
    scen = scenario.model_copy(update={"sites": sec})
    out = fitness_sites.run(scen, world, tmp_path_factory.mktemp("sites_existing"))
    return scen, world, excluded, out


def test_existing_facilities_stay_open_outside_p_and_quotas(with_existing) -> None:
    scenario, world, excluded, out = with_existing
    sites = out.tables["sites"]
    n_rehab = int((world.facilities["kind"] == "county_rehab_centre").sum())
    old = sites[sites["status"] == "existing"]
    new = sites[sites["status"] == "new"]
    assert len(old) == n_rehab == out.summary["existing_sites"]
    assert set(old["candidate_id"]) == set(
        world.facilities.loc[world.facilities["kind"] == "county_rehab_centre", "facility_id"]
    )
    assert len(new) == scenario.sites.p == out.summary["sites"]
    assert not set(new["candidate_id"]) & set(excluded)
    per_city = new["city_code"].astype(str).value_counts()
    assert per_city.max() <= 8
    for city in world.candidates["city_code"].astype(str).unique():
        assert per_city.get(city, 0) >= scenario.sites.min_sites_per_city
    by_city = out.tables["coverage_by_city"]
    assert by_city["sites"].sum() == len(new)
    assert by_city["existing_sites"].sum() == n_rehab
    s = out.summary
    assert 0 < s["covered_by_existing_households"] <= s["covered_households"]


def test_unknown_existing_kind_and_candidate_are_clear_errors(quick, tmp_path) -> None:
    scenario, world = quick
    bad = scenario.model_copy(
        update={"sites": scenario.sites.model_copy(update={"existing_kinds": ["gym"]})}
    )
    with pytest.raises(InputError, match=r"no facility of kind 'gym'.*'county_rehab_centre'"):
        fitness_sites.run(bad, world, tmp_path)
    bad = scenario.model_copy(
        update={"sites": scenario.sites.model_copy(update={"exclude_candidates": ["X1"]})}
    )
    with pytest.raises(InputError, match=r"unknown candidate_id 'X1'; ids look like 'C"):
        fitness_sites.run(bad, world, tmp_path)


def test_max_below_min_per_city_is_refused() -> None:
    with pytest.raises(ValueError, match="max_sites_per_city: 2 is below min_sites_per_city 3"):
        load_scenario(REPO / "scenarios" / "quick.toml", ["sites.max_sites_per_city=2"])


def test_pmedian_over_the_dense_limit_says_what_to_change(quick, tmp_path, monkeypatch) -> None:
    import lnplan.geo.travel as travel

    scenario, world = quick
    monkeypatch.setattr(travel, "MAX_DENSE_CELLS", 1_000)
    bad = scenario.model_copy(
        update={"sites": scenario.sites.model_copy(update={"objective": "pmedian"})}
    )
    with pytest.raises(
        InputError, match=r'over the limit of 1,000 pairs.*sites.demand = "township"'
    ):
        fitness_sites.run(bad, world, tmp_path)
