"""A small screening campaign shared by the screening tests: the quick scenario with two teams
at 沈阳市 over five working days and children in 25 of its townships only, on a work limit
(the same tours on any machine; the time limit is only a safety cap)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lnplan.scenario import load_scenario
from lnplan.world import build_world

QUICK = Path(__file__).resolve().parents[2] / "scenarios" / "quick.toml"

SMALL_CAMPAIGN = [
    "screening.n_teams=2",
    "screening.bases=['沈阳市']",
    "screening.max_iterations=30",
    "screening.time_limit_s=30",
    "screening.horizon_days=5",
    "screening.max_trip_days=3",
    "screening.min_share_by_city=0",
]


@pytest.fixture(scope="session")
def small_campaign():
    """(scenario, world): the small campaign, children in 25 townships of 沈阳市 only."""
    scenario = load_scenario(QUICK, SMALL_CAMPAIGN)
    world = build_world(scenario)
    towns = world.townships.copy()
    mask = (towns["city"] == "沈阳市") & (towns["children_8_14"] > 0)
    keep = towns.index[mask][:25]
    towns.loc[~towns.index.isin(keep), "children_8_14"] = 0
    return scenario, dataclasses.replace(world, townships=towns)
