"""Benchmarks of the exact siting models, side by side in one run.

Sections (``--only`` takes a comma list; default all):

- ``pmedian``  OR-Library pmed instances from ../shared/benchmarks/pmedian against their published
  optima (reference.csv); time per instance and total.
- ``cflp``     OR-Library capacitated warehouse instances (split demand), published optima.
- ``mclp``     20,000 demand x 2,000 candidates, p = 80, 10 km, seeded generator; spopt 0.7
  (PuLP/CBC) on the same instance in a subprocess when installed, and the time ratio.
- ``province`` 300,000 demand x 5,000 candidates, p = 80, 10 km, in a subprocess that reports its
  peak memory (resource.getrusage, the whole process: generation, cover matrix and solve).
- ``equity``   max-min equity over the cities of the 20,000 x 2,000 MCLP at 2, 5 and 12 s: the
  status, the lowest city rate against its bound, and the price of equity (reported only when
  both stages are proven). Not part of the default set.
- ``pmedmem``  dense p-median memory: the peak memory the solve allocates (tracemalloc, numpy
  included) as a multiple of its cost matrix, 3,000 demand x 500 candidates, p = 60.
  Not part of the default set; ``--quick`` runs it with a 30 s limit.

Examples::

    .venv/bin/python benchmarks/bench_siting.py --quick
    .venv/bin/python benchmarks/bench_siting.py --only pmedian --time-limit 300
    .venv/bin/python benchmarks/bench_siting.py --only mclp --spopt-timeout 900

spopt/PuLP always runs in a separate process: importing PuLP next to OR-Tools' HiGHS crashed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

SHARED = Path(os.environ.get("LNPLAN_SHARED_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))
QUICK_PMED = ["pmed1", "pmed2", "pmed4", "pmed5", "pmed7", "pmed8", "pmed10", "pmed13", "pmed19"]
QUICK_CAP = ["cap41", "cap71", "cap101", "cap131"]


def _reference(kind: str) -> list[dict[str, str]]:
    with (SHARED / "reference.csv").open() as fh:
        return [r for r in csv.DictReader(fh) if r["set"] == kind]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_pmedian(args: argparse.Namespace) -> None:
    from lnplan.optimize.instances import read_orlib_pmed
    from lnplan.optimize.siting import SolveParams, solve_p_median

    rows = _reference("pmedian")
    if args.quick:
        rows = [r for r in rows if r["instance"] in QUICK_PMED]
    print(f"\n== p-median (OR-Library), time limit {args.time_limit:g} s, load {_load()}")
    print(
        f"{'instance':10} {'n':>4} {'p':>4} {'objective':>10} {'optimum':>8} {'status':>10} "
        f"{'match':>5} {'time s':>8} {'sites kept':>10} {'B&B nodes':>9}"
    )
    total = 0.0
    ok = 0
    for r in rows:
        problem = read_orlib_pmed(SHARED / r["file"])
        res = solve_p_median(problem, SolveParams(time_limit_s=args.time_limit, seed=0))
        ref = float(r["objective"])
        match = abs(res.objective - ref) < 1e-6 and res.status == "optimal"
        ok += match
        total += res.runtime_s
        n = len(problem.weights)
        print(
            f"{r['instance']:10} {n:>4} {problem.n_sites:>4} {res.objective:>10.0f} {ref:>8.0f} "
            f"{res.status:>10} {'yes' if match else 'NO':>5} {res.runtime_s:>8.2f} "
            f"{res.details.get('sites_kept', 0):>10.0f} {res.details.get('search_nodes', 0):>9.0f}",
            flush=True,
        )
    print(
        f"p-median: {ok}/{len(rows)} proven optimal at the published value; "
        f"total {total:.1f} s; load {_load()}"
    )


def bench_cflp(args: argparse.Namespace) -> None:
    from lnplan.optimize.instances import read_orlib_cap
    from lnplan.optimize.siting import SolveParams, solve_p_median

    rows = _reference("cflp")
    if args.quick:
        rows = [r for r in rows if r["instance"] in QUICK_CAP]
    print(
        f"\n== capacitated facility location (OR-Library, split demand), time limit "
        f"{args.time_limit:g} s, load {_load()}"
    )
    print(
        f"{'instance':12} {'objective':>15} {'optimum':>15} {'bound':>15} {'status':>10} "
        f"{'match':>5} {'time s':>8}"
    )
    total = 0.0
    ok = 0
    for r in rows:
        name = r["instance"]
        capacity = float(name.split("_Q")[1]) if "_Q" in name else None
        problem = read_orlib_cap(SHARED / r["file"], capacity=capacity)
        res = solve_p_median(problem, SolveParams(time_limit_s=args.time_limit, seed=0))
        ref = float(r["objective"])
        match = abs(res.objective - ref) <= 1e-3 + 1e-9 * ref and res.status == "optimal"
        ok += match
        total += res.runtime_s
        print(
            f"{name:12} {res.objective:>15.3f} {ref:>15.3f} {res.bound:>15.3f} "
            f"{res.status:>10} {'yes' if match else 'NO':>5} {res.runtime_s:>8.2f}",
            flush=True,
        )
    print(f"cflp: {ok}/{len(rows)} at the published optimum; total {total:.1f} s; load {_load()}")


def _mclp_instance(n: int, m: int, seed: int):  # type: ignore[no-untyped-def]
    from siting_instances import cover_matrix_chunked, generate

    inst = generate(n, m, seed=seed)
    return inst, cover_matrix_chunked(inst, 10.0)


def bench_mclp(args: argparse.Namespace) -> None:
    from lnplan.optimize.siting import CoverageProblem, SolveParams, solve_max_coverage

    n, m, p = 20_000, 2_000, 80
    print(f"\n== MCLP {n:,} x {m:,}, p = {p}, 10 km, seed {args.seed}, load {_load()}")
    t0 = time.perf_counter()
    inst, cov = _mclp_instance(n, m, args.seed)
    t_build = time.perf_counter() - t0
    res = solve_max_coverage(
        CoverageProblem(inst.weights, cov, p),
        SolveParams(time_limit_s=60, seed=0),
        groups={"city": inst.demand_city},
    )
    det = res.details
    print(
        f"lnplan: objective {res.objective:,.0f} of {res.total_demand:,.0f}, bound "
        f"{res.bound:,.0f}, status {res.status}, solve {res.runtime_s:.2f} s "
        f"(instance + cover matrix {t_build:.2f} s); rows {det['demand_rows']:.0f} -> merged "
        f"{det['merged_rows']:.0f}; sites {m} -> {det['model_sites']:.0f} "
        f"({det['dominated_sites']:.0f} dominated); "
        f"greedy+swap {det.get('heuristic_objective', 0):,.0f}"
    )
    if args.spopt_timeout <= 0:
        return
    try:
        import importlib.util

        if importlib.util.find_spec("spopt") is None:
            print("spopt is not installed (bench extra); skipped")
            return
    except Exception:  # pragma: no cover
        return
    cmd = [sys.executable, __file__, "--spopt-mclp-child", str(n), str(m), str(p), str(args.seed)]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=args.spopt_timeout, check=False
        )
    except subprocess.TimeoutExpired:
        wall = time.perf_counter() - t0
        print(
            f"spopt 0.7 (PuLP/CBC): no answer within {args.spopt_timeout:g} s "
            f"(ratio > {wall / res.runtime_s:.0f}x); load {_load()}"
        )
        return
    if out.returncode != 0:
        print("spopt failed:", out.stderr[-500:])
        return
    sp = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"spopt 0.7 (PuLP/CBC): objective {sp['objective']:,.0f}, build {sp['build_s']:.1f} s, "
        f"solve {sp['solve_s']:.1f} s, total {sp['total_s']:.1f} s"
    )
    print(
        f"ratio spopt total / lnplan solve: {sp['total_s'] / res.runtime_s:.0f}x "
        f"(same objective: {abs(sp['objective'] - res.objective) < 1e-6}); load {_load()}"
    )


def spopt_mclp_child(n: int, m: int, p: int, seed: int) -> None:
    import numpy as np
    import pulp
    from scipy.spatial.distance import cdist
    from siting_instances import generate
    from spopt.locate import MCLP

    inst = generate(n, m, seed=seed)
    t0 = time.perf_counter()
    cost = cdist(inst.demand_xy_km, inst.candidate_xy_km)
    model = MCLP.from_cost_matrix(cost, inst.weights, 10.0, p_facilities=p)
    t1 = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
    t2 = time.perf_counter()
    chosen = [j for j, v in enumerate(model.fac_vars) if v.value() is not None and v.value() > 0.5]
    covered = (cost[:, chosen] <= 10.0).any(axis=1)
    print(
        json.dumps(
            {
                "objective": float(np.asarray(inst.weights)[covered].sum()),
                "build_s": t1 - t0,
                "solve_s": t2 - t1,
                "total_s": t2 - t0,
            }
        )
    )


def bench_province(args: argparse.Namespace) -> None:
    print(f"\n== province MCLP 300,000 x 5,000, p = 80, 10 km, time limit 60 s, load {_load()}")
    cmd = [sys.executable, __file__, "--province-child", str(args.seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        print("province run failed:", out.stderr[-800:])
        return
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"objective {r['objective']:,.0f} of {r['total']:,.0f}, bound {r['bound']:,.0f}, gap "
        f"{r['gap']:.3%}, status {r['status']}, solve {r['solve_s']:.1f} s (instance + cover "
        f"matrix {r['build_s']:.1f} s, {r['nnz']:,} cover pairs), merged rows "
        f"{r['merged_rows']:,.0f}, peak RSS {r['peak_rss_mb']:.0f} MB; load {_load()}"
    )
    d = r["details"]
    if "lp_bound" in d:
        print(
            f"  {r['engine']}: LP bound {d['lp_bound']:,.1f} after {d['time_lp_s']:.1f} s "
            f"({d['benders_iterations']:.0f} masters, {d['benders_blocks']:.0f} blocks); "
            f"LP-support MIP ({d['lp_support_sites']:.0f} sites) {d['lp_support_objective']:,.0f}, "
            f"swaps {d['heuristic_objective']:,.0f} at {d['time_heuristic_s']:.1f} s; "
            f"{d.get('neighbourhood_mips', 0):.0f} neighbourhood MIPs; fixed "
            f"{d.get('fixed_closed', 0):.0f} closed / {d.get('fixed_open', 0):.0f} open, "
            f"MIP left {d.get('fixed_model_rows', 0):,.0f} rows x "
            f"{d.get('fixed_model_sites', 0):,.0f} sites"
        )


def province_child(seed: int) -> None:
    from lnplan.optimize.siting import CoverageProblem, SolveParams, solve_max_coverage

    t0 = time.perf_counter()
    inst, cov = _mclp_instance(300_000, 5_000, seed)
    t_build = time.perf_counter() - t0
    res = solve_max_coverage(
        CoverageProblem(inst.weights, cov, 80),
        SolveParams(time_limit_s=60, seed=0),
        groups={"city": inst.demand_city},
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "objective": res.objective,
                "bound": res.bound,
                "gap": res.gap,
                "status": res.status,
                "solve_s": res.runtime_s,
                "build_s": t_build,
                "nnz": int(cov.nnz),
                "merged_rows": res.details.get("merged_rows", 0),
                "total": res.total_demand,
                "peak_rss_mb": peak,
                "engine": res.engine,
                "details": res.details,
            }
        )
    )


def bench_equity(args: argparse.Namespace) -> None:
    import numpy as np

    from lnplan.optimize.siting import CoverageProblem, Equity, SolveParams, solve_max_coverage

    n, m, p = 20_000, 2_000, 80
    inst, cov = _mclp_instance(n, m, args.seed)
    cities = np.unique(inst.demand_city).size
    print(f"\n== MCLP equity max_min, {n:,} x {m:,}, p = {p}, {cities} cities, load {_load()}")
    print("limit s  status                objective  lowest rate (bound)  price    time s")
    for limit in (2.0, 5.0, 12.0):
        r = solve_max_coverage(
            CoverageProblem(inst.weights, cov, p),
            SolveParams(time_limit_s=limit, seed=0),
            equity=Equity(groups=inst.demand_city, mode="max_min"),
        )
        rate = r.details.get("min_group_rate", float("nan"))
        rate_bound = r.details.get("min_group_rate_bound", float("nan"))
        price = "-" if r.price_of_equity is None else f"{r.price_of_equity:,.0f}"
        print(
            f"{limit:7.0f}  {r.status:20s} {r.objective:10,.0f}  {rate:.3f} ({rate_bound:.3f})"
            f"        {price:8s} {r.runtime_s:6.1f}"
        )


def bench_pmedmem(args: argparse.Namespace) -> None:
    import tracemalloc

    import numpy as np

    from lnplan.optimize.siting import MedianProblem, SolveParams, solve_p_median

    n, m, p = 3000, 500, 60
    limit = min(args.time_limit, 30.0)
    print(f"\n== dense p-median memory, {n} x {m}, p = {p}, time limit {limit:g} s, load {_load()}")
    rng = np.random.default_rng(args.seed)
    a, b = rng.random((n, 2)) * 100, rng.random((m, 2)) * 100
    d = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).round()
    w = rng.integers(1, 20, n).astype(float)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    r = solve_p_median(MedianProblem(w, d, p), SolveParams(time_limit_s=limit, seed=args.seed))
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    print(
        f"cost matrix {d.nbytes / 1e6:.1f} MB; peak allocated by the solve {peak / 1e6:.1f} MB "
        f"= {peak / d.nbytes:.1f}x the matrix; {r.status}, objective {r.objective:,.0f}, "
        f"gap {r.gap:.2e}, {time.perf_counter() - t0:.1f} s (tracemalloc slows numpy)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--only",
        default="pmedian,cflp,mclp,province",
        help="comma list of sections: pmedian, cflp, mclp, province, equity, pmedmem",
    )
    ap.add_argument(
        "--quick", action="store_true", help="small pmed/cap selections, no spopt, no province run"
    )
    ap.add_argument("--time-limit", type=float, default=300.0, help="per instance (pmed, cap)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed for the MCLP instances")
    ap.add_argument(
        "--spopt-timeout",
        type=float,
        default=900.0,
        help="seconds for the spopt subprocess (0 = skip spopt)",
    )
    ap.add_argument("--spopt-mclp-child", nargs=4, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--province-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.spopt_mclp_child:
        spopt_mclp_child(*args.spopt_mclp_child)
        return
    if args.province_child is not None:
        province_child(args.province_child)
        return
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    sections = {"pmedian", "cflp", "mclp", "province", "equity", "pmedmem"}
    unknown = only - sections
    if unknown:
        ap.error(f"unknown section(s) {sorted(unknown)}; use {', '.join(sorted(sections))}")
    if args.quick:
        args.time_limit = min(args.time_limit, 60.0)
        args.spopt_timeout = 0.0
        only.discard("province")
        only.add("pmedmem")
    print(
        f"bench_siting: {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, load {_load()}"
    )
    if "pmedian" in only:
        bench_pmedian(args)
    if "cflp" in only:
        bench_cflp(args)
    if "mclp" in only:
        bench_mclp(args)
    if "province" in only:
        bench_province(args)
    if "equity" in only:
        bench_equity(args)
    if "pmedmem" in only:
        bench_pmedmem(args)


if __name__ == "__main__":
    main()
