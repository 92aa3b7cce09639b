"""The MCLP stops on work limits (subgradient iterations, HiGHS nodes), and its Lagrangian bound
is a valid bound (brute force on small instances)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse

from lnplan.optimize.siting import CoverageProblem, SiteRules, SolveParams, solve_max_coverage
from lnplan.optimize.siting._cover_lagrange import best_in_y, cover_lagrange
from lnplan.optimize.siting._model import prepare_rules


def _instance(seed: int, n: int = 40, m: int = 9, density: float = 0.25):
    rng = np.random.default_rng(seed)
    covers = sparse.csr_array((rng.random((n, m)) < density).astype(np.float64))
    w = rng.integers(1, 20, n).astype(np.float64)
    return w, covers, rng.integers(0, 3, m).astype(np.int64)


def _brute(w, covers, p, groups, lo, hi):
    dense = covers.toarray() > 0
    best = -1.0
    for pick in itertools.combinations(range(covers.shape[1]), p):
        counts = np.bincount(groups[list(pick)], minlength=3)
        if (counts < lo).any() or (counts > hi).any():
            continue
        best = max(best, float(w[dense[:, list(pick)].any(axis=1)].sum()))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_best_in_y_is_the_best_choice_under_group_bounds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    value = rng.integers(0, 6, 9).astype(np.float64)  # ties on purpose
    group = rng.integers(0, 3, 9).astype(np.int64)
    sizes = np.bincount(group, minlength=3)
    lo = np.minimum(rng.integers(0, 2, 3), sizes)
    hi = np.maximum(lo, np.minimum(rng.integers(1, 4, 3), sizes))
    p = int(rng.integers(1, 6))
    pick = best_in_y(value, group, lo, hi, p)
    feasible = [
        c
        for c in itertools.combinations(range(9), p)
        if ((np.bincount(group[list(c)], minlength=3) >= lo).all())
        and (np.bincount(group[list(c)], minlength=3) <= hi).all()
    ]
    if not feasible:
        assert pick is None
        return
    assert pick is not None and pick.size == p
    counts = np.bincount(group[pick], minlength=3)
    assert (counts >= lo).all() and (counts <= hi).all()
    assert value[pick].sum() == max(value[list(c)].sum() for c in feasible)


@pytest.mark.parametrize("seed", range(6))
def test_lagrangian_bound_and_answer_bracket_the_optimum(seed: int) -> None:
    w, covers, groups = _instance(seed)
    p = 4
    rules = SiteRules(candidate_group=groups, group_min={0: 1}, group_max={1: 2})
    prep = prepare_rules(rules, covers.shape[1], p)
    lo = np.array([1, 0, 0])
    hi = np.array([9, 2, 9])
    opt = _brute(w, covers, p, groups, lo, hi)
    start = np.array(
        next(
            c
            for c in itertools.combinations(range(covers.shape[1]), p)
            if (np.bincount(groups[list(c)], minlength=3) >= lo).all()
            and (np.bincount(groups[list(c)], minlength=3) <= hi).all()
        )
    )
    for iterations in (1, 5, 50):
        lag = cover_lagrange(
            covers,
            w,
            np.arange(covers.shape[1]),
            np.zeros(0, np.int64),
            prep,
            p,
            start,
            iterations=iterations,
        )
        assert lag is not None and lag.iterations <= iterations and not lag.capped
        assert lag.best_value <= opt + 1e-9 <= lag.bound + 2e-9
    # The whole solve: its bound never cuts the optimum off, whatever the work limit.
    for params in (SolveParams(max_nodes=0, max_iterations=3), SolveParams(max_iterations=40)):
        r = solve_max_coverage(CoverageProblem(w, covers, p, rules), params)
        assert r.objective <= opt + 1e-9 <= r.bound + 1e-9


def test_the_iteration_limit_stops_the_search_and_is_recorded() -> None:
    """With ``max_nodes = 0`` and few iterations the search stops on its work, not at the
    (generous) safety cap: a feasible answer, a proven gap, and the work done in ``work``."""
    w, covers, _ = _instance(11, n=400, m=60, density=0.05)
    params = SolveParams(time_limit_s=600, max_nodes=0, max_iterations=5)
    r = solve_max_coverage(CoverageProblem(w, covers, 6), params)
    assert r.status == "feasible" and 0 < r.gap < 1
    assert r.work == {"lagrange_iterations": 5.0}
    assert "time_capped" not in r.details
    again = solve_max_coverage(CoverageProblem(w, covers, 6), params)
    assert np.array_equal(r.chosen, again.chosen) and r.bound == again.bound


def test_the_node_limit_stops_highs_and_its_work_is_recorded() -> None:
    """HiGHS proves this instance after its first node; one node (``max_nodes = 1``) stops it
    before the proof: feasible, with the bound it had, and the nodes in ``work``."""
    w, covers, _ = _instance(11, n=400, m=60, density=0.05)
    problem = CoverageProblem(w, covers, 6)
    free = solve_max_coverage(problem, SolveParams(time_limit_s=600, max_iterations=0))
    assert free.status == "optimal"
    one = solve_max_coverage(problem, SolveParams(time_limit_s=600, max_nodes=1, max_iterations=0))
    assert one.status == "feasible" and one.gap > 0
    assert one.work["mip_nodes"] == 1.0 and one.work["mip_lp_iterations"] > 0
    assert one.objective <= free.objective <= one.bound
