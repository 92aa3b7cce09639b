"""Benchmark: team routing on Solomon, Augerat A, Uchoa X and Gehring-Homberger 200 instances.

For every instance and time limit it runs, in the same process one after another:

- ``lnplan``: :func:`lnplan.optimize.routing.solve_routing` with ``engine="auto"`` (PyVRP on these
  one-day problems), the same code path the planners use, including the independent check;
- ``ortools``: the lnplan OR-Tools engine (parallel cheapest insertion + guided local search), the
  engine that also handles nights and multi-day trips;
- ``ortools-default``: OR-Tools routing with its default search parameters, same model;
- ``pyvrp``: PyVRP called directly (``pyvrp.read`` for VRPLIB, a model built here for Solomon
  files), without lnplan.

Gaps are against the reference values in ``../shared/benchmarks/reference.csv`` (sets ``solomon``,
``gehring_homberger_200``: distance-only DIMACS convention, distances truncated to one decimal;
``cvrp_A``, ``cvrp_X``: rounded Euclidean). A run that finds no feasible solution is counted as
missing and listed. Each run is single-threaded; report the machine load (``uptime``) with results.

    .venv/bin/python benchmarks/bench_routing.py [--time-limit 10 60] [--sets solomon cvrp_A]
        [--engines lnplan ortools-default pyvrp] [--quick] [--csv out.csv]

Multi-day and prize-collecting families (``--multiday``): the Orienteering Problem with Hotel
Selection (``ophs/SET_*``) and team orienteering with time windows (``toptw_solomon``), against
``routing_multiday_reference.csv``. Each instance runs through
:func:`lnplan.optimize.vrp_instances.solve_orienteering` (the same ``solve_routing`` as the
screening tours: the OR-Tools multi-day engine with lodging places for OPHS, the one-day model
for TOPTW) and its answer is re-checked from the instance file (day lengths within ``Td + 0.01``).
Printed per family and overall: hits (score equal to the reference), mean and worst gap
``(reference - score) / reference``, and answers that failed the check.

    .venv/bin/python benchmarks/bench_routing.py --multiday [--families ophs toptw]
        [--time-limit 10] [--per-family N] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path
from statistics import mean

HERE = Path(__file__).resolve().parent
SHARED = Path(
    os.environ.get("LNPLAN_SHARED_BENCHMARKS", HERE.parent.parent / "shared" / "benchmarks")
)
SETS = ("solomon", "cvrp_A", "cvrp_X", "gehring_homberger_200")
ENGINES = ("lnplan", "ortools", "ortools-default", "pyvrp")


def references(sets: list[str]) -> list[tuple[str, str, Path, float]]:
    """(set, instance, file, reference objective) for the chosen sets, in file order."""
    rows = []
    with open(SHARED / "reference.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["set"] in sets:
                rows.append(
                    (row["set"], row["instance"], SHARED / row["file"], float(row["objective"]))
                )
    return rows


def run_lnplan(
    path: Path, fmt: str, engine: str, time_limit: float, seed: int
) -> tuple[float, int]:
    from lnplan.optimize.routing import SolveParams, solve_routing
    from lnplan.optimize.vrp_instances import read_solomon, read_vrplib, to_routing_problem

    inst = read_solomon(path) if fmt == "solomon" else read_vrplib(path)
    engine_name = "auto" if engine == "lnplan" else engine
    result = solve_routing(
        to_routing_problem(inst),
        SolveParams(time_limit_s=time_limit, seed=seed, engine=engine_name),
    )
    return round(result.travel_time_s / inst.scale, 1), result.n_routes


def run_pyvrp(path: Path, fmt: str, time_limit: float, seed: int) -> tuple[float, int]:
    import pyvrp
    from pyvrp.stop import MaxRuntime

    if fmt == "vrplib":
        data = pyvrp.read(path, round_func="round")
        scale = 1
    else:
        from lnplan.optimize.vrp_instances import read_solomon

        inst = read_solomon(path)  # only to parse the text; the model is built with PyVRP's API
        assert inst.ready is not None and inst.due is not None and inst.service is not None
        m = pyvrp.Model()
        open_s, close_s = int(inst.ready[0]), int(inst.due[0])
        locs = [m.add_location(x=0, y=0) for _ in range(inst.n_customers + 1)]
        depot = m.add_depot(locs[0], tw_early=open_s, tw_late=close_s)
        m.add_vehicle_type(
            num_available=inst.n_vehicles,
            capacity=[inst.capacity],
            start_depot=depot,
            end_depot=depot,
            tw_early=open_s,
            tw_late=close_s,
        )
        for k in range(1, inst.n_customers + 1):
            m.add_client(
                locs[k],
                delivery=[int(inst.demand[k])],
                service_duration=int(inst.service[k]),
                tw_early=int(inst.ready[k]),
                tw_late=int(inst.due[k]),
            )
        for a, fa in enumerate(locs):
            for b, fb in enumerate(locs):
                if a != b:
                    d = int(inst.cost[a, b])
                    m.add_edge(fa, fb, distance=d, duration=d)
        data = m.data()
        scale = 10
    result = pyvrp.solve(
        data, stop=MaxRuntime(time_limit), seed=seed, display=False, collect_stats=False
    )
    if not result.best.is_feasible():
        raise RuntimeError("no feasible solution")
    return round(result.cost() / scale, 1), result.best.num_routes()


def multiday_references(families: list[str]) -> list[tuple[str, str, Path, float, int]]:
    """(family, instance, file, reference score, routes) from routing_multiday_reference.csv."""
    rows = []
    with open(SHARED / "routing_multiday_reference.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            fam = row["family"]
            if not any(fam == x or fam.startswith(x + "/") or fam.startswith(x) for x in families):
                continue
            routes = 1
            if "_m" in row["instance"] and fam.startswith("toptw"):
                routes = int(row["instance"].rsplit("_m", 1)[1])
            rows.append(
                (fam, row["instance"], SHARED / row["path"], float(row["objective"]), routes)
            )
    return rows


def stopped_by(res: dict) -> str:
    """Which limit ended each search of an orienteering run, from its work and warnings."""
    work, warnings = res["work"], " ".join(res["warnings"])
    engine = res["engine"]
    ortools = f"{engine}: clock" if "stopped by time_limit_s" in warnings else f"{engine}: work"
    if "local_search_iterations" not in work:
        return f"[{ortools}]"
    cut = "local search was stopped by time_limit_s" in warnings
    n = int(work["local_search_iterations"])
    return f"[{ortools}; local search {n} it: {'clock' if cut else 'iterations'}]"


def run_multiday(args: argparse.Namespace) -> int:
    from lnplan.optimize.routing import SolveParams
    from lnplan.optimize.vrp_instances import solve_orienteering

    rows = multiday_references(args.families)
    if args.per_family:
        kept, count = [], {}
        for r in rows:
            if count.get(r[0], 0) < args.per_family:
                kept.append(r)
                count[r[0]] = count.get(r[0], 0) + 1
        rows = kept
    if args.instances:
        rows = [r for r in rows if r[1] in args.instances]
    print(f"load: {os.getloadavg()}; {len(rows)} instances; limits {args.time_limit} s; "
          f"OR-Tools max_iterations {args.max_iterations}; local_search_iterations "
          f"{args.local_search_iterations}", flush=True)  # fmt: skip
    out = []
    for limit in args.time_limit:
        for fam, name, path, ref, routes in rows:
            fmt = "ophs" if fam.startswith("ophs") else "toptw"
            try:
                res = solve_orienteering(
                    path, fmt, routes=routes,
                    params=SolveParams(
                        time_limit_s=limit, seed=args.seed, max_iterations=args.max_iterations,
                        local_search_iterations=args.local_search_iterations,
                    ),
                )  # fmt: skip
                score, ok = float(res["objective"]), bool(res["benchmark_checked"])  # type: ignore[arg-type]
                took = float(res["time_s"])  # type: ignore[arg-type]
                engine = str(res["engine"]) + " " + stopped_by(res)
            except Exception as exc:  # a failed run is reported, not fatal
                score, ok, took, engine = float("nan"), False, float("nan"), type(exc).__name__
            gap = 100.0 * (ref - score) / ref if ok else float("nan")
            out.append({"time_limit_s": limit, "family": fam, "instance": name, "reference": ref,
                        "objective": score, "gap_pct": gap, "checked": ok, "time_s": took,
                        "engine": engine})  # fmt: skip
            print(f"{limit:>4.0f}s {fam:<18} {name:<24} ref {ref:>6.0f}  score {score:>6.0f}  "
                  f"gap {gap:6.2f}%  {'checked' if ok else 'FAILED'}  {took:.1f} s {engine}  "
                  f"load {os.getloadavg()[0]:.1f}",
                  flush=True)  # fmt: skip
    print(f"\nsummary (hits = score equal to the reference); load now {os.getloadavg()}")
    for limit in args.time_limit:
        groups: dict[str, list[dict]] = {}
        for r in out:
            if r["time_limit_s"] != limit:
                continue
            groups.setdefault(r["family"], []).append(r)
            groups.setdefault(r["family"].split("/")[0] + " (all)", []).append(r)
        for fam, rs in sorted(groups.items()):
            gaps = [r["gap_pct"] for r in rs if r["checked"]]
            hits = sum(1 for g in gaps if abs(g) < 1e-9)
            failed = len(rs) - len(gaps)
            mean_gap = f"{mean(gaps):6.2f}%" if gaps else "   n/a"
            worst = f"{max(gaps):6.2f}%" if gaps else "   n/a"
            print(f"{limit:>4.0f}s {fam:<22} n {len(rs):>3}  hits {hits:>3}  mean gap {mean_gap}  "
                  f"worst {worst}  failed {failed}")  # fmt: skip
    if args.csv and out:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(out[0]))
            writer.writeheader()
            writer.writerows(out)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--time-limit", type=float, nargs="+", default=[10.0], help="seconds per run"
    )
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--engines", nargs="+", default=["lnplan", "ortools-default", "pyvrp"],
                        choices=ENGINES)  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="3 instances per set, 2 s")
    parser.add_argument("--instances", nargs="*", default=None, help="only these instance names")
    parser.add_argument("--limit", type=int, default=None, help="first N instances per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", type=Path, default=None, help="write per-run rows here")
    parser.add_argument("--multiday", action="store_true", help="OPHS and TOPTW families")
    parser.add_argument("--families", nargs="+", default=["ophs", "toptw"],
                        help="ophs, toptw or a family such as ophs/SET_1-2")  # fmt: skip
    parser.add_argument("--per-family", type=int, default=None, help="first N per family")
    parser.add_argument("--max-iterations", type=int, default=None,
                        help="OR-Tools solution limit (default: the clock)")  # fmt: skip
    parser.add_argument("--local-search-iterations", type=int, default=None,
                        help="OPHS local search work limit")  # fmt: skip
    args = parser.parse_args()
    if args.multiday:
        if not (SHARED / "routing_multiday_reference.csv").is_file():
            print(f"skipped: multi-day benchmark instances not found at {SHARED}")
            return 0
        return run_multiday(args)
    if not (SHARED / "reference.csv").is_file():
        print(f"skipped: benchmark instances not found at {SHARED}")
        return 0
    if args.quick:
        args.time_limit, args.limit = [2.0], 3
    rows = references(args.sets)
    if args.instances:
        rows = [r for r in rows if r[1] in args.instances]
    if args.limit:
        kept, count = [], dict.fromkeys(SETS, 0)
        for r in rows:
            if count[r[0]] < args.limit:
                kept.append(r)
                count[r[0]] += 1
        rows = kept
    print(f"load: {os.getloadavg()}; {len(rows)} instances; engines {args.engines}; "
          f"limits {args.time_limit} s", flush=True)  # fmt: skip
    out = []
    for limit in args.time_limit:
        for set_name, name, path, ref in rows:
            fmt = "vrplib" if path.suffix == ".vrp" else "solomon"
            line = [f"{limit:>4.0f}s {set_name:<22} {name:<10} ref {ref:>9.1f}"]
            for engine in args.engines:
                t0 = time.perf_counter()
                try:
                    if engine == "pyvrp":
                        obj, routes = run_pyvrp(path, fmt, limit, args.seed)
                    else:
                        obj, routes = run_lnplan(path, fmt, engine, limit, args.seed)
                    gap = 100.0 * (obj - ref) / ref
                    line.append(f"{engine} {obj:>9.1f} ({gap:5.2f}%)")
                except Exception as exc:  # a failed run is reported, not fatal
                    obj, routes, gap = float("nan"), 0, float("nan")
                    line.append(f"{engine} FAILED ({type(exc).__name__})")
                elapsed = time.perf_counter() - t0
                row = {
                    "time_limit_s": limit,
                    "set": set_name,
                    "instance": name,
                    "reference": ref,
                    "engine": engine,
                    "objective": obj,
                    "gap_pct": gap,
                    "routes": routes,
                    "time_s": round(elapsed, 2),
                }
                out.append(row)
            print("  ".join(line), flush=True)
    print(f"\nsummary (mean gap %, runs with a solution / runs); load now {os.getloadavg()}")
    for limit in args.time_limit:
        for set_name in args.sets:
            parts = []
            for engine in args.engines:
                gaps = [
                    r["gap_pct"] for r in out
                    if r["time_limit_s"] == limit and r["set"] == set_name and r["engine"] == engine
                ]  # fmt: skip
                ok = [g for g in gaps if g == g]
                if gaps:
                    shown = f"{mean(ok):6.2f}%" if ok else "   n/a"
                    parts.append(f"{engine} {shown} ({len(ok)}/{len(gaps)})")
            if parts:
                print(f"{limit:>4.0f}s {set_name:<22} " + "  ".join(parts))
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(out[0]))
            writer.writeheader()
            writer.writerows(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
