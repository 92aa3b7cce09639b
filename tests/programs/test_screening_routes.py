"""Tests of the child screening tours programme on the quick demo world."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from lnplan.errors import UnknownPlaceError
from lnplan.programs import ProgrammeOutput, screening_routes
from lnplan.scenario import load_scenario
from lnplan.world import build_world

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick():
    scenario = load_scenario(
        REPO / "scenarios" / "quick.toml",
        ["screening.time_limit_s=3", "screening.horizon_days=6", "screening.max_trip_days=3"],
    )
    return scenario, build_world(scenario)


@pytest.fixture(scope="module")
def output(quick, tmp_path_factory) -> ProgrammeOutput:
    scenario, world = quick
    return screening_routes.run(scenario, world, tmp_path_factory.mktemp("screening"))


def test_tables_add_up(output: ProgrammeOutput, quick) -> None:
    _, world = quick
    s, t = output.summary, output.tables
    awaiting = int(world.townships["children_8_14"].sum())
    assert s["engine"] == "ortools" and s["solution_checked"] is True
    assert s["children_awaiting"] == awaiting
    assert s["children_screened"] > 0
    assert t["schedule"]["children_screened"].sum() == s["children_screened"]
    assert t["teams"]["children_screened"].sum() == s["children_screened"]
    assert t["team_days"]["children_screened"].sum() == s["children_screened"]
    assert t["unscreened"]["children_left"].sum() == awaiting - s["children_screened"]
    # Per township, never more screened than awaiting.
    per = t["schedule"].groupby("township_code")["children_screened"].sum()
    have = world.townships.set_index(world.townships["code"].astype(str))["children_8_14"]
    assert (per <= have.loc[per.index]).all()


def test_trips_start_and_end_at_the_base(output: ProgrammeOutput) -> None:
    routes = output.layers["routes"]
    assert len(routes) == output.summary["trips"] > 0
    ends = {(round(g.coords[0][0], 6), round(g.coords[0][1], 6)) for g in routes.geometry}
    ends |= {(round(g.coords[-1][0], 6), round(g.coords[-1][1], 6)) for g in routes.geometry}
    assert len(ends) == 1  # one base
    days = output.tables["team_days"]
    last = days.groupby(["team", "trip"]).tail(1)
    assert set(last["overnight"]) == {output.summary["base"]}
    assert (days["hours_driven"] <= 8).all()
    sched = output.tables["schedule"]
    start = sched["start"].str.slice(0, 5)
    assert ((start >= "08:00") & (start <= "17:00")).all()


def test_layers_are_aggregates(output: ProgrammeOutput) -> None:
    for layer in output.layers.values():
        assert "household_id" not in layer.columns
        assert layer.crs is not None and layer.crs.to_epsg() == 4326
    assert np.isfinite(output.layers["routes"]["km"]).all()
    for name, col in (("unscreened", "children_left"), ("screened", "children_screened")):
        if name in output.layers:
            shown = output.layers[name][col].dropna()
            assert ((shown == 0) | (shown >= 5)).all(), f"{name}: counts 1-4 must be blanked"


def test_unknown_base_is_reported_with_suggestions(quick) -> None:
    _, world = quick
    with pytest.raises(UnknownPlaceError, match="沈阳市"):
        screening_routes.find_base("沈阳", world)


def test_calendar_and_preselection_follow_the_scenario(quick) -> None:
    scenario, world = quick
    sec = scenario.screening.model_copy(
        update={"day_start": dt.time(13, 0), "day_end": dt.time(21, 0), "lunch_min": 30}
    )
    cal = screening_routes._calendar(sec)
    assert (cal.day_start_s, cal.day_end_s, cal.lunch_s) == (13 * 3600, 21 * 3600, 1800)
    assert cal.day_start_s < cal.lunch_start_s < cal.day_end_s - cal.lunch_s  # mid-day, not 12:00
    towns = world.townships[world.townships["children_8_14"] > 0]
    offered = screening_routes.preselect(towns, scenario.screening)
    ceiling = (
        sec.n_teams
        * scenario.screening.horizon_days
        * scenario.screening.working_min_per_day
        / scenario.screening.min_per_child
    )
    assert offered["children_8_14"].sum() >= min(
        screening_routes.PRESELECT_FACTOR * ceiling, towns["children_8_14"].sum()
    )
    assert offered["children_8_14"].min() >= towns.drop(offered.index)["children_8_14"].max()
