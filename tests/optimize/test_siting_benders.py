"""Benders path of the MCLP: cut validity, the LP bound, fixings, and the path against the MIP."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.optimize import linprog

from lnplan.optimize.result import contract_problems
from lnplan.optimize.siting import CoverageProblem, SiteRules, SolveParams, solve_max_coverage
from lnplan.optimize.siting import coverage as coverage_mod
from lnplan.optimize.siting._benders import MasterRows, benders_lp, row_blocks, separate


def _random(seed: int, n: int = 60, m: int = 14, density: float = 0.25):
    rng = np.random.default_rng(seed)
    cov = rng.random((n, m)) < density
    cov[np.arange(n), rng.integers(0, m, n)] = True  # every row reachable
    w = np.round(rng.uniform(0.5, 9.0, n), 1)
    return cov, w


def _f(cov: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Covered weight per row at a (fractional) y."""
    return w * np.minimum(cov.astype(float) @ y, 1.0)


def _count_rows(m: int, p: int) -> MasterRows:
    return MasterRows(
        sparse.csr_array(np.ones((1, m))),
        np.array([p * 1.0]),
        np.array([p * 1.0]),
        np.zeros(m),
        np.ones(m),
    )


@pytest.mark.parametrize("seed", range(6))
def test_cuts_are_valid_everywhere_and_tight_at_the_point(seed: int) -> None:
    cov, w = _random(seed)
    mat = sparse.csr_array(cov.astype(np.float64))
    blocks = row_blocks(mat, seed)
    nb = int(blocks.max()) + 1
    onehot = sparse.csr_array((np.ones(w.size), (blocks, np.arange(w.size))), shape=(nb, w.size))
    rng = np.random.default_rng(100 + seed)
    y = rng.random(cov.shape[1]) * rng.integers(0, 2, cov.shape[1])
    value, cuts = separate(mat, w, onehot, y)
    per_block = np.bincount(blocks, weights=_f(cov, w, y), minlength=nb)
    assert value == pytest.approx(per_block.sum())
    # Tight at y, block by block.
    at_y = cuts.const + cuts.coef @ y
    assert np.allclose(at_y, per_block[cuts.block])
    # An upper bound on every block's coverage at any other point, fractional or binary.
    for _ in range(50):
        z = rng.random(cov.shape[1])
        if rng.random() < 0.5:
            z = (z < 0.3).astype(float)
        true = np.bincount(blocks, weights=_f(cov, w, z), minlength=nb)
        assert (cuts.const + cuts.coef @ z >= true[cuts.block] - 1e-9).all()


def test_blocks_group_rows_with_one_shared_column() -> None:
    cov, _ = _random(3)
    mat = sparse.csr_array(cov.astype(np.float64))
    blocks = row_blocks(mat, 0)
    for b in np.unique(blocks):
        rows = cov[blocks == b]
        assert rows.all(axis=0).any()  # the min-hash column reaches every row of the block


def _lp_bound(cov: np.ndarray, w: np.ndarray, a_ub, b_ub, a_eq, b_eq) -> float:
    """max sum w z, z <= A y, z <= 1, rules on y: the full LP with scipy."""
    n, m = cov.shape
    c = np.concatenate([np.zeros(m), -w])
    link = np.hstack([-cov.astype(float), np.eye(n)])
    pad = lambda a: np.hstack([a, np.zeros((a.shape[0], n))])  # noqa: E731
    res = linprog(
        c,
        A_ub=np.vstack([link, pad(a_ub)]) if a_ub.size else link,
        b_ub=np.concatenate([np.zeros(n), b_ub]),
        A_eq=pad(a_eq),
        b_eq=b_eq,
        bounds=[(0, 1)] * (m + n),
        method="highs",
    )
    assert res.status == 0
    return -float(res.fun)


@pytest.mark.parametrize("seed", range(5))
def test_benders_lp_bound_equals_the_lp_with_rules(seed: int) -> None:
    cov, w = _random(seed, n=80, m=16)
    m = cov.shape[1]
    p = 4
    group = np.arange(m) % 3
    cost = np.random.default_rng(seed).uniform(1, 5, m)
    # count = p; at least 2 sites in group 0, at most 1 in group 1; budget.
    a = np.vstack([np.ones(m), (group == 0) * 1.0, (group == 1) * 1.0, cost])
    lo = np.array([p, 2, -np.inf, -np.inf])
    hi = np.array([p, np.inf, 1, 13.0])
    rows = MasterRows(sparse.csr_array(a), lo, hi, np.zeros(m), np.ones(m))
    start = np.zeros(m)
    start[np.flatnonzero(group == 0)[:2]] = 1
    start[np.argsort(np.where(group == 2, cost, np.inf))[:2]] = 1
    assert cost @ start <= 13.0
    out = benders_lp(
        sparse.csr_array(cov.astype(float)),
        w,
        rows,
        start=start,
        deadline=time.perf_counter() + 20,
        rel_tol=1e-9,
    )
    lp = _lp_bound(
        cov,
        w,
        np.vstack([-a[1], a[2], a[3]]),
        np.array([-2.0, 1.0, 13.0]),
        a[:1],
        np.array([p * 1.0]),
    )
    assert out.bound >= lp - 1e-6
    assert out.bound == pytest.approx(lp, rel=1e-6)
    assert out.best_value == pytest.approx(lp, rel=1e-6)
    assert out.master_value >= lp - 1e-6


def _spatial(seed: int, n: int = 40, m: int = 12, radius: float = 2.5):
    """Points and candidates in a 10 x 10 square; a candidate reaches points within ``radius``."""
    rng = np.random.default_rng(seed)
    pts, cands = rng.random((n, 2)) * 10, rng.random((m, 2)) * 10
    cov = np.linalg.norm(pts[:, None] - cands[None], axis=2) <= radius
    keep = cov.any(axis=1)
    return cov[keep], np.round(rng.uniform(0.5, 9.0, n), 1)[keep]


@pytest.mark.parametrize("seed", range(8))
def test_reduced_cost_fixing_keeps_every_better_solution(seed: int) -> None:
    cov, w = _spatial(seed)
    p = 3
    m = cov.shape[1]
    mat = sparse.csr_array(cov.astype(float))
    values = {
        s: float(w[cov[:, list(s)].any(axis=1)].sum()) for s in itertools.combinations(range(m), p)
    }
    ranked = sorted(values.values(), reverse=True)
    start = np.zeros(m)
    start[list(min(values, key=values.__getitem__))] = 1.0
    out = benders_lp(
        mat, w, _count_rows(m, p), start=start, deadline=time.perf_counter() + 20, rel_tol=1e-9
    )
    assert out.bound >= ranked[0] - 1e-7
    assert (out.rc_open > 0).any()
    for inc in ranked[:40]:
        closed = out.master_value - out.rc_open < inc - 1e-9
        opened = out.master_value - out.rc_close < inc - 1e-9
        for s, v in values.items():
            if v >= inc:
                y = np.zeros(m, dtype=np.bool_)
                y[list(s)] = True
                assert not (y & closed).any()
                assert (y | ~opened).all()


@st.composite
def ruled_instances(draw: st.DrawFn):
    n = draw(st.integers(4, 14))
    m = draw(st.integers(3, 8))
    cov = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    w = np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)), dtype=np.float64)
    p = draw(st.integers(1, m - 1))
    group = np.array(draw(st.lists(st.integers(0, 1), min_size=m, max_size=m)))
    gmin = draw(st.integers(0, min(int((group == 0).sum()), p)))
    gmax = draw(st.integers(gmin, p))
    n_ex = draw(st.integers(0, 1))
    existing = np.array([j for j in range(m) if group[j] == 0][:n_ex], np.int64)
    excluded = np.array([j for j in range(m) if j not in existing][-draw(st.integers(0, 1)) :][:1])
    excluded = excluded if draw(st.booleans()) else np.zeros(0, np.int64)
    return cov, w, p, group, gmin, gmax, existing, excluded.astype(np.int64)


def _feasible(s, group, gmin, gmax, existing, excluded) -> bool:
    g0 = sum(1 for j in s if group[j] == 0)
    return (
        gmin <= g0 <= gmax
        and set(existing.tolist()) <= set(s)
        and not set(excluded.tolist()) & set(s)
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ruled_instances())
def test_benders_path_matches_mip_and_brute_force_with_rules(inst: tuple) -> None:
    cov, w, p, group, gmin, gmax, existing, excluded = inst
    feasible = [
        s
        for s in itertools.combinations(range(cov.shape[1]), p)
        if _feasible(s, group, gmin, gmax, existing, excluded)
    ]
    if not feasible:
        return
    rules = SiteRules(
        existing=existing,
        excluded=excluded,
        candidate_group=group,
        group_min={0: gmin},
        group_max={0: gmax},
    )
    problem = CoverageProblem(w, sparse.csr_array(cov.astype(np.float64)), p, rules)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage_mod, "_MIP_DIRECT_NNZ", -1)
        r = solve_max_coverage(problem, SolveParams(time_limit_s=20))
    mip = solve_max_coverage(problem, SolveParams(time_limit_s=20))
    best = max(float(w[cov[:, list(s)].any(axis=1)].sum()) for s in feasible)
    assert mip.objective == pytest.approx(best)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best)
    assert r.bound == pytest.approx(best)
    assert r.covered_demand == pytest.approx(best)
    chosen = r.chosen.tolist()
    assert len(chosen) == p == len(set(chosen))
    assert _feasible(chosen, group, gmin, gmax, existing, excluded)
    for i, a in enumerate(r.assignment.tolist()):
        if a >= 0:
            assert a in chosen and cov[i, a]
        else:
            assert not cov[i, r.chosen].any()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_benders_path_proves_optimum_with_an_lp_gap_and_budget(seed: int) -> None:
    # 60 x 14 random covers with p = 4 leave an LP gap, so the proof needs fixing + the MIP.
    cov, w = _random(seed)
    m = cov.shape[1]
    cost = np.random.default_rng(seed).integers(1, 4, m).astype(float)
    budget = 9.0
    group = np.arange(m) % 2
    rules = SiteRules(
        candidate_group=group, group_min={1: 1}, site_cost_yuan=cost, budget_yuan=budget
    )
    best = max(
        float(w[cov[:, list(s)].any(axis=1)].sum())
        for s in itertools.combinations(range(m), 4)
        if cost[list(s)].sum() <= budget and (group[list(s)] == 1).sum() >= 1
    )
    problem = CoverageProblem(w, sparse.csr_array(cov.astype(np.float64)), 4, rules)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage_mod, "_MIP_DIRECT_NNZ", -1)
        r = solve_max_coverage(problem, SolveParams(time_limit_s=20))
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best)
    assert r.details["lp_bound"] >= best - 1e-7
    assert r.engine.startswith("Benders")
    assert cost[r.chosen].sum() <= budget


@pytest.mark.parametrize("limit", [0.2, 1.0])
def test_benders_path_under_a_short_time_limit_stays_consistent(limit: float) -> None:
    cov, w = _spatial(11, n=300, m=40, radius=2.0)
    p = 6
    problem = CoverageProblem(w, sparse.csr_array(cov.astype(np.float64)), p)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage_mod, "_MIP_DIRECT_NNZ", -1)
        r = solve_max_coverage(problem, SolveParams(time_limit_s=limit))
    exact = solve_max_coverage(problem, SolveParams(time_limit_s=20))
    assert exact.status == "optimal"
    assert r.chosen.size == p
    assert r.objective <= exact.objective + 1e-7
    assert r.bound >= exact.objective - 1e-7
    assert r.covered_demand == pytest.approx(r.objective)
    assert r.status in ("optimal", "feasible")
    assert contract_problems(r) == []
    if r.status == "optimal":
        assert r.objective == pytest.approx(exact.objective)


def test_greedy_leaves_room_in_the_budget_for_the_sites_still_to_pick() -> None:
    # c0 and c1 cover the most but cost 5 each; with a budget of 6 and three sites to open, the
    # greedy must not take either (the two sites still to pick cost at least 1 + 1).
    cov = np.array([[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 1, 0]], float)
    cov = np.vstack([cov, [[1, 1, 0, 0, 0]] * 3, [[0, 0, 0, 0, 1]]])
    w = np.ones(cov.shape[0])
    cost = np.array([5.0, 5.0, 1.0, 1.0, 4.0])
    rules = SiteRules(site_cost_yuan=cost, budget_yuan=6.0)
    prepared = coverage_mod.prepare_rules(rules, 5, 3)
    red = coverage_mod._reduce(
        sparse.csr_array(cov),
        w,
        prepared,
        outside_open=np.zeros(0, np.int64),
        removed_cols=None,
        group_idx=None,
        n_free=3,
        dominance=False,
    )
    g = coverage_mod._greedy(red, prepared, 3, 3)
    assert g is not None
    assert cost[red.cols[g]].sum() <= 6.0
    assert sorted(red.cols[g].tolist()) == [2, 3, 4]
