"""`lnplan run --check / --fresh`, `lnplan demo`, `lnplan compare` (programmes faked: fast)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import lnplan.api as api
from lnplan.cli import app
from lnplan.programs import ProgrammeOutput
from lnplan.scenario import Scenario
from tests.test_run import QUICK, fake_programme

runner = CliRunner()


def fake_sites(scenario: Scenario, world, out_dir: Path) -> ProgrammeOutput:  # type: ignore[no-untyped-def]
    p = scenario.sites.p  # type: ignore[union-attr]
    ids = sorted(world.candidates["candidate_id"].astype(str))[:p]
    table = pd.DataFrame({"candidate_id": ids, "name": ids, "kind": "park"})
    return ProgrammeOutput(name="fitness_sites", tables={"sites": table}, summary={"sites": p})


def test_run_check_lists_every_problem(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["run", str(QUICK), "--check"])
    assert ok.exit_code == 0, ok.output
    assert "OK, scenario 'quick'" in ok.stdout
    bad = tmp_path / "h.csv"
    bad.write_text("id,lon,lat\n1,abc,41.8\n1,41.8057,123.4315\n", encoding="utf-8")
    result = runner.invoke(
        app, ["run", str(QUICK), "--check", "--set", f'data.households.path="{bad}"']
    )
    assert result.exit_code == 2
    assert "data.households:" in result.stdout and "not a number" in result.stdout
    assert "duplicate id" in result.stdout
    assert "3 problems found" in result.stderr and "Traceback" not in result.output
    wrong = runner.invoke(app, ["run", str(QUICK), "--check", "--set", "sites.p=-1"])
    assert wrong.exit_code == 2 and "sites.p" in wrong.stderr


def test_run_reuses_then_fresh_solves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_programme(monkeypatch, fake_sites)
    out = tmp_path / "o"
    first = runner.invoke(app, ["run", str(QUICK), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert "fitness_sites:" in first.stdout or "fake_sites" in first.stdout
    again = runner.invoke(app, ["run", str(QUICK), "--out", str(out), "--fresh"])
    assert again.exit_code == 0, again.output
    assert "[solved" in again.stdout


def test_demo_prints_one_line_per_programme(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_programme(monkeypatch, fake_sites)
    monkeypatch.setattr(api, "DEMO_SCENARIO", QUICK)
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC DEMO DATA" in result.stdout
    lines = [line for line in result.stdout.splitlines() if line.startswith("fitness_sites:")]
    assert len(lines) == 1 and "[solved" in lines[0]
    assert (tmp_path / "d" / "run.json").is_file()


def test_compare_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_programme(monkeypatch, fake_sites)
    for name, p in (("a", 80), ("b", 82)):
        args = ["run", str(QUICK), "--out", str(tmp_path / name), "--set", f"sites.p={p}"]
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output
    result = runner.invoke(
        app, ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "c")]
    )
    assert result.exit_code == 0, result.output
    assert "新增 2 个，撤销 0 个，保留 80 个" in result.stdout
    assert (tmp_path / "c" / "comparison.xlsx").is_file()
    missing = runner.invoke(app, ["compare", str(tmp_path), str(tmp_path / "b")])
    assert missing.exit_code == 2 and "not an lnplan run folder" in missing.stderr
