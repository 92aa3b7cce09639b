"""The command line: exit codes, messages without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lnplan import __version__
from lnplan.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_validate_clean_file_exits_0(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text(
        "编号,经度,纬度,户数\n1,123.4315,41.8057,2\n2,121.6147,38.914,3\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["validate", str(f), "--kind", "households"])
    assert result.exit_code == 0, result.output
    assert "OK, 2 households rows, 5 in all" in result.stdout


def test_validate_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text("id,lon,lat\n1,abc,41.8\n1,41.8057,123.4315\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(f), "--kind", "households"])
    assert result.exit_code == 2
    assert "row 2, column 'lon': not a number" in result.stdout
    assert "row 3, column 'id': duplicate id" in result.stdout
    assert "longitude and latitude look swapped" in result.stdout
    assert "3 problems found" in result.stderr
    assert "Traceback" not in result.output


def test_validate_gcj02_option(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text("id,lon,lat\n1,123.4376,41.8081\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(f), "--coords", "gcj02"])
    assert result.exit_code == 0, result.output


def test_validate_column_mapping(tmp_path: Path) -> None:
    f = tmp_path / "f.csv"
    f.write_text("站号,X,Y\nf1,123.4315,41.8057\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(f), "--kind", "facilities", "--column", "id=站号"])
    assert result.exit_code == 0, result.output


def test_validate_bad_column_option(tmp_path: Path) -> None:
    f = tmp_path / "f.csv"
    f.write_text("id,lon,lat\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(f), "--column", "id"])
    assert result.exit_code == 2
    assert "expected FIELD=COLUMN" in result.stderr


def test_validate_missing_file_exits_2_without_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "file not found" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_unknown_kind_and_datum(tmp_path: Path) -> None:
    f = tmp_path / "h.csv"
    f.write_text("id,lon,lat\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(f), "--kind", "people"])
    assert result.exit_code == 2 and "unknown layer kind 'people'" in result.stderr
    result = runner.invoke(app, ["validate", str(f), "--coords", "utm"])
    assert result.exit_code == 2 and "unknown coordinate datum 'utm'" in result.stderr


def test_run_writes_the_index_map(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "quick.toml"
    args = ["--set", "sites.enabled=false", "--set", "funding.enabled=false"]
    args += ["--set", "screening.enabled=false"]
    result = runner.invoke(app, ["run", str(scenario), "--out", str(tmp_path / "demo"), *args])
    assert result.exit_code == 0, result.output
    index = (tmp_path / "demo" / "index.html").read_text(encoding="utf-8")
    assert 'href="overview.html"' in index and "演示数据" in index
    html = (tmp_path / "demo" / "overview.html").read_text(encoding="utf-8")
    for name in ("沈阳市", "演示数据"):
        assert name in html or json.dumps(name)[1:-1] in html
    assert "cdn.jsdelivr.net" not in html  # Leaflet is embedded, the map works offline
    assert "index.html" in result.stdout
    assert not [p for p in (tmp_path / "demo").iterdir() if p.name.endswith(".tmp")]


def test_validate_scenario_file(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "liaoning_2022.toml"
    result = runner.invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 0, result.output
    assert "scenario 'liaoning_2022'" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "' + str(scenario) + '"\n[funding]\nbudget_yuan = -5\n')
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "funding.budget_yuan" in result.stderr


def test_main_turns_library_errors_into_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from lnplan import cli
    from lnplan.errors import InputError

    def boom() -> None:
        raise InputError("bad thing in file x.csv")

    monkeypatch.setattr(cli, "app", boom)
    monkeypatch.setattr(sys, "argv", ["lnplan"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    assert "bad thing in file x.csv" in capsys.readouterr().err
