"""`lnplan run` / `lnplan world` and lnplan.run: outputs whole or not at all, aggregates only."""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

import lnplan.programs as programs
from lnplan.cli import app
from lnplan.errors import InputError, LnplanError
from lnplan.programs import ProgrammeOutput
from lnplan.run import MARKER, atomic_output_dir, run_scenario
from lnplan.scenario import Scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "scenarios" / "quick.toml"
runner = CliRunner()


def fake_programme(monkeypatch: pytest.MonkeyPatch, run) -> None:  # type: ignore[no-untyped-def]
    module = types.ModuleType("lnplan_fake_sites")
    module.__spec__ = importlib.machinery.ModuleSpec("lnplan_fake_sites", None)
    module.NAME = "fake_sites"  # type: ignore[attr-defined]
    module.SECTION = "sites"  # type: ignore[attr-defined]
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lnplan_fake_sites", module)
    monkeypatch.setattr(programs, "PROGRAMMES", ("lnplan_fake_sites",))


def layers_of(path: Path) -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(path, layer=name) for name, _ in pyogrio.list_layers(path)}


def test_run_without_programmes_writes_scenario_and_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(programs, "PROGRAMMES", ())  # as if no programme were installed
    out = tmp_path / "demo"
    result = runner.invoke(app, ["run", str(QUICK), "--out", str(out), "--set", "seed=3"])
    assert result.exit_code == 0, result.output
    assert "enabled but no programme" in result.stdout
    resolved = json.loads((out / "scenario.json").read_text(encoding="utf-8"))
    assert resolved["seed"] == 3 and resolved["sites"]["p"] == 80
    summary = pd.read_csv(out / "world_summary.csv", dtype={"city_code": str})
    assert len(summary) == 15 and summary["townships"].iloc[-1] == 1354
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert manifest["synthetic"] is True and manifest["programmes"] == []
    assert set(manifest["enabled_without_programme"]) == {"sites", "funding", "screening"}
    assert (out / MARKER).is_file()
    assert not list(tmp_path.glob(".demo.*"))  # no temporary folder left


def test_run_outputs_only_aggregates(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run_scenario(load_scenario(QUICK), out)
    layers = layers_of(out / "world" / "world.gpkg")
    assert set(layers) == {
        "townships",
        "candidates",
        "facilities",
        "county_indicators",
        "household_cells",
    }
    for name, layer in layers.items():
        assert "household_id" not in layer.columns, name
    assert "households" not in layers["townships"].columns
    assert layers["household_cells"]["households"].min() >= 5
    children = layers["townships"]["children_8_14"].dropna()
    assert ((children == 0) | (children >= 5)).all()
    assert not (out / "private").exists()


def test_run_with_a_programme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(scenario: Scenario, world, out_dir: Path) -> ProgrammeOutput:  # type: ignore[no-untyped-def]
        assert out_dir.is_dir()
        table = pd.DataFrame({"p": [scenario.sites.p], "candidates": [len(world.candidates)]})  # type: ignore[union-attr]
        return ProgrammeOutput(
            name="fake_sites", tables={"chosen": table}, summary={"p": scenario.sites.p}
        )  # type: ignore[union-attr]

    fake_programme(monkeypatch, run)
    out = tmp_path / "o"
    result = run_scenario(load_scenario(QUICK, ["sites.p=12"]), out)
    assert [o.name for o in result.outputs] == ["fake_sites"]
    assert result.missing_sections == ("funding", "screening")
    chosen = pd.read_csv(out / "fake_sites" / "chosen.csv")
    assert chosen["p"].iloc[0] == 12
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert manifest["summaries"]["fake_sites"] == {"p": 12}


def test_disabled_section_does_not_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(*args: object) -> ProgrammeOutput:
        raise AssertionError("must not run")

    fake_programme(monkeypatch, run)
    result = run_scenario(load_scenario(QUICK, ["sites.enabled=false"]), tmp_path / "o")
    assert result.outputs == ()


def test_failed_run_leaves_previous_output_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    run_scenario(load_scenario(QUICK), out)
    before = (out / "scenario.json").read_bytes()

    def run(*args: object) -> ProgrammeOutput:
        raise LnplanError("solver exploded")

    fake_programme(monkeypatch, run)
    with pytest.raises(LnplanError, match="solver exploded"):
        run_scenario(load_scenario(QUICK, ["seed=1"]), out)
    assert (out / "scenario.json").read_bytes() == before
    assert not list(tmp_path.glob(".o.*"))


def test_programme_layer_with_households_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(scenario: Scenario, world, out_dir: Path) -> ProgrammeOutput:  # type: ignore[no-untyped-def]
        return ProgrammeOutput(name="fake_sites", layers={"leak": world.households})

    fake_programme(monkeypatch, run)
    with pytest.raises(LnplanError, match="has household rows; only aggregates"):
        run_scenario(load_scenario(QUICK), tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_refuses_to_replace_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")
    with (
        pytest.raises(InputError, match="non-empty folder not written by lnplan"),
        atomic_output_dir(tmp_path),
    ):
        pass
    result = runner.invoke(app, ["run", str(QUICK), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "not written by lnplan" in result.output
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep me"


def test_run_bad_override_exits_2_without_traceback(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["run", str(QUICK), "--out", str(tmp_path / "o"), "--set", "funding.budget_yuan=-5"]
    )
    assert result.exit_code == 2
    assert "funding.budget_yuan" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_world_command_writes_private_households_apart(tmp_path: Path) -> None:
    out = tmp_path / "w"
    result = runner.invoke(
        app, ["world", "--seed", "2", "--out", str(out), "--scenario", str(QUICK)]
    )
    assert result.exit_code == 0, result.output
    assert "沈阳市" in result.stdout and "do not share" in result.stdout
    private = layers_of(out / "private" / "households.gpkg")["households"]
    assert private["household_id"].is_unique and private["synthetic"].all()
    assert "DO NOT SHARE" in (out / "private" / "README.txt").read_text(encoding="utf-8")
    for name, layer in layers_of(out / "world.gpkg").items():
        assert "household_id" not in layer.columns, name


def test_world_set_needs_scenario(tmp_path: Path) -> None:
    result = runner.invoke(app, ["world", "--out", str(tmp_path / "w"), "--set", "seed=1"])
    assert result.exit_code == 2 and "--set needs --scenario" in result.output
