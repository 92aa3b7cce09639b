"""Tests of the child screening tours programme on the quick demo world."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lnplan.errors import InfeasibleError, UnknownPlaceError
from lnplan.optimize.routing import SolveParams, split_children
from lnplan.programs import ProgrammeOutput, screening_routes
from lnplan.programs.screening_calendar import is_working_date
from lnplan.scenario import MatrixSource, load_scenario
from lnplan.world import build_world

REPO = Path(__file__).resolve().parents[2]
#: Work limit: the same tours on any machine (the time limit is only a safety cap).
FAST = [
    "screening.n_teams=2",
    "screening.time_limit_s=30",
    "screening.max_iterations=40",
    "screening.horizon_days=6",
    "screening.max_trip_days=3",
    "screening.min_share_by_city=0",
]


@pytest.fixture(scope="module")
def quick():
    scenario = load_scenario(REPO / "scenarios" / "quick.toml", FAST)
    return scenario, build_world(scenario)


@pytest.fixture(scope="module")
def output(quick, tmp_path_factory) -> ProgrammeOutput:
    scenario, world = quick
    return screening_routes.run(scenario, world, tmp_path_factory.mktemp("screening"))


def _with(scenario, **screening):
    return scenario.model_copy(
        update={"screening": scenario.screening.model_copy(update=screening)}
    )


def _small_world(world, keep: int = 12, *, city: str = "沈阳市", big: int | None = None):
    """The world with children only in ``keep`` townships of ``city`` (one with ``big``)."""
    towns = world.townships.copy()
    mask = (towns["city"] == city) & (towns["children_8_14"] > 0)
    chosen = towns.index[mask][:keep]
    towns["children_8_14"] = 0
    towns.loc[chosen, "children_8_14"] = world.townships.loc[chosen, "children_8_14"]
    if big is not None:
        towns.loc[chosen[0], "children_8_14"] = big
    return dataclasses.replace(world, townships=towns), chosen


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
    assert t["trips"]["children_screened"].sum() == s["children_screened"]
    assert t["unscreened"]["children_left"].sum() == awaiting - s["children_screened"]
    assert t["coverage_by_city"]["children_screened"].sum() == s["children_screened"]
    assert t["coverage_by_county"]["children_screened"].sum() == s["children_screened"]
    assert t["coverage_by_city"]["children_awaiting"].sum() == awaiting
    # Per township, never more screened than awaiting.
    per = t["schedule"].groupby("township_code")["children_screened"].sum()
    have = world.townships.set_index(world.townships["code"].astype(str))["children_8_14"]
    assert (per <= have.loc[per.index]).all()
    assert output.models["tours"]["engine"] == "ortools"


def test_summary_states_need_bound_and_gap(output: ProgrammeOutput) -> None:
    """Finding 3: the need in team-days and an upper bound on the children stand beside the plan."""
    s = output.summary
    assert s["team_days_available"] == s["teams"] * s["working_days"]
    assert s["team_days_needed"] > s["team_days_available"]  # the quick campaign is too small
    assert s["children_screened"] <= s["children_upper_bound"] <= s["children_awaiting"]
    assert 0 <= s["gap_children"] < 1
    # Capacity: examiners x working minutes, one set-up a day.
    sec = load_scenario(REPO / "scenarios" / "quick.toml", FAST).screening
    per_child_min = sec.min_per_child / sec.examiners_per_team
    assert s["children_per_team_day"] == int(
        (sec.working_min_per_day - sec.setup_min) // per_child_min
    )
    assert s["children_upper_bound"] <= s["team_days_available"] * s["children_per_team_day"]


def test_trips_start_and_end_at_their_team_bases(output: ProgrammeOutput, quick) -> None:
    scenario, world = quick
    bases = scenario.screening.bases
    assert len(set(bases)) > 1  # several bases in the demo
    names = [screening_routes.find_base(b, world).name for b in bases]
    trips = output.tables["trips"]
    for _, trip in trips.iterrows():
        k = int(trip["team"].rstrip("队")) - 1
        assert trip["base"] == names[k % len(names)]
    days = output.tables["team_days"]
    last = days.groupby(["team", "trip"]).tail(1)
    home = dict(zip(output.tables["teams"]["team"], output.tables["teams"]["base"], strict=True))
    assert (last["overnight"] == last["team"].map(home)).all()
    assert (days["hours_driven"] <= 8).all()
    sched = output.tables["schedule"]
    start = sched["start"].str.slice(0, 5)
    assert ((start >= "08:00") & (start <= "17:00")).all()


def test_every_table_carries_working_dates(output: ProgrammeOutput, quick) -> None:
    scenario, _ = quick
    first = scenario.screening.start_date
    for name in ("schedule", "team_days"):
        dates = pd.to_datetime(output.tables[name]["date"]).dt.date
        assert "day" not in output.tables[name].columns
        assert all(d >= first and is_working_date(d) for d in dates)
    trips = output.tables["trips"]
    for col in ("leave_date", "return_date"):
        assert all(is_working_date(d) for d in pd.to_datetime(trips[col]).dt.date)
    assert "first_date" in output.layers["routes"].columns


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


def test_calendar_follows_the_scenario(quick) -> None:
    scenario, _ = quick
    sec = scenario.screening.model_copy(
        update={"day_start": dt.time(13, 0), "day_end": dt.time(21, 0), "lunch_min": 30}
    )
    cal = screening_routes._calendar(sec)
    assert (cal.day_start_s, cal.day_end_s, cal.lunch_s) == (13 * 3600, 21 * 3600, 1800)
    assert cal.day_start_s < cal.lunch_start_s < cal.day_end_s - cal.lunch_s  # mid-day, not 12:00


def test_trip_blocks_and_rest_days_reach_the_calendar(quick) -> None:
    scenario, _ = quick
    assert screening_routes._calendar(scenario.screening).fixed_trip_blocks  # the default
    free = scenario.screening.model_copy(update={"trip_blocks": "free", "rest_days": 2})
    cal = screening_routes._calendar(free)
    assert not cal.fixed_trip_blocks and cal.rest_days == 2


def test_large_township_is_split_into_full_days() -> None:
    """Finding 1: 24 children at 16 a day were 12 + 12 (two half days that lose to 16-child
    townships); now a full day and a remainder."""
    assert split_children(24, 16) == [12, 12]  # the engine's equal split, kept for its users
    assert screening_routes.split_parts(24, 16) == [16, 8]
    assert screening_routes.split_parts(32, 16) == [16, 16]
    assert screening_routes.split_parts(5, 16) == [5]
    assert screening_routes.split_parts(5, 0) == []


def test_preselection_offers_the_best_value_not_the_largest(quick) -> None:
    """Finding 1: the offer used to be the largest townships, chosen only to be dropped."""
    scenario, world = quick
    plan = screening_routes.build_plan(scenario, world)
    offered = {p.key for p in plan.parts}
    best_left = max((p.value for p in plan.all_parts if p.key not in offered), default=0.0)
    assert all(p.value >= best_left for p in plan.parts if not p.floor)
    # Every visit-day but a township's last is a full day.
    sizes: dict[int, list[int]] = {}
    for p in plan.all_parts:
        sizes.setdefault(p.row, []).append(p.children)
    full = (plan.problem.calendar.work_per_day_s - plan.reach_s - 1800) // (
        screening_routes.per_child_s(scenario.screening)
    )
    for row, parts in sizes.items():
        assert all(c == full[row] for c in parts[:-1])


def test_split_visits_are_numbered_in_the_order_they_happen(quick, tmp_path) -> None:
    """Finding 1: split parts were visited as (2/2) before (1/2)."""
    scenario, world = quick
    small, _ = _small_world(world, keep=6, big=300)
    scenario = _with(scenario, n_teams=2, bases=["沈阳市"], max_iterations=30)
    out = screening_routes.run(scenario, small, tmp_path)
    sched = out.tables["schedule"]
    multi = sched[sched["visit"].str.contains(r"\(\d+/\d+\)")]
    assert not multi.empty  # 300 children need several visit-days
    for _, rows in multi.groupby("township_code"):
        rows = rows.sort_values(["date", "start"])
        k = rows["visit"].str.extract(r"\((\d+)/\d+\)")[0].astype(int).tolist()
        assert k == list(range(1, len(k) + 1))


def test_unreachable_township_is_listed_not_fatal(quick, tmp_path) -> None:
    """Finding 5: one township out of a day's reach aborted the run (exit 2)."""
    scenario, world = quick
    small, chosen = _small_world(world, keep=6)
    towns = small.townships.copy()
    far = towns.to_crs("EPSG:4326").geometry
    towns.loc[chosen[0], "geometry"] = (
        far.loc[[chosen[0]]].translate(xoff=12.0).to_crs(towns.crs).iloc[0]
    )
    small = dataclasses.replace(small, townships=towns)
    out = screening_routes.run(_with(scenario, max_iterations=20), small, tmp_path)
    left = out.tables["unscreened"].set_index("township_code")
    code = str(towns.loc[chosen[0], "code"])
    assert left.loc[code, "children_left"] == towns.loc[chosen[0], "children_8_14"]
    assert "车程过远" in left.loc[code, "reason"]
    assert out.summary["townships_out_of_reach"] == 1


def test_examiners_share_the_children(quick) -> None:
    scenario, _ = quick
    one = scenario.screening.model_copy(update={"examiners_per_team": 1})
    three = scenario.screening.model_copy(update={"examiners_per_team": 3})
    assert screening_routes.service_s(one, 30) == 30 * 60 + 30 * 20 * 60
    assert screening_routes.service_s(three, 30) == 30 * 60 + 30 * 20 * 60 // 3
    day = three.working_min_per_day - three.setup_min
    assert screening_routes.children_per_team_day(three) == day * 3 // 20
    assert screening_routes.children_per_team_day(one) == day // 20


def test_settings_reach_the_problem(quick, tmp_path) -> None:
    """Finding 4: the travel matrix, per-team bases and balance weight were ignored."""
    scenario, world = quick
    small, chosen = _small_world(world, keep=5)
    base = screening_routes.find_base("沈阳市", world)
    code = str(small.townships.loc[chosen[1], "code"])
    path = tmp_path / "matrix.csv"
    pd.DataFrame(
        {"origin_id": [base.facility_id], "destination_id": [code], "travel_time_min": [1.5]}
    ).to_csv(path, index=False)
    sc = _with(scenario, bases=["沈阳市", "大连市"], n_teams=3, balance_weight=0.5)
    sc = sc.model_copy(
        update={"data": sc.data.model_copy(update={"travel_matrix": MatrixSource(path=path)})}
    )
    plan = screening_routes.build_plan(sc, small)
    assert plan.problem.balance_weight == 0.5
    assert [t.base for t in plan.problem.teams] == [0, 1, 0]
    node = next(
        n for n, r in enumerate(plan.node_row) if r >= 0 and str(plan.towns["code"][r]) == code
    )
    assert plan.problem.travel_time_s[0, node] == 90


def test_priority_and_mountain_weights_raise_the_value(quick) -> None:
    scenario, world = quick
    plain = screening_routes.build_plan(scenario, world)
    weighted = screening_routes.build_plan(
        _with(scenario, priority_weight=3.0, mountain_weight=2.0), world
    )
    pri = plain.priority_codes
    w = {p.key: p.weight for p in weighted.all_parts}
    for p in plain.all_parts:
        town = plain.towns.iloc[p.row]
        expect = (3.0 if str(town["county_code"]) in pri else 1.0) * (
            2.0 if town["terrain"] == "mountain" else 1.0
        )
        assert w[p.key] == pytest.approx(expect)


def test_floors_that_cannot_be_met_are_explained(quick, tmp_path) -> None:
    scenario, world = quick
    with pytest.raises(InfeasibleError, match=r"floors cannot all be met.*at most"):
        screening_routes.run(_with(scenario, min_share_by_city=0.9), world, tmp_path)


def test_floors_are_offered_and_reported(quick, tmp_path) -> None:
    scenario, world = quick
    small, _ = _small_world(world, keep=8)
    sc = _with(scenario, min_share_by_city=0.5, n_teams=2, bases=["沈阳市"], max_iterations=30)
    out = screening_routes.run(sc, small, tmp_path)
    floors = out.tables["floors"].set_index("place")
    assert floors.loc["沈阳市", "children_needed"] == np.ceil(
        0.5 * small.townships["children_8_14"].sum()
    )
    assert out.summary["floors_met"] == bool(floors["met"].all())
    assert floors.loc["沈阳市", "met"] == (
        floors.loc["沈阳市", "children_screened"] >= floors.loc["沈阳市", "children_needed"]
    )


def test_sizing_returns_the_fewest_teams_with_the_reason(quick) -> None:
    """Finding 3: how many teams reach the target share by the deadline."""
    scenario, world = quick
    small, _ = _small_world(world, keep=10)
    sc = _with(
        scenario,
        bases=["沈阳市"],
        target_share=0.6,
        deadline=dt.date(2023, 9, 8),
        max_iterations=20,
        max_teams=6,
    )
    params = SolveParams(time_limit_s=30, seed=0, max_iterations=20)
    table, info = screening_routes.size_campaign(sc, small, params)
    assert info["working_days_left"] == 5
    assert info["teams_lower_bound"] >= 1
    if info["teams_needed"] is not None:
        n = info["teams_needed"]
        assert n >= info["teams_lower_bound"]
        assert info["binding"] in ("capacity", "driving")
        tried = table.set_index("teams")
        assert tried.loc[n, "reached"]
        if n - 1 in tried.index:
            assert not tried.loc[n - 1, "reached"]
    else:
        assert info["binding"] in ("days left", "search limit")
    assert (table["children_screened"] <= table["children_upper_bound"]).all()


@pytest.mark.parametrize("key", ["time_windows"])
def test_settings_the_tours_cannot_honour_are_refused_clearly(key) -> None:
    """Finding 4: settings were ignored without a word."""
    from lnplan.errors import ScenarioError

    with pytest.raises(ScenarioError, match=f"{key}: not supported yet"):
        load_scenario(REPO / "scenarios" / "quick.toml", [f"screening.{key}=1"])


def test_priority_county_floors_are_offered(quick) -> None:
    scenario, world = quick
    sc = _with(scenario, min_share_priority=0.3)
    plan = screening_routes.build_plan(sc, world)
    floors = screening_routes.check_floors_possible(plan, sc.screening)
    pri = [f for f in floors if f[0] == "priority county"]
    towns = plan.towns
    in_pri = towns["county_code"].astype(str).isin(plan.priority_codes)
    assert len(pri) == towns.loc[in_pri, "county"].nunique() > 0
    offered = {}
    for p in plan.parts:
        county = towns["county"].iloc[p.row]
        offered[county] = offered.get(county, 0) + p.children
    for _, county, need, have in pri:
        assert offered.get(county, 0) >= min(need, have)


def test_sizing_says_when_the_days_left_cannot_suffice(quick) -> None:
    scenario, world = quick
    sc = _with(scenario, target_share=1.0, deadline=dt.date(2023, 9, 4), max_teams=2)
    params = SolveParams(time_limit_s=30, seed=0, max_iterations=5)
    table, info = screening_routes.size_campaign(sc, world, params)
    assert info["working_days_left"] == 1
    assert info["teams_lower_bound"] is None and info["teams_needed"] is None
    assert info["binding"] == "days left" and table.empty


def test_a_township_out_of_reach_among_the_offer_is_left_out(quick, tmp_path, monkeypatch) -> None:
    """Finding 5: a township whose only near neighbour is not offered is out of a day's reach
    for the routing model (it measures the drive in among the places offered); it used to
    abort the run."""
    scenario, world = quick
    small, chosen = _small_world(world, keep=6)
    towns = small.townships.copy()
    wgs = towns.to_crs("EPSG:4326").geometry
    for i in chosen[:2]:  # a far-away pair: near each other, far from everything else
        towns.loc[i, "geometry"] = wgs.loc[[i]].translate(xoff=8.0).to_crs(towns.crs).iloc[0]
    small = dataclasses.replace(small, townships=towns)
    lonely = str(towns.loc[chosen[1], "code"])
    real = screening_routes.preselect

    def without_neighbour(parts, *args, **kwargs):
        return [p for p in real(parts, *args, **kwargs) if not p.key.startswith(lonely + "#")]

    monkeypatch.setattr(screening_routes, "preselect", without_neighbour)
    out = screening_routes.run(_with(scenario, max_iterations=20), small, tmp_path)
    left = out.tables["unscreened"].set_index("township_code")
    code = str(towns.loc[chosen[0], "code"])
    assert "车程过远" in left.loc[code, "reason"]
    assert left.loc[code, "children_left"] == towns.loc[chosen[0], "children_8_14"]
    assert "未纳入" in left.loc[lonely, "reason"]
