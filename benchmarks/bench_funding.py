"""Benchmark: fund allocation and integer apportionment on 100 seeded synthetic counties.

Measures, after import and one warm-up solve (the targets of issue 5 in brackets):

- one allocation of 35,000,000 yuan in 10,000-yuan units to 100 counties, per objective
  (<= 50 ms);
- the 21-point budget sensitivity sweep 25M..45M (<= 1 s);
- a re-run after a quota change (one county's floor raised; the budget moved by one unit);
- apportionment of the six whole-number targets over 100 regions, per method, and a re-run after
  a total changes;
- peak memory of one allocation of 35,000,000 yuan among 20 counties with a 10,000-, 100- and
  1-yuan unit, per objective (issue 13, defect 8: the old marginal-analysis hint built
  counties x budget/unit arrays, 490 MB at a 100-yuan unit and out of memory at 1 yuan). Each
  case runs in a fresh child process and reports its peak resident set (``VmHWM``, which
  includes Python, numpy and OR-Tools themselves) and the peak of Python-side allocations
  (``tracemalloc``, numpy buffers included, CP-SAT's own memory not), with the solve time.

Times are wall-clock medians (and maxima) over ``--repeat`` runs in this process, single-threaded
CP-SAT. Report the machine load (printed at the end, from ``os.getloadavg``) with the numbers.

    .venv/bin/python benchmarks/bench_funding.py [--repeat 7] [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from lnplan.optimize.apportion import METHODS, ApportionProblem, apportion
from lnplan.optimize.funding import (
    OBJECTIVES,
    EffectCurve,
    FundingProblem,
    budget_range,
    budget_sensitivity,
    solve_funding,
)

N = 100
BUDGET_YUAN = 35_000_000
UNIT_YUAN = 10_000
TARGETS = {
    "jobs": 7_500,
    "trainees": 15_000,
    "renovations": 7_000,
    "home_fitness": 1_600,
    "five_ones": 1_000,
    "children": 6_200,
}


def synthetic_problem(seed: int = 0) -> FundingProblem:
    """100 counties: gamma-distributed need, 100k floors, 2M caps, 4-piece concave job curves."""
    rng = np.random.default_rng(seed)
    need = rng.gamma(2.0, 1000.0, N)
    curves = []
    for _ in range(N):
        xs = np.array([5e4, 2e5, 6e5, 2e6])
        slopes = np.array([4e-4, 2e-4, 1e-4, 3e-5]) * rng.uniform(0.5, 1.5)
        ys = np.cumsum(slopes * np.diff(np.r_[0.0, xs]))
        curves.append(EffectCurve(tuple(xs), tuple(ys)))
    return FundingProblem(
        names=tuple(f"county_{i:03d}" for i in range(N)),
        need=need,
        budget_yuan=BUDGET_YUAN,
        unit_yuan=UNIT_YUAN,
        floor_yuan=np.full(N, 100_000.0),
        cap_yuan=np.full(N, 2_000_000.0),
        effect_curves=tuple(curves),
    )


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    out: object = None
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times), out


MEMORY_COUNTIES = 20
MEMORY_UNITS = (10_000, 100, 1)


def _peak_rss_mib() -> float:
    """This process's peak resident set: VmHWM (per process image; ``ru_maxrss`` would carry the
    parent's peak across fork and exec), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(unit_yuan: int, objective: str) -> None:
    """One allocation in this (fresh) process; prints peak RSS and tracemalloc peak in MiB."""
    p = synthetic_problem()
    k = MEMORY_COUNTIES
    p = replace(
        p,
        names=p.names[:k],
        need=p.need[:k],
        floor_yuan=None,
        cap_yuan=None,
        effect_curves=None if p.effect_curves is None else p.effect_curves[:k],
        unit_yuan=unit_yuan,
    )
    tracemalloc.start()
    start = time.perf_counter()
    r = solve_funding(p, objective)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = _peak_rss_mib()
    print(f"{rss:.1f} {peak / 2**20:.2f} {seconds * 1e3:.1f} {r.status}")


def memory_rows() -> list[str]:
    out = [
        f"{'peak memory, 35M yuan, 20 counties':<36} {'unit':>8} {'objective':<13} "
        f"{'RSS MiB':>8} {'py MiB':>8} {'ms':>8}  status"
    ]
    for unit in MEMORY_UNITS:
        for objective in OBJECTIVES:
            done = subprocess.run(
                [sys.executable, __file__, "--memory-child", str(unit), objective],
                capture_output=True,
                text=True,
                check=True,
            )
            rss, py, ms, status = done.stdout.split()
            out.append(
                f"{'':<36} {unit:>8} {objective:<13} {float(rss):>8.1f} {float(py):>8.2f} "
                f"{float(ms):>8.1f}  {status}"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--memory-child", nargs=2, metavar=("UNIT", "OBJECTIVE"), help="internal")
    args = parser.parse_args()
    if args.memory_child:
        memory_child(int(args.memory_child[0]), args.memory_child[1])
        return
    repeat = 3 if args.quick else args.repeat
    problem = synthetic_problem()
    budgets = budget_range(25_000_000, 45_000_000, 1_000_000)
    solve_funding(problem, "proportional")  # warm-up: first call loads OR-Tools' native code

    rows: list[tuple[str, str, float, float, str]] = []
    for objective in OBJECTIVES:
        med, mx, r = timed(lambda o=objective: solve_funding(problem, o), repeat)
        rows.append(("allocate 100 counties", objective, med, mx, f"{r.status}"))  # type: ignore[attr-defined]
    for objective in OBJECTIVES:
        med, mx, t = timed(
            lambda o=objective: budget_sensitivity(problem, budgets, o), max(1, repeat // 2)
        )
        ok = sum(s == "optimal" for s in t.status)  # type: ignore[attr-defined]
        rows.append(("21-point sweep", objective, med, mx, f"{ok}/21 optimal"))
    floors = np.array(problem.floor_yuan, dtype=float)
    floors[0] = 1_500_000.0
    changed = replace(problem, floor_yuan=floors, budget_yuan=BUDGET_YUAN + UNIT_YUAN)
    for objective in OBJECTIVES:
        med, mx, r = timed(lambda o=objective: solve_funding(changed, o), repeat)
        rows.append(("re-run after quota change", objective, med, mx, f"{r.status}"))  # type: ignore[attr-defined]

    rng = np.random.default_rng(1)
    weights = rng.gamma(2.0, 1000.0, N)
    names = tuple(f"region_{i:03d}" for i in range(N))
    for method in METHODS:

        def six(m: str = method) -> int:
            return sum(
                len(apportion(ApportionProblem(names, weights, total), m).ties)
                for total in TARGETS.values()
            )

        med, mx, ties = timed(six, repeat)
        rows.append(("apportion 6 targets x 100", method, med, mx, f"{ties} ties"))
    floors_int = np.zeros(N, dtype=np.int64)
    floors_int[:10] = 120
    for method in METHODS:
        med, mx, _ = timed(
            lambda m=method: apportion(
                ApportionProblem(names, weights, 15_001, floors=floors_int), m
            ),
            repeat,
        )
        rows.append(("apportion re-run (total+1, floors)", method, med, mx, ""))

    print(f"{'case':<36} {'variant':<16} {'median ms':>10} {'max ms':>10}  note")
    for case, variant, med, mx, note in rows:
        print(f"{case:<36} {variant:<16} {med * 1e3:>10.1f} {mx * 1e3:>10.1f}  {note}")
    print()
    for line in memory_rows():
        print(line)
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
