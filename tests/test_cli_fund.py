"""``lnplan fund`` and ``lnplan apportion``: tables, JSON, and clear errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from lnplan.cli import app

runner = CliRunner()

NEED = (
    "county,need,floor_yuan,cap_yuan\n沈河区,10,,\n铁西区,5,1000000,\n岫岩满族自治县,3,,2000000\n"
)


def write(tmp_path: Path, text: str, name: str = "t.csv", encoding: str = "utf-8") -> str:
    f = tmp_path / name
    f.write_text(text, encoding=encoding)
    return str(f)


def test_fund_json(tmp_path: Path) -> None:
    f = write(tmp_path, NEED)
    result = runner.invoke(app, ["fund", f, "--budget-yuan", "35000000", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["status"] == "optimal"
    assert out["objective"] == "proportional"
    alloc = out["allocations"]
    assert sum(alloc.values()) == 35_000_000
    assert alloc["岫岩满族自治县"] == 2_000_000  # capped
    assert all(v % 10_000 == 0 for v in alloc.values())
    assert out["rules_checked"] is True
    assert out["proof"] == "CP-SAT search"
    assert out["engine"] == "ortools-cp-sat"
    assert 0 <= out["gap"] <= 1e-6
    assert out["bound"] <= out["objective_value"]
    assert {"branches", "conflicts", "deterministic_time"} <= set(out["work"])


def test_fund_no_solution_in_limit_names_the_option(tmp_path: Path) -> None:
    f = write(tmp_path, NEED)
    args = ["fund", f, "--budget-yuan", "35000000", "--deterministic-time-s", "1e-9"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["status"] == "no_solution_in_limit"
    assert out["allocations"] is None and out["objective_value"] is None
    assert "--deterministic-time-s" in out["message"]
    table = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert table.exit_code == 1
    assert "no_solution_in_limit" in table.stderr and "Traceback" not in table.output
    assert "infeasible" not in table.stderr


def test_fund_gbk_csv_and_table(tmp_path: Path) -> None:
    f = write(tmp_path, NEED, encoding="gbk")
    result = runner.invoke(
        app,
        ["fund", f, "--budget-yuan", "35000000", "--objective", "maxmin"],
        env={"COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    assert "岫岩满族自治县" in result.stdout
    assert "2,000,000" in result.stdout
    assert "cap" in result.stdout
    assert "status optimal" in result.stdout
    assert "proof: exact threshold in rational arithmetic" in result.stdout
    assert "rules checked: yes" in result.stdout


def test_fund_xlsx(tmp_path: Path) -> None:
    f = tmp_path / "t.xlsx"
    pd.DataFrame({"county": ["沈河区", "和平区"], "need": [1, 3]}).to_excel(f, index=False)
    result = runner.invoke(
        app, ["fund", str(f), "--budget-yuan", "400000", "--unit-yuan", "100000", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["allocations"] == {"沈河区": 100_000, "和平区": 300_000}


def test_fund_bad_cells_listed_with_row_and_column(tmp_path: Path) -> None:
    f = write(tmp_path, "county,need\n沈河区,abc\n和平区,0\nFoo,2\n沈河区,1\n")
    result = runner.invoke(app, ["fund", f, "--budget-yuan", "35000000"])
    assert result.exit_code == 2
    err = result.stderr
    assert "4 problems found" in err
    assert "row 2, column 'need': need is not a number (value 'abc')" in err
    assert "row 3, column 'need': need must be > 0" in err
    assert "row 4, column 'county': unknown county (value 'Foo')" in err
    assert "row 5, column 'county': county listed twice (first on row 2)" in err
    assert "Traceback" not in result.output


def test_fund_any_names(tmp_path: Path) -> None:
    f = write(tmp_path, "county,need\nA,1\nB,1\n")
    result = runner.invoke(
        app, ["fund", f, "--budget-yuan", "20", "--unit-yuan", "1", "--any-names"]
    )
    assert result.exit_code == 0, result.output


def test_fund_missing_column(tmp_path: Path) -> None:
    f = write(tmp_path, "county,weight_x\n沈河区,1\n")
    result = runner.invoke(app, ["fund", f, "--budget-yuan", "35000000"])
    assert result.exit_code == 2
    assert "missing column 'need'" in result.stderr


def test_fund_budget_not_multiple(tmp_path: Path) -> None:
    f = write(tmp_path, NEED)
    result = runner.invoke(app, ["fund", f, "--budget-yuan", "35005000"])
    assert result.exit_code == 2
    assert "not a multiple of the unit 10,000 yuan" in result.stderr
    assert "Traceback" not in result.output


def test_fund_floors_above_budget(tmp_path: Path) -> None:
    f = write(tmp_path, "county,need,floor_yuan\n沈河区,1,30000000\n和平区,1,10000000\n")
    result = runner.invoke(app, ["fund", f, "--budget-yuan", "35000000"])
    assert result.exit_code == 2
    assert "above the budget 35,000,000 yuan by 5,000,000 yuan" in result.stderr


def test_fund_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["fund", str(tmp_path / "nope.csv"), "--budget-yuan", "10"])
    assert result.exit_code == 2
    assert "file not found" in result.stderr


def test_apportion_json_reports_tie(tmp_path: Path) -> None:
    f = write(tmp_path, "name,weight\nA,6\nB,6\nC,2\n")
    result = runner.invoke(app, ["apportion", f, "--total", "10", "--method", "dhondt", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["allocations"] == {"A": 5, "B": 4, "C": 1}
    assert out["ties"] == [{"candidates": ["A", "B"], "seats": 1, "given_to": ["A"]}]


def test_apportion_table_with_floor(tmp_path: Path) -> None:
    f = write(tmp_path, "name,weight,floor,cap\n沈阳市,10,0,\n大连市,1,2,\n鞍山市,1,2,3\n")
    result = runner.invoke(app, ["apportion", f, "--total", "6", "--method", "hamilton"])
    assert result.exit_code == 0, result.output
    assert "沈阳市" in result.stdout


def test_apportion_infeasible_floors(tmp_path: Path) -> None:
    f = write(tmp_path, "name,weight,floor\nA,1,5\nB,1,7\n")
    result = runner.invoke(app, ["apportion", f, "--total", "10", "--method", "webster"])
    assert result.exit_code == 2
    assert "floors sum to 12, above the total 10 by 2" in result.stderr


def test_apportion_bad_floor_cell(tmp_path: Path) -> None:
    f = write(tmp_path, "name,weight,floor\nA,1,2.5\nB,x,\n")
    result = runner.invoke(app, ["apportion", f, "--total", "10"])
    assert result.exit_code == 2
    assert "row 2, column 'floor': floor must be a whole number (value '2.5')" in result.stderr
    assert "row 3, column 'weight': weight is not a number (value 'x')" in result.stderr


def test_apportion_unknown_method(tmp_path: Path) -> None:
    f = write(tmp_path, "name,weight\nA,1\n")
    result = runner.invoke(app, ["apportion", f, "--total", "3", "--method", "borda"])
    assert result.exit_code == 2
    assert "unknown apportionment method 'borda'" in result.stderr


def test_fund_share_and_committed_columns(tmp_path: Path) -> None:
    f = write(tmp_path, "county,need,cap_share,committed_yuan\nA,1,0.25,\nB,1,,600\nC,2,,\n")
    result = runner.invoke(
        app, ["fund", f, "--budget-yuan", "1000", "--unit-yuan", "100", "--any-names", "--json"]
    )
    assert result.exit_code == 0, result.output
    alloc = json.loads(result.stdout)["allocations"]
    assert alloc["A"] <= 250 and alloc["B"] >= 600
    assert sum(alloc.values()) == 1000


def test_fund_share_above_one_is_a_cell_error(tmp_path: Path) -> None:
    f = write(tmp_path, "county,need,floor_share\nA,1,1.5\n")
    result = runner.invoke(app, ["fund", f, "--budget-yuan", "1000", "--any-names"])
    assert result.exit_code == 2
    assert (
        "row 2, column 'floor_share': floor_share is a share: 0 to 1 (value '1.5')" in result.stderr
    )


def test_fund_budget_too_many_units_is_a_clear_error(tmp_path: Path) -> None:
    f = write(tmp_path, NEED)
    for budget in ("1000000000000000", "100000000000000000000000"):
        result = runner.invoke(app, ["fund", f, "--budget-yuan", budget, "--unit-yuan", "1"])
        assert result.exit_code == 2, result.output
        assert "use a larger unit" in result.stderr
        assert "Traceback" not in result.output and result.exception is not None
        assert isinstance(result.exception, SystemExit)


def test_fund_zero_budget_says_one_less_is_impossible(tmp_path: Path) -> None:
    f = write(tmp_path, NEED.replace("1000000", ""))
    result = runner.invoke(app, ["fund", f, "--budget-yuan", "0"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "one less by n/a" in result.stdout
    assert "nan" not in result.stdout


def test_apportion_total_too_large_is_a_clear_error(tmp_path: Path) -> None:
    f = write(tmp_path, "name,weight\nA,1\nB,2.5\n")
    result = runner.invoke(app, ["apportion", f, "--total", str(10**25), "--method", "webster"])
    assert result.exit_code == 2, result.output
    assert "the total must be at most 9,007,199,254,740,992" in result.stderr
    assert isinstance(result.exception, SystemExit)
