"""Tests of the fitness demonstration sites programme on the quick demo world."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
    assert s["status"] in ("optimal", "time_limit", "feasible")
    assert s["objective_value"] == pytest.approx(s["covered_households"])


def test_layers_are_shareable(output: ProgrammeOutput, quick) -> None:
    scenario, _ = quick
    cells = output.layers["coverage"]
    assert "household_id" not in cells.columns
    assert (cells["households"] >= scenario.maps.min_cell_households).all()
    assert np.all(cells["covered"] <= cells["households"])
    assert len(output.layers["sites"]) == scenario.sites.p
