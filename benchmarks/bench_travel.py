"""Benchmark: sparse coverage of 300,000 households x 5,000 candidates within 10 km (and 30 min).

Points are drawn inside Liaoning: households from the synthetic demo world when it can be built
(clustered like real settlement), else uniformly in the province; candidates uniformly among them.
Prints wall time, pairs found and the peak resident memory of this process (ru_maxrss, which
includes the Python interpreter and the libraries, about 200-300 MB).

Run: ``.venv/bin/python benchmarks/bench_travel.py [--households N] [--candidates M] [--quick]``
Target: seconds, and under 2 GB peak memory (exit 1 above it).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np
import shapely

from lnplan.geo import boundaries
from lnplan.geo.travel import RoadModel, within_minutes, within_radius


def uniform_in_province(n: int, rng: np.random.Generator) -> np.ndarray:
    outline = boundaries.province()
    minx, miny, maxx, maxy = outline.bounds
    shapely.prepare(outline)
    out = np.empty((0, 2))
    while len(out) < n:
        pts = np.column_stack([rng.uniform(minx, maxx, 2 * n), rng.uniform(miny, maxy, 2 * n)])
        out = np.vstack([out, pts[shapely.contains_xy(outline, pts[:, 0], pts[:, 1])]])
    return out[:n]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=300_000)
    parser.add_argument("--candidates", type=int, default=5_000)
    parser.add_argument("--radius-km", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--uniform", action="store_true", help="skip the synthetic world")
    parser.add_argument("--quick", action="store_true", help="30,000 x 1,000 (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.households, args.candidates = 30_000, 1_000
    rng = np.random.default_rng(0)

    t0 = time.perf_counter()
    source = "uniform in the province"
    households = None
    if not args.uniform:
        try:
            from lnplan.geo.synth import make_world
            from lnplan.scenario import DataSection, WorldSection

            scale = args.households / 300_000
            world = make_world(
                WorldSection(households_scale=min(scale, 10.0)), 0, data=DataSection()
            )
            households = np.column_stack([world.households.geometry.x, world.households.geometry.y])
            source = f"synthetic demo world ({len(households):,} households)"
        except ImportError:
            households = None
    if households is None:
        households = uniform_in_province(args.households, rng)
    candidates = households[rng.choice(len(households), args.candidates, replace=False)]
    candidates = candidates + rng.normal(0, 0.005, candidates.shape)
    t_points = time.perf_counter() - t0
    print(f"households: {len(households):,} ({source}); candidates: {len(candidates):,}")
    print(f"making points: {t_points:.2f} s; peak RSS so far {peak_rss_mb():.0f} MB")

    t0 = time.perf_counter()
    cov = within_radius(households, candidates, radius_km=args.radius_km)
    t_radius = time.perf_counter() - t0
    print(
        f"within_radius {args.radius_km:g} km: {t_radius:.2f} s, {cov.nnz:,} pairs "
        f"({cov.nnz / len(households):.1f} per household), matrix "
        f"{(cov.data.nbytes + cov.indices.nbytes + cov.indptr.nbytes) / 2**20:.0f} MB"
    )
    del cov

    mountain = rng.random(len(households)) < 0.2
    t0 = time.perf_counter()
    cov = within_minutes(
        households,
        candidates,
        limit_min=args.minutes,
        model=RoadModel(),
        demand_mountain=mountain,
        candidate_mountain=rng.random(len(candidates)) < 0.2,
    )
    t_min = time.perf_counter() - t0
    print(f"within_minutes {args.minutes:g} min: {t_min:.2f} s, {cov.nnz:,} pairs")
    peak = peak_rss_mb()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"peak RSS: {peak:.0f} MB (limit 2048 MB); load average: {load}")
    if peak > 2048:
        print("FAIL: peak memory above 2 GB")
        sys.exit(1)


if __name__ == "__main__":
    main()
