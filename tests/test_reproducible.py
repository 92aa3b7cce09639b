"""Same scenario, seed and lnplan version: byte-identical tables, whatever the machine's load.

A programme's tables must be identical when its searches ended on a proof or a work limit. A search
stopped by its wall-clock safety cap may legitimately differ under load; such a stop must then be
reported (``SafetyCapWarning`` naming the setting to raise, and ``run.json`` warnings), and its
tables are not compared. As the engines gain work limits (and the scenarios set them), more of
the plan falls under the byte-identity check without changing this test.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import warnings
from pathlib import Path

import lnplan
from lnplan.run import SafetyCapWarning
from tests.test_run import QUICK

#: Work limits where the engines have them, short safety caps elsewhere (the test stays fast).
SETTINGS = {
    "sites.time_limit_s": 3.0,
    "screening.time_limit_s": 3.0,
    "screening.max_iterations": 50,
    "funding.time_limit_s": 60.0,
}


def table_hashes(plan: lnplan.Plan) -> dict[str, dict[str, str]]:
    return {
        view.name: {
            name: hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()
            for name, table in view.tables.items()
        }
        for view in plan.views.values()
    }


def capped(plan: lnplan.Plan) -> set[str]:
    return {name for name in plan.views_by_name if any(name in w for w in plan.warnings)}


def run_once(out: Path) -> tuple[lnplan.Plan, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SafetyCapWarning)
        plan = lnplan.run(
            lnplan.load_scenario(QUICK, set=SETTINGS), out, fresh=True, progress=False
        )
    return plan, [str(w.message) for w in caught if issubclass(w.category, SafetyCapWarning)]


def test_same_tables_under_different_load(tmp_path: Path) -> None:
    quiet, quiet_warnings = run_once(tmp_path / "quiet")
    busy = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)
    ]  # two busy loops: the second run competes for both cores
    try:
        loaded, loaded_warnings = run_once(tmp_path / "loaded")
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert quiet_warnings == list(quiet.warnings)
    assert loaded_warnings == list(loaded.warnings)
    for plan in (quiet, loaded):
        for text in plan.warnings:
            assert "time_limit_s" in text and "raise" in text
    hashes_quiet, hashes_loaded = table_hashes(quiet), table_hashes(loaded)
    assert set(hashes_quiet) == set(hashes_loaded)
    exact = set(hashes_quiet) - capped(quiet) - capped(loaded)
    assert "employment_fund" in exact  # CP-SAT proves the fund optimal well within its cap
    for name in exact:
        assert hashes_quiet[name] == hashes_loaded[name], name
    # The manifest keeps the same keys for the same scenario, and the world is the same.
    runs_q, runs_l = quiet.manifest["programme_runs"], loaded.manifest["programme_runs"]
    assert {k: v["key"] for k, v in runs_q.items()} == {k: v["key"] for k, v in runs_l.items()}
    assert (tmp_path / "quiet" / "world_summary.csv").read_bytes() == (
        tmp_path / "loaded" / "world_summary.csv"
    ).read_bytes()
