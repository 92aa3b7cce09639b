"""The planner's loop, measured: demo time, re-run after a budget change, --baseline, reproduce.

Prints, with the machine's load average beside every timing:

1. ``lnplan demo`` from scratch (``scenarios/demo.toml``; ``--quick``: ``scenarios/quick.toml``);
2. the re-run into the same folder after ``funding.budget_yuan`` + 2,000,000 (the sites and the
   tours are reused from the folder's cache);
3. p + 2 without and with ``--baseline`` (sites kept, objective cost) and the budget change with
   ``--baseline`` (yuan moved);
4. the same scenario run twice, the second time beside two busy-loop processes: which programmes'
   tables are byte-identical, and which stopped at a wall-clock cap (those may differ);
5. peak memory (the child's maximum resident set size, from ``os.wait4``) of ``lnplan run``
   from scratch and of its re-run after the budget change into the same folder (cached).
   ``--memory-only`` runs only this part.

    python benchmarks/bench_loop.py [--quick] [--out DIR] [--memory-only]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import lnplan
from lnplan.run import SafetyCapWarning

ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def timed(label: str, scn: lnplan.scenario.Scenario, out: Path, **kw: object) -> lnplan.Plan:
    cpu0, t0 = time.process_time(), time.perf_counter()
    plan = lnplan.run(scn, out, progress=False, **kw)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    runs = {k: v["outcome"] for k, v in plan.manifest["programme_runs"].items()}
    print(f"{label}: {wall:.1f} s wall, {cpu:.1f} s CPU ({load()}); {runs}", flush=True)
    return plan


def table_hashes(plan: lnplan.Plan) -> dict[str, str]:
    out = {}
    for view in plan.views.values():
        digest = hashlib.sha256()
        for name in sorted(view.tables):
            digest.update(view.tables[name].to_csv(index=False).encode())
        out[view.name] = digest.hexdigest()[:16]
    return out


def peak_rss(label: str, args: list[str]) -> None:
    """Run ``lnplan`` in a child process and print its wall time and peak memory."""
    lnplan_cli = Path(sys.executable).with_name("lnplan")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(lnplan_cli), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    mib = usage.ru_maxrss / 1024  # kilobytes on Linux
    print(
        f"{label}: peak RSS {mib:,.0f} MiB, {wall:.1f} s wall ({load()}), exit {proc.returncode}",
        flush=True,
    )


def memory(path: Path, work: Path, budget: int) -> None:
    print("5. peak memory of `lnplan run` (child process, maximum resident set size)")
    out = str(work / "mem")
    peak_rss("   from scratch (--fresh)", ["run", str(path), "--out", out, "--fresh"])
    more = f"funding.budget_yuan={budget + 2_000_000}"
    peak_rss("   re-run after the budget change (cached)", ["run", str(path), "--out", out,
                                                          "--set", more])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick scenario")
    parser.add_argument("--out", default=None, help="folder for the runs (default: a temp dir)")
    parser.add_argument("--memory-only", action="store_true", help="only part 5 (peak memory)")
    args = parser.parse_args()
    warnings.simplefilter("ignore", SafetyCapWarning)
    path = ROOT / "scenarios" / ("quick.toml" if args.quick else "demo.toml")
    work = Path(args.out or tempfile.mkdtemp(prefix="bench-loop-"))
    scn = lnplan.load_scenario(path)
    budget = scn.funding.budget_yuan  # type: ignore[union-attr]
    p = scn.sites.p  # type: ignore[union-attr]
    if args.memory_only:
        memory(path, work, budget)
        return 0

    a = timed("1. demo from scratch", scn, work / "a", fresh=True)
    for v in a.views.values():
        print(f"   {v.name}: {lnplan.api.headline(v)}")
    print(f"   warnings: {a.warnings}")
    shutil.copytree(work / "a", work / "budget")
    more = lnplan.load_scenario(path, set={"funding.budget_yuan": budget + 2_000_000})
    timed("2. re-run after funding.budget_yuan +2,000,000", more, work / "budget")

    lnplan.cache.clear_memory()
    p2 = lnplan.load_scenario(path, set={"sites.p": p + 2})
    plain = timed(f"3a. sites.p {p} -> {p + 2} without --baseline", p2, work / "p2", fresh=True)
    stable = timed(
        f"3b. sites.p {p} -> {p + 2} with --baseline", p2, work / "p2b", baseline=work / "a"
    )
    for label, plan in (("without", plain), ("with", stable)):
        c = lnplan.compare(a, plan).summary
        print(
            f"   {label} baseline: kept {c['sites_kept']} of {p} sites, "
            f"{c['sites_removed']} removed, {c['sites_added']} added"
        )
    s = stable.sites.summary
    print(
        f"   baseline cost {s['stability_cost']:.3%} of the best "
        f"(max {stable.scenario.stability.max_loss:.2%})"
    )
    fund_b = timed(
        "3c. budget +2,000,000 with --baseline", more, work / "budget_b", baseline=work / "a"
    )
    c = lnplan.compare(a, fund_b).summary
    print(
        f"   yuan moved: +{c['yuan_added']:,} / -{c['yuan_removed']:,} over "
        f"{c['counties_changed']} counties; {fund_b.manifest['baseline']['lines']}"
    )

    print("4. reproducibility: the same scenario twice, the second beside two busy loops")
    lnplan.cache.clear_memory()
    quiet = timed("   quiet", scn, work / "r1", fresh=True)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        loaded = timed("   loaded", scn, work / "r2", fresh=True)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    hq, hl = table_hashes(quiet), table_hashes(loaded)
    for name in hq:
        capped = any(name in w for w in (*quiet.warnings, *loaded.warnings))
        same = "identical" if hq[name] == hl[name] else "DIFFERENT"
        why = " (stopped at a wall-clock cap: may differ)" if capped else ""
        print(f"   {name}: tables {same}{why}")
    memory(path, work, budget)
    print(f"runs in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
