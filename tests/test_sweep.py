"""Scenario sweeps: the grid, the task key, faults, resume, Ctrl-C, a real Dask cluster, charts.

Solver results are never compared with fixed values: the tests check invariants (row counts,
error rows, rows with results) and, for reproducibility, rows of work-limited searches
(``screening.max_iterations``) or of proven optima.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

from lnplan.cli import app
from lnplan.scenario import load_scenario
from lnplan.sweep import (
    SweepError,
    comparable,
    grid,
    parse_vary,
    parse_vary_options,
    point_id,
    point_scenario,
    programme_task_key,
    read_rows,
    sweep,
)

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "scenarios" / "quick.toml"

# Small screening problems (2 teams, 4 days) whose search stops on work (iterations), not time.
SMALL_TOURS = [
    "screening.n_teams=2",
    "screening.horizon_days=4",
    "screening.max_trip_days=2",
    "screening.min_share_by_city=0",  # 8 team-days cannot give every city a share
    "screening.max_iterations=5",
    "screening.time_limit_s=600",
]
# Only the screening tours.
SCREENING_ONLY = ["sites.enabled=false", "funding.enabled=false", *SMALL_TOURS]
# Only the fund (CP-SAT proves its optimum in well under a second on the quick world).
FUND_ONLY = ["sites.enabled=false", "screening.enabled=false"]


# --- the grid --------------------------------------------------------------------------------


def test_parse_vary_ranges_include_stop_and_lists_read_toml_values() -> None:
    assert parse_vary("sites.p=40:120:10") == ("sites.p", [40, 50, 60, 70, 80, 90, 100, 110, 120])
    assert parse_vary("screening.n_teams=2:5") == ("screening.n_teams", [2, 3, 4, 5])
    key, values = parse_vary("funding.budget_yuan=25e6:45e6:5e6")
    assert key == "funding.budget_yuan"
    assert values == [25_000_000, 30_000_000, 35_000_000, 40_000_000, 45_000_000]
    assert all(isinstance(v, int) for v in values)
    assert parse_vary("sites.travel_time_min=0.5:1.5:0.5")[1] == [0.5, 1, 1.5]
    assert parse_vary("sites.objective=mclp,pmedian") == ("sites.objective", ["mclp", "pmedian"])
    assert parse_vary("sites.p=60, 80")[1] == [60, 80]


@pytest.mark.parametrize(
    "text", ["sites.p", "=1,2", "sites.p=", "sites.p=9:1", "sites.p=1:5:0", "sites.p=a:b", "p=1,,2"]
)
def test_parse_vary_rejects_malformed_input(text: str) -> None:
    with pytest.raises(SweepError):
        parse_vary(text)


def test_a_key_may_be_varied_once() -> None:
    with pytest.raises(SweepError, match="given twice"):
        parse_vary_options(["sites.p=1,2", "sites.p=3"])


def test_an_unknown_key_stops_the_sweep_before_it_starts() -> None:
    with pytest.raises(SweepError, match="'pp' is not a scenario key; accepted keys in sites"):
        sweep(load_scenario(QUICK), {"sites.pp": [1]}, "serial", progress=None)


def test_grid_is_the_product_with_the_first_key_slowest() -> None:
    points = grid({"a.x": [1, 2], "b.y": ["u", "v", "w"]})
    assert len(points) == 6
    assert points[0] == {"a.x": 1, "b.y": "u"}
    assert points[3] == {"a.x": 2, "b.y": "u"}
    assert len({point_id(p) for p in points}) == 6


def test_task_key_changes_only_with_the_programme_section_and_shared_inputs() -> None:
    base = load_scenario(QUICK).model_dump(mode="json")
    a = point_scenario(base, {"sites.p": 60})
    b = point_scenario(base, {"sites.p": 80})
    assert base["sites"]["p"] != 60  # the base is not modified
    assert programme_task_key(a, "funding") == programme_task_key(b, "funding")
    assert programme_task_key(a, "screening") == programme_task_key(b, "screening")
    assert programme_task_key(a, "sites") != programme_task_key(b, "sites")
    c = point_scenario(base, {"seed": 1})
    assert programme_task_key(a, "funding") != programme_task_key(c, "funding")


def test_solver_threads_default_to_one() -> None:
    """Each task relies on the engines' defaults being one thread (its worker's share)."""
    from lnplan.optimize.funding import SolveParams as FundParams
    from lnplan.optimize.siting import SolveParams as SitingParams

    assert SitingParams().workers == 1
    assert FundParams().num_workers == 1


# --- serial runs: faults, resume, Ctrl-C, shared tasks ----------------------------------------


def test_a_killed_worker_is_reported_in_the_rows_that_needed_it() -> None:
    from distributed import KilledWorker

    from lnplan.sweep import _row, _run_one

    def killed() -> dict[str, object]:
        worker = SimpleNamespace(address="tcp://10.0.0.1:4000")
        raise KilledWorker("lnplan-sweep-screening_routes-x", worker, 3)  # type: ignore[arg-type]

    part = _run_one("screening_routes", killed)
    fine = {"name": "employment_fund", "summary": {"status": "optimal"}, "task_s": 1.0}
    row = _row(3, {"screening.n_teams": 4}, [fine, part])
    assert not row["ok"]
    assert row["error"].startswith("screening_routes: KilledWorker")
    assert "tcp://10.0.0.1:4000" in row["error"]
    assert row["employment_fund.status"] == "optimal"


def test_unchanged_programmes_are_solved_once(tmp_path: Path) -> None:
    sc = load_scenario(QUICK, ["sites.enabled=false", *SMALL_TOURS])
    ticks: list[tuple[int, int]] = []
    rows = sweep(
        sc,
        {"funding.budget_yuan": [30_000_000, 40_000_000]},
        "serial",
        progress=lambda d, t: ticks.append((d, t)),
    )
    # 2 fund tasks + 1 screening task shared by both points.
    assert ticks[-1] == (3, 3)
    assert rows["ok"].all()
    assert rows["screening_routes.task_s"].nunique() == 1


def test_failed_point_is_reported_in_its_row_and_resume_runs_only_the_rest(tmp_path: Path) -> None:
    sc = load_scenario(QUICK, FUND_ONLY)
    out = tmp_path / "sweep"
    # 35,000,001 yuan is not a multiple of the 10,000-yuan unit: that point fails on purpose.
    vary = {"funding.budget_yuan": [30_000_000, 35_000_001, 40_000_000]}
    rows = sweep(sc, vary, "serial", out, progress=None)
    assert len(rows) == 3
    bad = rows[rows["funding.budget_yuan"] == 35_000_001].iloc[0]
    assert not bad["ok"]
    assert "budget_yuan" in bad["error"] and "unit_yuan" in bad["error"]
    good = rows[rows["ok"]]
    assert len(good) == 2
    assert good["employment_fund.status"].notna().all()
    assert (good["error"] == "").all()
    on_disk = read_rows(out)
    assert len(on_disk) == 3
    assert len(pd.read_csv(out / "rows.csv")) == 3

    ticks: list[tuple[int, int]] = []
    again = sweep(sc, vary, "serial", out, resume=True, progress=lambda d, t: ticks.append((d, t)))
    assert ticks[-1] == (1, 1)  # only the failed point ran again
    assert len(again) == 3
    kept = again[again["ok"]].set_index("point")["employment_fund.task_s"]
    before = good.set_index("point")["employment_fund.task_s"]
    assert kept.loc[before.index].tolist() == before.tolist()  # not re-run

    with pytest.raises(SweepError, match="another scenario or grid"):
        sweep(sc, {"funding.budget_yuan": [30_000_000]}, "serial", out, resume=True)


def test_ctrl_c_leaves_a_valid_partial_result_that_resume_completes(tmp_path: Path) -> None:
    sc = load_scenario(QUICK, FUND_ONLY)
    out = tmp_path / "sweep"
    vary = {"funding.budget_yuan": [30_000_000, 35_000_000, 40_000_000]}

    def interrupt(done: int, total: int) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(sc, vary, "serial", out, progress=interrupt)
    partial = read_rows(out)
    assert len(partial) == 1 and partial["ok"].all()
    assert len(pd.read_csv(out / "rows.csv")) == 1
    assert not list(out.glob(".*tmp*"))

    rows = sweep(sc, vary, "serial", out, resume=True, progress=None)
    assert len(rows) == 3 and rows["ok"].all()
    assert rows["index"].tolist() == [0, 1, 2]


# --- a real Dask cluster -------------------------------------------------------------------------


def test_local_cluster_sweep_with_a_failing_point_matches_a_serial_run(tmp_path: Path) -> None:
    """4 points on a 2-worker LocalCluster; one fails on purpose (0 days is not allowed)."""
    from distributed import Client, LocalCluster

    sc = load_scenario(QUICK, SCREENING_ONLY)
    vary = {"screening.horizon_days": [2, 4, 0, 6]}
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        rows = sweep(sc, vary, client, tmp_path / "dask", progress=None)
    assert len(rows) == 4
    failed = rows[~rows["ok"]]
    assert failed["screening.horizon_days"].tolist() == [0]
    assert "horizon_days" in failed["error"].iloc[0]
    ok = rows[rows["ok"]]
    assert len(ok) == 3
    assert ok["screening_routes.children_screened"].notna().all()
    assert (
        ok["screening_routes.children_screened"] <= ok["screening_routes.children_awaiting"]
    ).all()
    assert len(read_rows(tmp_path / "dask")) == 4

    # The same searches stop after the same work serially: the same rows.
    serial = sweep(sc, vary, "serial", progress=None)
    pd.testing.assert_frame_equal(comparable(rows), comparable(serial))


# --- charts and the command line -----------------------------------------------------------------


def _cjk_font_or_skip() -> None:
    from lnplan.sweep_charts import CJK_FONT_PACKAGE, cjk_font

    if cjk_font() is None:
        reason = f"no CJK font installed (Debian: {CJK_FONT_PACKAGE}); PNG charts are not written"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def _rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "index": range(4),
            "ok": [True, True, True, False],
            "error": ["", "", "", "boom"],
            "sites.p": [40, 60, 80, 100],
            "fitness_sites.covered_households": [2000, 2400, 2680, None],
            "fitness_sites.households": [2980] * 4,
        }
    )


def test_charts_are_written_in_chinese_by_default_and_english_on_request(tmp_path: Path) -> None:
    from lnplan.sweep_charts import write_charts

    files = write_charts(_rows(), ["sites.p"], tmp_path / "zh")
    page = (tmp_path / "zh" / "charts" / "coverage_vs_sites.html").read_text(encoding="utf-8")
    assert "覆盖" in page and "户" in page
    assert "+20 户/处" in page  # (2400 - 2000) / 20: the marginal households of each added site
    assert "1 个方案运行失败" in page
    assert "<script" not in page and 'src="http' not in page and 'href="http' not in page
    assert not any("jobs_vs_budget" in p.name for p in files)  # budget not varied
    en = write_charts(_rows(), ["sites.p"], tmp_path / "en", language="en")
    page_en = (tmp_path / "en" / "charts" / "coverage_vs_sites.html").read_text(encoding="utf-8")
    assert "Households reached against sites" in page_en and "覆盖" not in page_en
    assert any(p.suffix == ".png" for p in en)
    _cjk_font_or_skip()
    png = tmp_path / "zh" / "charts" / "coverage_vs_sites.png"
    assert png in files and png.read_bytes()[:4] == b"\x89PNG"


def test_cli_sweep_serial_writes_rows_and_charts(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(QUICK),
            *[a for s in SCREENING_ONLY for a in ("--set", s)],
            "--vary",
            "screening.n_teams=1:2",
            "--out",
            str(out),
            "--serial",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 points, 2 ran, 0 failed" in result.stdout
    assert len(read_rows(out)) == 2
    assert (out / "charts" / "screened_vs_teams.html").is_file()
    assert "chart: " in result.stdout


def test_cli_sweep_errors_exit_2_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules["lnplan.sweep"], "CONNECT_TIMEOUT_S", 2)
    runner = CliRunner()
    bad = runner.invoke(app, ["sweep", str(QUICK), "--vary", "sites.p=9:1", "--out", str(tmp_path)])
    assert bad.exit_code == 2
    assert "STOP is below START" in bad.output and "Traceback" not in bad.output
    both = runner.invoke(
        app,
        ["sweep", str(QUICK), "--vary", "sites.p=1", "--out", str(tmp_path), "--serial",
         "--workers", "2"],
    )  # fmt: skip
    assert both.exit_code == 2
    unreachable = runner.invoke(
        app,
        ["sweep", str(QUICK), *[a for s in FUND_ONLY for a in ("--set", s)], "--vary",
         "funding.budget_yuan=30e6", "--out", str(tmp_path), "--scheduler", "tcp://127.0.0.1:1"],
    )  # fmt: skip
    assert unreachable.exit_code == 2
    assert "cannot reach the Dask scheduler" in unreachable.output
