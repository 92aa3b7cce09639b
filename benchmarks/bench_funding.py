"""Benchmark: fund allocation and integer apportionment on 100 seeded synthetic counties.

Measures, after import and one warm-up solve (the targets of issue 5 in brackets):

- one allocation of 35,000,000 yuan in 10,000-yuan units to 100 counties, per objective
  (<= 50 ms);
- the 21-point budget sensitivity sweep 25M..45M (<= 1 s);
- a re-run after a quota change (one county's floor raised; the budget moved by one unit);
- apportionment of the six whole-number targets over 100 regions, per method, and a re-run after
  a total changes.

Times are wall-clock medians (and maxima) over ``--repeat`` runs in this process, single-threaded
CP-SAT. Report the machine load (printed at the end, from ``os.getloadavg``) with the numbers.

    .venv/bin/python benchmarks/bench_funding.py [--repeat 7] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    args = parser.parse_args()
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
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
