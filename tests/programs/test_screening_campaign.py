"""Campaign settings of the screening tours (issue 14, "what a campaign needs"): blocked dates per
team, township visiting hours and gathering points. Each rule holds on the plan, and the
independent checker catches a table that breaks it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lnplan.errors import ScenarioError
from lnplan.programs import screening_routes
from lnplan.programs.screening_check import check_plan
from lnplan.scenario import load_scenario
from lnplan.world import build_world
from tests.programs.conftest import SMALL_CAMPAIGN

REPO = Path(__file__).resolve().parents[2]
SETTINGS = SMALL_CAMPAIGN


@pytest.fixture(scope="module")
def small(small_campaign):
    """The quick scenario with children in 25 townships of 沈阳市 only (tests/programs/conftest)."""
    return small_campaign


@pytest.fixture(scope="module")
def plain(small, tmp_path_factory):
    scenario, world = small
    return screening_routes.run(scenario, world, tmp_path_factory.mktemp("plain"))


def _with(scenario, **screening):
    return scenario.model_copy(
        update={"screening": scenario.screening.model_copy(update=screening)}
    )


def _problems(scenario, world, out, tabs=None):
    return check_plan(scenario, world, tabs or out.tables, out.summary)


# --- blocked dates per team ---------------------------------------------------------------------


def test_a_team_does_not_work_on_its_blocked_dates(small, plain, tmp_path) -> None:
    scenario, world = small
    worked = sorted(plain.tables["team_days"].query("team == '1队'")["date"])
    assert worked, "team 1 works in the plain plan"
    blocked = dt.date.fromisoformat(worked[0])
    sc = _with(scenario, team_blocked_dates={1: [blocked]})
    out = screening_routes.run(sc, world, tmp_path)
    assert _problems(sc, world, out) == []
    trips = out.tables["trips"]
    mine = trips[trips["team"] == "1队"]
    for _, t in mine.iterrows():
        assert not t["leave_date"] <= blocked.isoformat() <= t["return_date"]
    assert blocked.isoformat() not in set(out.tables["team_days"].query("team == '1队'")["date"])
    # the blocked team-day is not available
    assert out.summary["team_days_available"] == 2 * 5 - 1 == out.summary["team_days_blocked"] + 8
    # the plain plan, read against the blocked date, breaks the rule: the checker says so
    found = _problems(sc, world, plain)
    assert any("team_blocked_dates" in p and "1队" in p for p in found)


def test_the_bound_on_children_leaves_out_blocked_team_days() -> None:
    scenario = load_scenario(REPO / "scenarios" / "quick.toml", SETTINGS)
    world = build_world(scenario)
    sec = scenario.screening
    plain = screening_routes.build_plan(scenario, world)
    sc = _with(scenario, team_blocked_dates={1: [dt.date(2023, 9, 5), dt.date(2023, 9, 6)]})
    blocked = screening_routes.build_plan(sc, world)
    assert [t.blocked_days for t in blocked.problem.teams] == [(1, 2), ()]
    free, _ = screening_routes.upper_bound(plain, sec, n_teams=2, days=5)
    less, _ = screening_routes.upper_bound(blocked, sc.screening, n_teams=2, days=5)
    assert less < free
    assert less <= 8 * screening_routes.children_per_team_day(sec)


def test_team_blocked_dates_are_validated_with_the_team_and_date() -> None:
    path = REPO / "scenarios" / "quick.toml"
    with pytest.raises(ScenarioError, match=r"team 9 is not one of the teams 1\.\.4"):
        load_scenario(path, ['screening.team_blocked_dates={"9"=[2023-09-18]}'])
    with pytest.raises(ScenarioError, match="team 2: 2023-08-01 is before start_date"):
        load_scenario(path, ['screening.team_blocked_dates={"2"=[2023-08-01]}'])
    with pytest.raises(ScenarioError, match="team 2: 'next week' is not a date"):
        load_scenario(path, ['screening.team_blocked_dates={"2"=["next week"]}'])
    sc = load_scenario(path, ['screening.team_blocked_dates={"2"=[[2023-09-18, 2023-09-20]]}'])
    assert sc.screening.team_blocked_dates == {
        2: [dt.date(2023, 9, 18), dt.date(2023, 9, 19), dt.date(2023, 9, 20)]
    }


# --- visiting hours ------------------------------------------------------------------------------


def test_visits_start_within_the_visiting_hours(small, plain, tmp_path) -> None:
    scenario, world = small
    sc = _with(scenario, visiting_hours=["08:00-10:30"])
    out = screening_routes.run(sc, world, tmp_path)
    assert _problems(sc, world, out) == []
    sched = out.tables["schedule"]
    assert not sched.empty
    assert ((sched["start"] >= "08:00") & (sched["start"] <= "10:30")).all()
    # a visit moved into the afternoon is caught
    tabs = {k: v.copy() for k, v in out.tables.items()}
    tabs["schedule"].loc[tabs["schedule"].index[0], "start"] = "14:00"
    assert any("visiting hours" in p for p in _problems(sc, world, out, tabs))
    # the plain plan has afternoon starts: read against morning hours, it breaks the rule
    if (plain.tables["schedule"]["start"] > "10:30").any():
        assert any("visiting hours" in p for p in _problems(sc, world, plain))


def test_a_township_keeps_its_own_visiting_hours(small, tmp_path) -> None:
    scenario, world = small
    towns = world.townships[world.townships["children_8_14"] > 0]
    codes = [str(c) for c in towns["code"]]
    own = {c: ["13:00-15:00"] for c in codes[:10]}
    sc = _with(scenario, visiting_hours=["08:00-10:30"], visiting_hours_by_township=own)
    out = screening_routes.run(sc, world, tmp_path)
    assert _problems(sc, world, out) == []
    sched = out.tables["schedule"]
    theirs = sched["township_code"].astype(str).isin(own)
    assert ((sched.loc[theirs, "start"] >= "13:00") & (sched.loc[theirs, "start"] <= "15:00")).all()
    assert (sched.loc[~theirs, "start"] <= "10:30").all()


def test_visiting_hours_are_validated() -> None:
    path = REPO / "scenarios" / "quick.toml"
    with pytest.raises(ScenarioError, match="'8-11' is not visiting hours"):
        load_scenario(path, ['screening.visiting_hours=["8-11"]'])
    with pytest.raises(ScenarioError, match="township 210102001: '11:00-09:00' ends before"):
        load_scenario(path, ['screening.visiting_hours_by_township={"210102001"=["11:00-09:00"]}'])


def test_an_unknown_township_code_in_the_visiting_hours_is_named(small) -> None:
    from lnplan.errors import InputError

    scenario, world = small
    sc = _with(scenario, visiting_hours_by_township={"999999999": ["08:00-10:00"]})
    with pytest.raises(InputError, match="township code '999999999' is not a township"):
        screening_routes.build_plan(sc, world)


# --- gathering points ---------------------------------------------------------------------------


def test_gather_hosts_cover_the_most_children_first() -> None:
    """Four townships on a line, 3 km apart: the one that gathers the most children hosts."""
    import numpy as np

    from lnplan.programs.screening_routes import gather_hosts

    x = np.array([0.0, 3.0, 6.0, 9.0])
    km = np.abs(x[:, None] - x[None, :])
    children = np.array([1, 1, 10, 5])
    codes = ["a", "b", "c", "d"]
    # c sees 1 + 10 + 5 = 16 (b, c, d), more than b's 12: c hosts them; a is left alone
    assert gather_hosts(km, children, codes, 3.0).tolist() == [0, 2, 2, 2]
    # a tie (b and c both see 4): the lower code, b, hosts a, b, c; then d alone
    assert gather_hosts(km, np.array([2, 1, 1, 2]), codes, 3.0).tolist() == [1, 1, 1, 3]
    assert gather_hosts(km, children, codes, None).tolist() == [0, 1, 2, 3]
    assert gather_hosts(km, children, codes, 1.0).tolist() == [0, 1, 2, 3]


@pytest.fixture(scope="module")
def gathered(small, tmp_path_factory):
    scenario, world = small
    sc = _with(scenario, gather_km=6.0)
    return sc, screening_routes.run(sc, world, tmp_path_factory.mktemp("gather"))


def test_gathered_children_are_counted_at_a_host_within_gather_km(small, gathered, plain) -> None:
    _, world = small
    sc, out = gathered
    assert _problems(sc, world, out) == []
    g = out.tables["gathering"]
    assert not g.empty and (g["km_to_host"] <= 6.0).all()
    assert g["township_code"].is_unique
    sched = out.tables["schedule"]
    members = set(g.loc[g["host_code"] != g["township_code"], "township_code"])
    assert not members & set(sched["township_code"].astype(str))  # served at their host
    at_hosts = sched.groupby("township_code")["children_screened"].sum()
    counted = g.groupby("host_code")["children_screened"].sum()
    for host, n in counted.items():
        assert at_hosts.get(host, 0) == n
    # coverage counts every township's own children
    assert (
        out.tables["coverage_by_city"]["children_screened"].sum()
        == sched["children_screened"].sum()
    )
    brought = g[(g["host_code"] != g["township_code"]) & (g["children_screened"] > 0)]
    assert out.summary["townships_gathered"] == len(brought) > 0
    assert out.summary["townships_served"] > out.summary["townships_visited"]
    assert "gathering" not in plain.tables and "gather_km" not in plain.summary  # default


def test_the_checker_catches_a_host_too_far_and_a_wrong_count(small, gathered) -> None:
    _, world = small
    sc, out = gathered
    g = out.tables["gathering"]
    far = float(g["km_to_host"].max())
    assert far > 1.0
    # read against a smaller gather_km, the plan serves townships too far from their host
    closer = _with(sc, gather_km=far / 2)
    assert any("farther than gather_km" in p for p in _problems(closer, world, out))
    # a township counted at its host with a child more than the visits screened
    tabs = {k: v.copy() for k, v in out.tables.items()}
    row = tabs["gathering"].index[-1]
    tabs["gathering"].loc[row, "children_screened"] += 1
    assert any("the visits at" in p for p in _problems(sc, world, out, tabs))
    # a gathered township moved to a township far away, which no visit serves
    tabs = {k: v.copy() for k, v in out.tables.items()}
    codes = sorted(set(world.townships["code"].astype(str)) - set(g["township_code"]))
    tabs["gathering"].loc[row, "host_code"] = codes[-1]
    found = _problems(sc, world, out, tabs)
    assert any("farther than gather_km" in p for p in found)
    assert any(f"the visits at {codes[-1]}" in p for p in found)


def test_gather_km_is_validated() -> None:
    path = REPO / "scenarios" / "quick.toml"
    with pytest.raises(ScenarioError, match="gather_km"):
        load_scenario(path, ["screening.gather_km=0"])


def test_a_township_whose_hours_leave_no_time_is_listed_with_the_reason(small, tmp_path) -> None:
    scenario, world = small
    code = str(world.townships.loc[world.townships["children_8_14"] > 0, "code"].iloc[0])
    sc = _with(scenario, visiting_hours_by_township={code: ["16:45-17:00"]})
    out = screening_routes.run(sc, world, tmp_path)
    assert code not in set(out.tables["schedule"]["township_code"].astype(str))
    left = out.tables["unscreened"].set_index("township_code")
    assert "接待时间过晚" in left.loc[code, "reason"]
