"""Seeded generator of realistic covering instances for the siting benchmarks.

Demand is clustered the way households are in a province of about 400 x 300 km: a few large
cities, many towns, villages around them and a thin rural background. Candidate sites sit mostly
where people live (community centres, clinics) with a few along the roads between towns.
Coordinates are in km on a plane, so the cover matrix is a plain Euclidean radius query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.spatial import cKDTree

WIDTH_KM = 400.0
HEIGHT_KM = 300.0


@dataclass(frozen=True)
class CoverInstance:
    """A generated covering instance (coordinates in km)."""

    demand_xy_km: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    candidate_xy_km: npt.NDArray[np.float64]
    demand_city: npt.NDArray[np.int64]
    candidate_city: npt.NDArray[np.int64]
    city_xy_km: npt.NDArray[np.float64]


def generate(
    n_demand: int, n_candidates: int, *, seed: int = 0, n_cities: int = 14, n_towns: int = 120
) -> CoverInstance:
    """Generate clustered demand and candidates.

    Parameters
    ----------
    n_demand, n_candidates
        Number of demand points and candidate sites.
    seed
        Seed of ``np.random.default_rng``; the same seed gives the same instance.
    n_cities, n_towns
        Large centres (spread 4-10 km) and small towns (spread 1-3 km).
    """
    rng = np.random.default_rng(seed)
    city_xy = np.column_stack(
        [rng.uniform(30, WIDTH_KM - 30, n_cities), rng.uniform(30, HEIGHT_KM - 30, n_cities)]
    )
    town_city = rng.integers(0, n_cities, n_towns)
    town_xy = city_xy[town_city] + rng.normal(0, 45, (n_towns, 2))
    town_xy[:, 0] = np.clip(town_xy[:, 0], 0, WIDTH_KM)
    town_xy[:, 1] = np.clip(town_xy[:, 1], 0, HEIGHT_KM)
    centres = np.vstack([city_xy, town_xy])
    np.concatenate([np.arange(n_cities), town_city])
    spread = np.concatenate([rng.uniform(4, 10, n_cities), rng.uniform(1, 3, n_towns)])
    size = np.concatenate([rng.pareto(1.2, n_cities) + 3.0, rng.pareto(1.5, n_towns) + 0.3])
    share = size / size.sum()

    n_rural = n_demand // 10
    n_urban = n_demand - n_rural
    which = rng.choice(len(centres), n_urban, p=share)
    urban = centres[which] + rng.normal(0, 1, (n_urban, 2)) * spread[which, None]
    rural = np.column_stack([rng.uniform(0, WIDTH_KM, n_rural), rng.uniform(0, HEIGHT_KM, n_rural)])
    demand = np.vstack([urban, rural])
    demand[:, 0] = np.clip(demand[:, 0], 0, WIDTH_KM)
    demand[:, 1] = np.clip(demand[:, 1], 0, HEIGHT_KM)
    # Household counts per point: mostly 1-3, a few apartment blocks with many.
    weights = np.minimum(rng.geometric(0.45, n_demand), 30).astype(np.float64)

    n_near = int(n_candidates * 0.85)
    pick = rng.integers(0, n_demand, n_near)
    near = demand[pick] + rng.normal(0, 1.5, (n_near, 2))
    n_road = n_candidates - n_near
    a = rng.integers(0, len(centres), n_road)
    b = rng.integers(0, len(centres), n_road)
    t = rng.uniform(0, 1, (n_road, 1))
    road = centres[a] * t + centres[b] * (1 - t) + rng.normal(0, 2, (n_road, 2))
    cand = np.vstack([near, road])
    cand[:, 0] = np.clip(cand[:, 0], 0, WIDTH_KM)
    cand[:, 1] = np.clip(cand[:, 1], 0, HEIGHT_KM)

    tree = cKDTree(city_xy)
    demand_city = tree.query(demand)[1].astype(np.int64)
    candidate_city = tree.query(cand)[1].astype(np.int64)
    return CoverInstance(demand, weights, cand, demand_city, candidate_city, city_xy)


def cover_matrix(inst: CoverInstance, radius_km: float) -> sparse.csr_array:
    """Boolean demand x candidate matrix, True where a candidate is within ``radius_km``."""
    tree_c = cKDTree(inst.candidate_xy_km)
    tree_d = cKDTree(inst.demand_xy_km)
    pairs = tree_d.sparse_distance_matrix(tree_c, radius_km, output_type="ndarray")
    return sparse.csr_array(
        (np.ones(len(pairs), dtype=np.bool_), (pairs["i"], pairs["j"])),
        shape=(len(inst.demand_xy_km), len(inst.candidate_xy_km)),
    )


def cover_matrix_chunked(
    inst: CoverInstance, radius_km: float, chunk: int = 20_000
) -> sparse.csr_array:
    """Like :func:`cover_matrix`, built in chunks of demand points to bound peak memory."""
    tree_c = cKDTree(inst.candidate_xy_km)
    n = len(inst.demand_xy_km)
    indptr = [np.zeros(1, np.int64)]
    indices = []
    offset = 0
    for s in range(0, n, chunk):
        pts = inst.demand_xy_km[s : s + chunk]
        lists = tree_c.query_ball_point(pts, radius_km, return_sorted=True)
        lens = np.fromiter((len(x) for x in lists), np.int64, len(lists))
        flat = np.fromiter((j for x in lists for j in x), np.int32, int(lens.sum()))
        indices.append(flat)
        indptr.append(offset + np.cumsum(lens))
        offset += int(lens.sum())
    ind = np.concatenate(indices)
    return sparse.csr_array(
        (np.ones(ind.size, dtype=np.bool_), ind, np.concatenate(indptr)),
        shape=(n, len(inst.candidate_xy_km)),
    )
