"""What ``lnplan run --baseline`` keeps, measured on the demo (issue: keep plans stable).

Runs the demo scenario (the baseline), then each change without and with ``--baseline``:

- ``sites.p`` 80 -> 82;
- ``funding.budget_yuan`` 35M -> 37M;
- ``screening.mountain_weight`` 1.5 -> 1.6 (the tours' inputs change only here: with the two
  changes above the tours are reused from the baseline, unchanged).

For each run it prints, against the baseline run (counted on the tables, as ``lnplan compare``
counts them): sites kept (of the baseline's), yuan moved (added + removed) and counties changed,
townships visited in both runs that keep their team and trip (of how many), and each
programme's stability cost (how much worse its objective is than the best plan found: sites
coverage, the fund's deviation from need shares, the tours' weighted children screened), with
the wall time and the machine's load average. One process: a programme whose inputs did not
change is reused from the in-memory cache (as a planner's re-run would).

    python benchmarks/bench_stability.py [--quick] [--out DIR] [--results FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import lnplan
from lnplan.compare import RunTables, _compare_townships, run_tables
from lnplan.run import SafetyCapWarning

ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def townships(a: Path, b: Path) -> tuple[int, int]:
    """Townships visited in both runs, and of them those on the same team and trip."""
    ta, tb = run_tables(a), run_tables(b)
    sa, sb = ta.table("screening_routes", "schedule"), tb.table("screening_routes", "schedule")
    if sa is None or sb is None:
        return 0, 0
    both = len(set(sa["township_code"].astype(str)) & set(sb["township_code"].astype(str)))
    moved = _compare_townships(
        RunTables("a", {"screening_routes": {"schedule": sa}}),
        RunTables("b", {"screening_routes": {"schedule": sb}}),
    )
    return both, both - len(moved)


def row(label: str, base: lnplan.Plan, plan: lnplan.Plan, wall: float) -> dict[str, Any]:
    assert base.out_dir is not None and plan.out_dir is not None
    c = lnplan.compare(base, plan).summary
    both, same = townships(base.out_dir, plan.out_dir)
    views = plan.views_by_name
    runs = plan.manifest["programme_runs"]
    cost = {
        name: (
            views[name].summary.get("stability_cost")
            if name in views and runs[name]["outcome"] == "solved"
            else None
        )
        for name in ("fitness_sites", "employment_fund", "screening_routes")
    }
    return {
        "run": label,
        "sites_kept": c["sites_kept"],
        "sites_base": len(base.sites.table),
        "yuan_moved": c["yuan_added"] + c["yuan_removed"],
        "counties_changed": c["counties_changed"],
        "townships_same": same,
        "townships_both": both,
        "cost": cost,
        "solved": ",".join(k.split("_")[0] for k, v in runs.items() if v["outcome"] == "solved"),
        "wall_s": wall,
        "load": load(),
        "capped": capped(plan),
    }


def capped(plan: lnplan.Plan) -> str:
    """Programmes whose search stopped at a wall-clock safety cap (answers may vary by load)."""
    names = ("fitness_sites", "employment_fund", "screening_routes")
    return ",".join(n.split("_")[0] for n in names if any(n in w for w in plan.warnings)) or "-"


def fmt_cost(x: float | None) -> str:
    return "-" if x is None else f"{x:+.3%}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick scenario")
    parser.add_argument("--out", default=None, help="folder for the runs (default: a temp dir)")
    parser.add_argument("--results", default=None, help="also write the table to this file")
    args = parser.parse_args()
    warnings.simplefilter("ignore", SafetyCapWarning)
    path = ROOT / "scenarios" / ("quick.toml" if args.quick else "demo.toml")
    work = Path(args.out or tempfile.mkdtemp(prefix="bench-stability-"))
    scn = lnplan.load_scenario(path)
    assert scn.sites is not None and scn.funding is not None and scn.screening is not None
    p, budget, mw = scn.sites.p, scn.funding.budget_yuan, scn.screening.mountain_weight
    lines = [
        f"bench_stability.py on {path.name}, {dt.date.today()}, {os.cpu_count()} cores, "
        f"stability.max_loss = {scn.stability.max_loss:.2%}"
    ]
    print(lines[0], flush=True)
    t0 = time.perf_counter()
    base = lnplan.run(scn, work / "base", progress=False, fresh=True)
    lines.append(
        f"baseline run: {time.perf_counter() - t0:.0f} s wall (load {load()}); stopped at a "
        f"wall-clock cap: {capped(base)}"
    )
    print(lines[-1], flush=True)
    changes: list[tuple[str, dict[str, Any]]] = [
        (f"sites.p {p} -> {p + 2}", {"sites.p": p + 2}),
        (
            f"budget {budget / 1e6:g}M -> {budget / 1e6 + 2:g}M",
            {"funding.budget_yuan": budget + 2_000_000},
        ),
        (f"mountain_weight {mw:g} -> {mw + 0.1:g}", {"screening.mountain_weight": mw + 0.1}),
    ]
    rows = []
    for k, (label, change) in enumerate(changes):
        new = lnplan.load_scenario(path, set=change)
        for held in (False, True):
            name = f"{label} {'with' if held else 'without'} --baseline"
            t0 = time.perf_counter()
            plan = lnplan.run(
                new,
                work / f"c{k}{'b' if held else ''}",
                progress=False,
                baseline=base.out_dir if held else None,
            )
            rows.append(row(name, base, plan, time.perf_counter() - t0))
            r = rows[-1]
            print(
                f"  {name}: {r['wall_s']:.0f} s (load {r['load']}), solved {r['solved']}",
                flush=True,
            )
            if held:
                for text in plan.manifest["baseline"]["lines"]:
                    lines.append(f"  {name}: {text}")
                    print(lines[-1], flush=True)
    head = (
        f"{'run':<44} {'sites kept':>11} {'yuan moved':>12} {'counties':>9} "
        f"{'same team+trip':>15} {'cost sites':>11} {'cost fund':>10} {'cost tours':>11} "
        f"{'wall s':>7} {'load':>8} {'capped':>10}"
    )
    lines += ["", head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['run']:<44} {r['sites_kept']:>5} of {r['sites_base']:<3} "
            f"{r['yuan_moved']:>12,} {r['counties_changed']:>9} "
            f"{r['townships_same']:>7} of {r['townships_both']:<4} "
            f"{fmt_cost(r['cost']['fitness_sites']):>11} "
            f"{fmt_cost(r['cost']['employment_fund']):>10} "
            f"{fmt_cost(r['cost']['screening_routes']):>11} {r['wall_s']:>7.0f} {r['load']:>8} "
            f"{r['capped']:>10}"
        )
    lines.append(
        "cost: relative loss of each programme's objective against the best plan found in the "
        "same run (negative: the held plan scored better, the searches stop at work limits); "
        "'-' where it was not held (reused: its inputs did not change, or no --baseline)"
    )
    lines.append(
        "capped: programmes whose search stopped at its wall-clock safety cap in that run (their "
        "answer depends on the machine's load: the tours of two runs of the same inputs can differ)"
    )
    lines.append(f"runs in {work}")
    print("\n".join(lines[-len(rows) - 6 :]))
    if args.results:
        Path(args.results).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
