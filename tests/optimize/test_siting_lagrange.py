"""Lagrangian relaxation of the MCLP: bounds against brute force, fixings, the large-model path."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from lnplan.optimize.siting import CoverageProblem, SiteRules, SolveParams, solve_max_coverage
from lnplan.optimize.siting import coverage as coverage_mod
from lnplan.optimize.siting._lagrange import covered_value, lagrangian_mclp

# Four demand points, three candidates: c0 reaches {0, 1}, c1 reaches {1, 2}, c2 reaches {3}.
W = np.array([5.0, 3.0, 4.0, 1.0])
COVERS = sparse.csr_array(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64))


def _brute(cov: np.ndarray, w: np.ndarray, p: int) -> dict[tuple[int, ...], float]:
    return {
        s: float(w[cov[:, list(s)].any(axis=1)].sum())
        for s in itertools.combinations(range(cov.shape[1]), p)
    }


def test_tight_on_hand_instance() -> None:
    # Start from the poor solution {0, 2} (9 households); the optimum {0, 1} covers 12.
    out = lagrangian_mclp(
        COVERS, W, 2, incumbent=np.array([0, 2]), deadline=time.perf_counter() + 10
    )
    assert out.best_value == pytest.approx(12.0)
    assert out.best_cols.tolist() == [0, 1]
    assert out.bound == pytest.approx(12.0)  # tight: equals the optimum, below the 13 in total
    # Site 2 (one household) cannot be part of any solution beating 12.
    assert not out.fixed_open[2]


@st.composite
def instances(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    n = draw(st.integers(3, 12))
    m = draw(st.integers(3, 7))
    cov = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    cov[:, 0] |= ~cov.any(axis=1)  # every row reachable, as after the reduction
    w = np.array(
        draw(st.lists(st.floats(0.5, 9.0, allow_nan=False), min_size=n, max_size=n)),
        dtype=np.float64,
    )
    p = draw(st.integers(1, m - 1))
    return cov, w, p


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 10_000))
def test_bound_and_fixings_against_brute_force(inst: tuple, seed: int) -> None:
    cov, w, p = inst
    values = _brute(cov, w, p)
    opt = max(values.values())
    rng = np.random.default_rng(seed)
    start = np.sort(rng.choice(cov.shape[1], size=p, replace=False))
    mat = sparse.csr_array(cov.astype(np.float64))
    out = lagrangian_mclp(mat, w, p, incumbent=start, deadline=time.perf_counter() + 5)
    trivial = min(float(w.sum()), float(np.sort(cov.T.astype(float) @ w)[-p:].sum()))
    assert out.bound >= opt - 1e-9
    assert out.bound <= trivial + 1e-7
    assert out.best_value <= opt + 1e-9
    assert out.best_value >= values[tuple(start.tolist())] - 1e-9
    assert out.best_cols.size == p
    assert ((out.multipliers >= 0) & (out.multipliers <= w)).all()
    assert covered_value(sparse.csc_array(mat), w, out.best_cols) == pytest.approx(out.best_value)
    # Every solution strictly better than the returned one respects the fixings.
    for s, v in values.items():
        if v > out.best_value + 1e-7:
            y = np.zeros(cov.shape[1], dtype=np.bool_)
            y[list(s)] = True
            assert not (y & out.fixed_closed).any()
            assert (y | ~out.fixed_open).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.booleans(), st.booleans())
def test_large_model_path_matches_brute_force(inst: tuple, integral: bool, mip_after: bool) -> None:
    cov, w, p = inst
    if integral:
        w = np.round(w)
    # Send even this tiny model through the Lagrangian path; with ``mip_after`` the MIP then runs
    # on what the fixings leave, without it the result rests on the Lagrangian alone.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage_mod, "_MIP_DIRECT_NNZ", 0)
        mp.setattr(coverage_mod, "_MIP_AFTER_FIXING_NNZ", 10**9 if mip_after else -1)
        r = solve_max_coverage(
            CoverageProblem(w, sparse.csr_array(cov.astype(np.float64)), p, SiteRules()),
            SolveParams(time_limit_s=20),
        )
    opt = max(_brute(cov, w, p).values())
    assert r.objective <= opt + 1e-9
    assert r.bound >= opt - 1e-7
    assert r.covered_demand == pytest.approx(r.objective)
    if mip_after:
        assert r.status == "optimal"
    if r.status == "optimal":
        assert r.objective == pytest.approx(opt)
        assert r.bound == pytest.approx(opt)
    else:
        assert r.gap > 0
    assert len(set(r.chosen.tolist())) == p
    for i, a in enumerate(r.assignment.tolist()):
        assert (a >= 0) == bool(cov[i, r.chosen].any())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fixing_then_mip_proves_optimum_with_lp_gap(seed: int) -> None:
    # 60 x 14 random covers with p = 4 leave a Lagrangian (= LP) gap, so the proof needs the MIP
    # on the model left after fixing.
    rng = np.random.default_rng(seed)
    cov = rng.random((60, 14)) < 0.25
    w = np.round(rng.uniform(0.5, 9.0, 60), 1)
    opt = max(_brute(cov, w, 4).values())
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage_mod, "_MIP_DIRECT_NNZ", 0)
        r = solve_max_coverage(
            CoverageProblem(w, sparse.csr_array(cov.astype(np.float64)), 4, SiteRules()),
            SolveParams(time_limit_s=20),
        )
    assert r.status == "optimal"
    assert r.objective == pytest.approx(opt)
    assert r.details["lagrangian_bound"] >= opt - 1e-7
    assert r.engine.startswith("Lagrangian fixing + HiGHS")
