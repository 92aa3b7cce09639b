"""Same scenario, seed and lnplan version: byte-identical tables, whatever the machine's load.

Every search of the quick scenario ends on a proof or a work limit (sites: ``sites.max_nodes``
and ``sites.max_iterations``; screening: ``screening.max_iterations``; the fund: CP-SAT's proof),
so every programme's tables must be identical under any load. The wall-clock caps are safety caps
only, set far above the work here; a stop at one would be reported (``SafetyCapWarning`` naming
the setting to raise, and ``run.json`` warnings) and fails this test.
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

#: The quick scenario's work limits; the safety caps far above them, so that none is hit even on
#: a loaded machine.
SETTINGS = {
    "sites.time_limit_s": 120.0,
    "screening.time_limit_s": 120.0,
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


def programme_runs(plan: lnplan.Plan) -> dict:
    return dict(plan.manifest["programme_runs"])


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
    # Every search ended on its work limit or a proof, not on a safety cap.
    assert not capped(quiet) and not capped(loaded), quiet.warnings + loaded.warnings
    hashes_quiet, hashes_loaded = table_hashes(quiet), table_hashes(loaded)
    assert set(hashes_quiet) == set(hashes_loaded)
    assert {"fitness_sites", "employment_fund", "screening_routes"} <= set(hashes_quiet)
    for name in hashes_quiet:  # every programme's tables, the sites included
        assert hashes_quiet[name] == hashes_loaded[name], name
    siting = programme_runs(quiet)["fitness_sites"]["models"]["siting"]
    assert siting["work"]["lagrange_iterations"] > 0  # the work done, recorded per model
    # The manifest keeps the same keys for the same scenario, and the world is the same.
    runs_q, runs_l = quiet.manifest["programme_runs"], loaded.manifest["programme_runs"]
    assert {k: v["key"] for k, v in runs_q.items()} == {k: v["key"] for k, v in runs_l.items()}
    assert (tmp_path / "quiet" / "world_summary.csv").read_bytes() == (
        tmp_path / "loaded" / "world_summary.csv"
    ).read_bytes()
