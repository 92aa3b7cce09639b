"""The public API: load_scenario/run/compare, the per-programme cache, the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

import lnplan
import lnplan.programs as programs
from lnplan import cache
from lnplan.errors import LnplanError, ScenarioError
from lnplan.programs import ProgrammeOutput
from lnplan.scenario import Scenario
from tests.test_run import QUICK, fake_programme

#: The quick scenario with its searches made short (tests assert invariants, not answers); the
#: screening ends on its work limits (ruin and recreate, 50 solutions a round) before its cap.
FAST = {"sites.time_limit_s": 3.0, "screening.time_limit_s": 20.0, "screening.max_iterations": 50}


def folder_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[lnplan.Plan, lnplan.Plan, Path]:
    """Run A (quick), then B = A with a larger budget into the same folder."""
    cache.clear_memory()
    out = tmp_path_factory.mktemp("runs") / "plan"
    a = lnplan.run(lnplan.load_scenario(QUICK, set=FAST), out, progress=False)
    a_copy = out.parent / "a"
    import shutil

    shutil.copytree(out, a_copy)
    cache.clear_memory()  # B must reuse from the run folder, not from memory
    budget = a.scenario.funding.budget_yuan + 2_000_000  # type: ignore[union-attr]
    b = lnplan.run(
        lnplan.load_scenario(QUICK, set={**FAST, "funding.budget_yuan": budget}),
        out,
        progress=False,
    )
    return a, b, a_copy


def test_load_scenario_takes_python_values() -> None:
    scn = lnplan.load_scenario(
        QUICK, set={"funding.budget_yuan": 40_000_000, "screening.base": "大连市", "seed": 3}
    )
    assert scn.funding.budget_yuan == 40_000_000  # type: ignore[union-attr]
    assert scn.screening.base == "大连市"  # type: ignore[union-attr]
    assert scn.seed == 3
    with pytest.raises(ScenarioError, match=r"funding\.budget_yuan"):
        lnplan.load_scenario(QUICK, set={"funding.budget_yuan": -1})


def test_budget_change_resolves_the_fund_alone(two_runs) -> None:  # type: ignore[no-untyped-def]
    a, b, _ = two_runs
    runs_a = a.manifest["programme_runs"]
    runs_b = b.manifest["programme_runs"]
    assert {r["outcome"] for r in runs_a.values()} == {"solved"}
    assert runs_b["employment_fund"]["outcome"] == "solved"
    for name in ("fitness_sites", "screening_routes"):
        assert runs_b[name]["outcome"] == "reused"
        assert runs_b[name]["reused_from"] == str(b.out_dir)
        assert runs_b[name]["key"] == runs_a[name]["key"]
    assert runs_b["employment_fund"]["key"] != runs_a["employment_fund"]["key"]
    pd.testing.assert_frame_equal(a.sites.table, b.sites.table)
    assert b.fund.table["amount_yuan"].sum() == a.fund.table["amount_yuan"].sum() + 2_000_000


def test_plan_views_have_explicit_crs_and_maps(two_runs) -> None:  # type: ignore[no-untyped-def]
    a, _, _ = two_runs
    sites = a.sites.table
    assert isinstance(sites, gpd.GeoDataFrame) and sites.crs == "EPSG:4326"
    assert sites.geometry.notna().all() and len(sites) == a.scenario.sites.p  # type: ignore[union-attr]
    assert {"team", "township_code", "date"} <= set(a.screening.schedule.columns)
    assert a.fund.table["amount_yuan"].sum() == a.scenario.funding.budget_yuan  # type: ignore[union-attr]
    for layer in a.sites.layers.values():
        assert layer.crs is not None
    fmap = a.fund.map()
    assert "<html" in fmap.get_root().render().lower()
    with pytest.raises(AttributeError, match="no attribute or table"):
        _ = a.sites.no_such_table


def test_manifest_records_inputs_environment_and_models(two_runs) -> None:  # type: ignore[no-untyped-def]
    _, b, _ = two_runs
    manifest = json.loads((b.out_dir / "run.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == b.scenario.seed
    assert manifest["resolved_scenario"]["funding"]["budget_yuan"] == (
        b.scenario.funding.budget_yuan  # type: ignore[union-attr]
    )
    townships = manifest["inputs"]["data.townships"]
    assert townships["sha256"] == hashlib.sha256(Path(townships["path"]).read_bytes()).hexdigest()
    assert "boundaries/counties.geojson" in manifest["inputs"]
    assert manifest["environment"]["packages"]["lnplan"] == lnplan.__version__
    assert manifest["environment"]["python"].count(".") == 2
    for record in manifest["programme_runs"].values():
        assert len(record["key"]) == 64 and isinstance(record["models"], dict)


def test_fresh_solves_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def run(scenario: Scenario, world, out_dir: Path) -> ProgrammeOutput:  # type: ignore[no-untyped-def]
        calls.append(1)
        return ProgrammeOutput(name="fake_sites", tables={"t": pd.DataFrame({"x": [1]})})

    fake_programme(monkeypatch, run)
    scn = lnplan.load_scenario(QUICK)
    lnplan.run(scn, tmp_path / "o", progress=False)
    plan = lnplan.run(scn, tmp_path / "o", fresh=True, progress=False)
    assert len(calls) == 2
    assert plan.manifest["programme_runs"]["fake_sites"]["outcome"] == "solved"


def test_compare_runs(two_runs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b, a_copy = two_runs
    comparison = lnplan.compare(a_copy, b.out_dir, out=tmp_path / "cmp")
    s = comparison.summary
    assert s["sites_added"] == s["sites_removed"] == 0
    assert s["sites_kept"] == a.scenario.sites.p  # type: ignore[union-attr]
    assert s["yuan_added"] - s["yuan_removed"] == 2_000_000
    assert comparison.fund_by_county["change_yuan"].sum() == 2_000_000
    assert s["townships_moved"] == 0 and s["covered_households_change"] == 0
    assert (tmp_path / "cmp" / "comparison.xlsx").is_file()
    assert (tmp_path / "cmp" / "comparison.html").is_file()
    sheets = pd.read_excel(tmp_path / "cmp" / "comparison.xlsx", sheet_name=None)
    assert {"summary", "sites_added", "fund_by_county", "teams"} <= set(sheets)
    # The same view from plans in memory.
    same = lnplan.compare(a, b)
    assert same.summary == s


def test_compare_sites_added_and_removed() -> None:
    from lnplan.compare import RunTables, compare_tables

    def sites(ids: list[str]) -> RunTables:
        table = pd.DataFrame(
            {"candidate_id": ids, "name": ids, "kind": "park", "county_code": "210102",
             "city_code": "210100"}
        )  # fmt: skip
        return RunTables(name="x", tables={"fitness_sites": {"sites": table}})

    result = compare_tables(sites(["A", "B", "C"]), sites(["B", "C", "D", "E"]))
    assert list(result.sites_added["candidate_id"]) == ["D", "E"]
    assert list(result.sites_removed["candidate_id"]) == ["A"]
    assert result.sites_kept == 2


def test_compare_refuses_a_folder_without_a_run(tmp_path: Path) -> None:
    with pytest.raises(LnplanError, match="not an lnplan run folder"):
        lnplan.compare(tmp_path, tmp_path)


def test_run_failing_part_way_leaves_previous_folder_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    def ok(scenario: Scenario, world, out_dir: Path) -> ProgrammeOutput:  # type: ignore[no-untyped-def]
        return ProgrammeOutput(
            name="fake_sites", tables={"t": pd.DataFrame({"x": [scenario.seed]})}
        )

    def boom(scenario: Scenario, world, out_dir: Path) -> ProgrammeOutput:  # type: ignore[no-untyped-def]
        raise LnplanError("fund solver exploded")

    fake_programme(monkeypatch, ok)
    fund = types.ModuleType("lnplan_fake_fund")
    fund.NAME, fund.SECTION, fund.run = "fake_fund", "funding", boom  # type: ignore[attr-defined]
    import importlib.machinery

    fund.__spec__ = importlib.machinery.ModuleSpec("lnplan_fake_fund", None)
    monkeypatch.setitem(sys.modules, "lnplan_fake_fund", fund)
    out = tmp_path / "o"
    monkeypatch.setattr(programs, "PROGRAMMES", ("lnplan_fake_sites",))
    lnplan.run(lnplan.load_scenario(QUICK), out, progress=False)
    before = folder_digest(out)
    monkeypatch.setattr(programs, "PROGRAMMES", ("lnplan_fake_sites", "lnplan_fake_fund"))
    with pytest.raises(LnplanError, match="fund solver exploded"):
        lnplan.run(lnplan.load_scenario(QUICK, set={"seed": 9}), out, progress=False)
    assert folder_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_programme_key_follows_what_the_programme_reads() -> None:
    base = lnplan.load_scenario(QUICK)
    keys = {n: cache.programme_key(base, n) for n in cache.SECTION_OF}

    def changed(overrides: dict) -> set[str]:
        scn = lnplan.load_scenario(QUICK, set=overrides)
        return {n for n in cache.SECTION_OF if cache.programme_key(scn, n) != keys[n]}

    assert changed({"funding.budget_yuan": 40_000_000}) == {"employment_fund"}
    assert changed({"sites.p": 82}) == {"fitness_sites"}
    assert changed({"screening.n_teams": 5}) == {"screening_routes"}
    assert changed({"seed": 8}) == set(cache.SECTION_OF)
    assert changed({"travel.plain.speed_kph": 50.0}) == set(cache.SECTION_OF)
    assert changed({"name": "renamed", "output.folder": "elsewhere"}) == set()
    assert cache.programme_key(base, "sites") == keys["fitness_sites"]
    with pytest.raises(KeyError, match="unknown programme"):
        cache.programme_key(base, "nothing")


def test_programme_key_follows_input_file_contents(tmp_path: Path) -> None:
    import shutil

    scn = lnplan.load_scenario(QUICK)
    terrain = tmp_path / "terrain.csv"
    shutil.copy(scn.data.county_terrain, terrain)
    one = lnplan.load_scenario(QUICK, set={"data.county_terrain": str(terrain)})
    assert cache.programme_key(one, "funding") == cache.programme_key(scn, "funding")
    terrain.write_text(terrain.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    two = lnplan.load_scenario(QUICK, set={"data.county_terrain": str(terrain)})
    assert cache.programme_key(two, "funding") != cache.programme_key(scn, "funding")


def test_progress_callable_sees_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(programs, "PROGRAMMES", ())
    seen: list[tuple[str, int, int]] = []
    lnplan.run(lnplan.load_scenario(QUICK), tmp_path / "o", progress=lambda *a: seen.append(a))
    assert [s[0] for s in seen] == ["building the world", "writing outputs", "done"]
    assert [s[1] for s in seen] == [0, 1, 2] and {s[2] for s in seen} == {2}


def test_baseline_keeps_sites_within_the_loss(tmp_path: Path) -> None:
    only_sites = {"funding.enabled": False, "screening.enabled": False, "sites.time_limit_s": 2.0}
    base = lnplan.run(lnplan.load_scenario(QUICK, set=only_sites), tmp_path / "a", progress=False)
    scn = lnplan.load_scenario(QUICK, set={**only_sites, "sites.p": 82})
    plan = lnplan.run(scn, tmp_path / "b", baseline=base.out_dir, progress=False)
    s = plan.sites.summary
    assert s["baseline_sites"] == 80 and len(plan.sites.table) == 82
    # Every answer keeps at least what the best plan keeps anyway, and loses at most max_loss.
    assert s["baseline_sites_kept"] >= s["baseline_sites_kept_by_best_plan"]
    assert s["stability_cost"] <= scn.stability.max_loss + 1e-9
    assert s["baseline_sites_kept"] + s["baseline_sites_removed"] == 80
    ids = set(plan.sites.table["candidate_id"])
    assert len(ids & set(base.sites.table["candidate_id"])) == s["baseline_sites_kept"]
    assert plan.manifest["baseline"]["lines"][0].startswith("fitness_sites: kept")
    assert plan.manifest["programme_runs"]["fitness_sites"]["outcome"] == "solved"


def test_keep_candidates_are_chosen(tmp_path: Path) -> None:
    only_sites = {"funding.enabled": False, "screening.enabled": False, "sites.time_limit_s": 2.0}
    scn = lnplan.load_scenario(QUICK, set=only_sites)
    world_ids = lnplan.run(scn, progress=False).result.world.candidates["candidate_id"]  # type: ignore[union-attr]
    keep = sorted(world_ids.astype(str))[:5]
    plan = lnplan.run(
        lnplan.load_scenario(QUICK, set={**only_sites, "sites.keep_candidates": keep}),
        progress=False,
    )
    assert set(keep) <= set(plan.sites.table["candidate_id"])
    assert len(plan.sites.table) == scn.sites.p  # type: ignore[union-attr]


def test_baseline_is_not_bypassed_by_a_cached_plain_answer(tmp_path: Path) -> None:
    only_sites = {"funding.enabled": False, "screening.enabled": False, "sites.time_limit_s": 2.0}
    base = lnplan.run(lnplan.load_scenario(QUICK, set=only_sites), tmp_path / "a", progress=False)
    scn = lnplan.load_scenario(QUICK, set={**only_sites, "sites.p": 81})
    lnplan.run(scn, tmp_path / "plain", progress=False)  # the plain answer is now in memory
    held = lnplan.run(scn, tmp_path / "held", baseline=base.out_dir, progress=False)
    assert held.manifest["programme_runs"]["fitness_sites"]["outcome"] == "solved"
    assert "baseline_sites_kept_by_best_plan" in held.sites.summary
    same = lnplan.run(base.scenario, tmp_path / "same", baseline=base.out_dir, progress=False)
    assert same.manifest["programme_runs"]["fitness_sites"]["outcome"] == "reused"
    assert same.manifest["programme_runs"]["fitness_sites"]["reused_from"] == str(base.out_dir)
    assert same.sites.summary["baseline_sites_kept"] == 80
