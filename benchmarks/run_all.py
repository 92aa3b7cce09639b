"""Run every benchmark script in this folder, one after another, each in its own process.

``make bench`` calls this. Each ``bench_*.py`` prints its own table; this script prints a header
per script, passes ``--quick`` to the scripts that accept it when run with ``--quick``, and exits
non-zero if any script failed. Benchmarks that need ../shared/benchmarks say so and are skipped
when it is absent.

    python benchmarks/run_all.py [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs where a script allows")
    parser.add_argument("--only", nargs="*", default=None, help="script names, e.g. travel siting")
    args = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.only]
    failed = []
    for script in scripts:
        cmd = [sys.executable, str(script)]
        if args.quick and "--quick" in script.read_text(encoding="utf-8"):
            cmd.append("--quick")
        print(f"\n=== {script.name} ({' '.join(cmd[2:]) or 'full'}) ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call(cmd, cwd=HERE.parent)
        print(f"--- {script.name}: exit {code}, {time.perf_counter() - start:.1f} s", flush=True)
        if code != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
