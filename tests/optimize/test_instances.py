"""OR-Library readers and the ``lnplan bench siting`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lnplan.cli import app
from lnplan.errors import InputError
from lnplan.optimize.instances import read_orlib_cap, read_orlib_pmed


def test_pmed_last_duplicate_edge_defines_cost(tmp_path: Path) -> None:
    f = tmp_path / "tiny.txt"
    f.write_text("3 4 1\n1 2 5\n2 3 1\n2 1 2\n1 3 9\n")
    problem = read_orlib_pmed(f)
    assert problem.n_sites == 1
    d = np.asarray(problem.cost)
    assert d[0, 1] == 2.0  # the later "2 1 2" replaces "1 2 5"
    assert d[0, 2] == 3.0  # shortest path 1-2-3 beats the direct edge of 9
    assert np.allclose(d, d.T)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("3 2\n", r"line 1: expected 'n m p'"),
        ("3 2 1\n1 2 4\n", "announces 2 edges but the file has 1"),
        ("3 2 1\n1 2 4\n2 x 1\n", r"line 3: node j must be a number, got 'x'"),
        ("3 2 1\n1 2 4\n2 7 1\n", r"line 3: node numbers must lie in 1\.\.3"),
        ("3 1 1\n1 2 4\n", "not connected"),
    ],
)
def test_pmed_bad_files(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "bad.txt"
    f.write_text(text)
    with pytest.raises(InputError, match=match):
        read_orlib_pmed(f)


def test_cap_reader(tmp_path: Path) -> None:
    f = tmp_path / "cap.txt"
    f.write_text("2 2\n 10 100.\n capacity 50.\n 4\n 8. 12.\n 2\n 6 2\n")
    with pytest.raises(InputError, match=r"line 3: .*'capacity'.*--capacity"):
        read_orlib_cap(f)
    problem = read_orlib_cap(f, capacity=7.0)
    assert problem.rules.capacity is not None
    assert problem.rules.capacity.tolist() == [7.0, 7.0]
    assert problem.opening_cost is not None
    assert problem.opening_cost.tolist() == [100.0, 50.0]
    assert np.asarray(problem.cost).tolist() == [[2.0, 3.0], [3.0, 1.0]]  # per unit of demand
    f.write_text("2 2\n 10 100.\n 5 50.\n 4\n 8. 12.\n")
    with pytest.raises(InputError, match="ends early"):
        read_orlib_cap(f)


def test_bench_siting_cli(tmp_path: Path) -> None:
    f = tmp_path / "tiny.txt"
    f.write_text("4 3 2\n1 2 1\n2 3 10\n3 4 1\n")
    runner = CliRunner()
    res = runner.invoke(app, ["bench", "siting", str(f), "--format", "orlib-pmed", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["objective"] == 2.0
    assert out["bound"] == 2.0
    assert out["status"] == "optimal"
    assert out["time_s"] >= 0
    res = runner.invoke(app, ["bench", "siting", str(f), "--format", "nope"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["bench", "siting", str(tmp_path / "missing.txt")])
    assert res.exit_code == 2
