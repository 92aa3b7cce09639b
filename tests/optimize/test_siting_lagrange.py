"""Lagrangian relaxation of the MCLP: bounds against brute force, fixings."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

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
