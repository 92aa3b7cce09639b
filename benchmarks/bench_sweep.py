"""Benchmark: a 20-point scenario sweep, serial against a local Dask cluster.

The sweep is ``screening.n_teams = 1, 2`` x ``screening.horizon_days = 2, 4, ..., 20`` (trips of
at most 2 days) over the quick scenario (Liaoning at 1 % of the households: about 3,000
households and 9,600 children, the size of one county at full scale). The tour search stops
after ``screening.max_iterations`` improving solutions (work, not time), so both runs must give
the same rows. The fund runs once
(shared by every point; CP-SAT proves its optimum). The siting model stops on the wall clock only
(``sites.time_limit_s``), so it is left out of the comparison; ``--sites`` times one siting task
(quick defaults) for the per-task figures.

Prints: wall time serially (this process, no Dask) and on ``LocalCluster(n_workers=--workers,
threads_per_worker=1)`` including the cluster start, the speed-up, per-task time, peak resident
memory per worker process (``ru_maxrss`` of the worker after its tasks), whether the rows are
identical (every column but times, memory and worker names), and the machine load.

    .venv/bin/python benchmarks/bench_sweep.py [--workers 2] [--max-iterations 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from lnplan.scenario import load_scenario
from lnplan.sweep import comparable, physical_cores, sweep

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "scenarios" / "quick.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=physical_cores())
    parser.add_argument("--max-iterations", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="4 points instead of 20")
    parser.add_argument("--sites", action="store_true", help="also time one siting task")
    args = parser.parse_args()

    days = [5, 10] if args.quick else list(range(2, 21, 2))
    vary = {"screening.n_teams": [1, 2], "screening.horizon_days": days}
    sc = load_scenario(
        QUICK,
        [
            "sites.enabled=false",
            f"screening.max_iterations={args.max_iterations}",
            "screening.time_limit_s=3600",
            "screening.max_trip_days=2",
        ],
    )
    n_points = len(days) * 2
    print(f"sweep of {n_points} points over {QUICK.name}: {json.dumps(vary)}")
    print(f"load before: {os.getloadavg()}")

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        serial = sweep(sc, vary, "serial", Path(tmp) / "serial", progress=None, charts=False)
        t_serial = time.perf_counter() - t0
        load_mid = os.getloadavg()
        t0 = time.perf_counter()
        dask = sweep(
            sc,
            vary,
            None,
            Path(tmp) / "dask",
            workers=args.workers,
            progress=None,
            charts=False,
        )
        t_dask = time.perf_counter() - t0
    assert serial["ok"].all() and dask["ok"].all(), "a point failed"
    same = comparable(serial).equals(comparable(dask))
    if not same:
        a, b = comparable(serial), comparable(dask)
        diff = [c for c in a.columns if not a[c].equals(b[c])]
        print(f"rows differ in: {diff}")
    tasks = pd.concat(
        [
            dask[["employment_fund.task_s"]].drop_duplicates().rename(columns=lambda c: "task_s"),
            dask[["screening_routes.task_s"]].rename(columns=lambda c: "task_s"),
        ]
    )["task_s"]
    per_task = pd.concat(
        [
            dask[[f"{n}.worker", f"{n}.peak_rss_mb"]].set_axis(["worker", "peak"], axis=1)
            for n in ("employment_fund", "screening_routes")
        ]
    )
    per_worker = per_task.groupby("worker")["peak"].max()
    print(f"serial:        {t_serial:7.1f} s")
    print(f"local cluster: {t_dask:7.1f} s on {args.workers} workers (cluster start included)")
    print(f"speed-up:      {t_serial / t_dask:7.2f}x")
    print(
        f"tasks: {len(tasks)} (20 screening + 1 shared fund); task time mean "
        f"{tasks.mean():.2f} s, max {tasks.max():.2f} s (first task of a worker builds its world)"
    )
    search = dask["screening_routes.runtime_s"].mean()
    print(f"screening search time per task (runtime_s): {search:.2f} s mean")
    for worker, peak in per_worker.items():
        print(f"peak resident memory of worker {worker}: {peak:.0f} MB")
    print(f"identical rows serial and on the cluster: {same}")
    print(f"load after: {os.getloadavg()} (between runs: {load_mid})")

    if args.sites:
        site_sc = load_scenario(QUICK, ["funding.enabled=false", "screening.enabled=false"])
        t0 = time.perf_counter()
        rows = sweep(site_sc, {"sites.p": [80]}, None, workers=1, progress=None)
        t_site = time.perf_counter() - t0
        r = rows.iloc[0]
        print(
            f"one siting task (quick, p=80, {site_sc.sites.time_limit_s:g} s limit): task "  # type: ignore[union-attr]
            f"{r['fitness_sites.task_s']:.1f} s, status {r['fitness_sites.status']}, gap "
            f"{r['fitness_sites.gap']:.2%}, peak {r['peak_rss_mb']:.0f} MB; {t_site:.1f} s "
            "with a 1-worker cluster start"
        )


if __name__ == "__main__":
    main()
