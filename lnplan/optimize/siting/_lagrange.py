"""Lagrangian relaxation of the maximal covering problem (Galvão and ReVelle 1996).

For the reduced MCLP ``max sum_i w_i z_i`` s.t. ``z_i <= sum_j a_ij y_j``, ``sum_j y_j = p``,
``0 <= z <= 1``, ``y`` binary, multipliers ``0 <= lambda_i <= w_i`` on the linking rows give

    L(lambda) = sum_i (w_i - lambda_i) + sum of the p largest scores s_j = sum_i a_ij lambda_i,

an upper bound on the optimum for every ``lambda`` (its minimum equals the LP bound, since the
subproblem is integral). Only sparse matrix-vector products are needed, so thousands of Polyak
subgradient steps, with the best known covering value as the target, fit in seconds where the
root LP of a province-scale model does not.

Each ``lambda`` also yields a heuristic solution (the p best-scoring sites) and exact
reduced-cost fixing: forcing a site in (out) of the subproblem costs at least the gap between its
score and the p-th (p+1-th) best, and when that pushes ``L`` below the incumbent's value no
solution with the site open (closed) can beat the incumbent, so it is fixed closed (open).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.optimize.siting._model import FloatArray, IntArray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LagrangeOutcome:
    """Bound, best solution and fixings from the Lagrangian dual.

    ``bound`` and ``best_value`` are covered weight within the reduced model (no constants).
    """

    bound: float
    best_cols: IntArray
    best_value: float
    fixed_open: npt.NDArray[np.bool_]
    fixed_closed: npt.NDArray[np.bool_]
    iterations: int
    multipliers: FloatArray  # the lambda of the best bound


def covered_value(csc: sparse.csc_array, w: FloatArray, cols: IntArray) -> float:
    """Weight of the rows of ``csc`` reached by at least one of ``cols``."""
    hit = np.zeros(csc.shape[0], dtype=np.bool_)
    for j in cols:
        hit[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] = True
    return float(w[hit].sum())


def _row_hits(csc: sparse.csc_array, cols: IntArray, n_rows: int) -> FloatArray:
    parts = [csc.indices[csc.indptr[j] : csc.indptr[j + 1]] for j in cols]
    if not parts:
        return np.zeros(n_rows)
    out: FloatArray = np.bincount(np.concatenate(parts), minlength=n_rows).astype(np.float64)
    return out


def lagrangian_mclp(
    mat: sparse.csr_array,
    w: FloatArray,
    p: int,
    *,
    incumbent: IntArray,
    deadline: float,
    max_iter: int = 20_000,
    rel_tol: float = 1e-9,
    start_multipliers: FloatArray | None = None,
    theta0: float = 2.0,
    patience: int = 40,
    deflection: float = 0.3,
    scaled: bool = True,
) -> LagrangeOutcome:
    """Minimise the Lagrangian dual by projected Polyak subgradient steps.

    Parameters
    ----------
    mat
        Merged rows x model columns, nonzero where the column covers the row.
    w
        Weight per row (households).
    p
        Number of columns to open (``0 < p < mat.shape[1]``).
    incumbent
        A feasible solution (``p`` model columns), the Polyak target.
    deadline
        ``time.perf_counter()`` value at which to stop.
    max_iter
        Iteration cap.
    rel_tol
        Stop when the bound is within this share of the best value.
    start_multipliers
        Starting ``lambda`` (default: each row's weight spread over a few covering columns).
    theta0, patience
        Initial Polyak factor, halved after ``patience`` steps without a better bound.
    deflection
        Share of the previous direction added to the subgradient.
    scaled
        Take the steps in the metric ``diag(w)``, so that every row moves in proportion to its
        box ``[0, w_i]``; on the province benchmark this brought the bound after 30 s from
        about 586,000 to about 575,500 (the LP bound is 574,740).

    Returns
    -------
    LagrangeOutcome
        The best (lowest) bound, the best solution seen and the exact fixings.
    """
    r, k = mat.shape
    csc = sparse.csc_array(mat)
    # k x r, row j = rows covered by column j; int32 indices halve the index traffic.
    matT = sparse.csr_array(
        (
            np.ones(csc.nnz),
            csc.indices.astype(np.int32, copy=False),
            csc.indptr.astype(np.int32 if csc.nnz < 2**31 else np.int64, copy=False),
        ),
        shape=(k, r),
    )
    best_cols = np.sort(np.asarray(incumbent, np.int64))
    lb = covered_value(csc, w, best_cols)
    integral = bool(np.all(w == np.round(w)))
    scale = max(1.0, float(w.sum()))
    tol = 1e-9 * scale
    fixed_open = np.zeros(k, dtype=np.bool_)
    fixed_closed = np.zeros(k, dtype=np.bool_)
    # Start with each row's weight spread over a few of its covering columns.
    deg = np.maximum(np.diff(mat.indptr), 1)
    lam = np.minimum(w, 4.0 * w / deg) if start_multipliers is None else start_multipliers.copy()
    col_weight = np.asarray(matT @ w).ravel()
    # Trivial bounds: all demand; the p heaviest columns.
    best_lam = np.zeros(r)
    best_bound = min(float(w.sum()), float(np.sort(col_weight)[-p:].sum()) if p > 0 else 0.0)
    theta = theta0
    metric = w / max(float(w.mean()), 1e-300) if scaled else np.ones(r)
    stall = 0
    d_prev = np.zeros(r)
    it = 0
    seen: set[bytes] = {best_cols.tobytes()}
    for it in range(1, max_iter + 1):
        if time.perf_counter() > deadline:
            break
        s = np.asarray(matT @ lam).ravel()
        n_forced = int(fixed_open.sum())
        free = np.flatnonzero(~fixed_open & ~fixed_closed)
        p_free = p - n_forced
        sf = s[free]
        if 0 < p_free < free.size:
            part = np.argpartition(-sf, p_free)
            top = part[:p_free]
            chosen_free = free[top]
            s_p = float(sf[top].min())
            s_next = float(sf[part[p_free:]].max())
        elif p_free <= 0:
            chosen_free = np.zeros(0, np.int64)
            s_p, s_next = math.inf, float(sf.max()) if sf.size else -math.inf
        else:
            chosen_free = free
            s_p, s_next = float(sf.min()) if sf.size else math.inf, -math.inf
        chosen = np.concatenate([np.flatnonzero(fixed_open), chosen_free])
        z_part = float((w - lam).sum())
        value = z_part + float(s[chosen].sum())
        value_b = math.floor(value + 1e-6) if integral else value
        if it % 100 == 0:
            log.debug("it %d: L %.6g best %.6g lb %.6g", it, value, best_bound, lb)
        if value_b < best_bound:
            best_bound = value_b
            best_lam = lam
            stall = 0
        else:
            stall += 1
            if stall >= patience:
                theta *= 0.5
                stall = 0
                if theta < 1e-5:
                    break  # the steps no longer move the bound
        # Heuristic: the p best-scoring sites.
        key = np.sort(chosen).tobytes()
        if it % 5 == 1 and key not in seen:
            seen.add(key)
            v = covered_value(csc, w, chosen)
            if v > lb + tol:
                lb, best_cols = v, np.sort(chosen)
        # Reduced-cost fixing against the incumbent.
        if 0 < p_free < free.size:
            out_mask = np.ones(free.size, dtype=np.bool_)
            out_mask[top] = False
            close = free[out_mask & (value - s_p + sf < lb - tol)]
            opened = free[~out_mask & (value - sf + s_next < lb - tol)]
            if close.size or opened.size:
                fixed_closed[close] = True
                fixed_open[opened] = True
        if best_bound <= lb + max(tol, rel_tol * scale) or (integral and best_bound < lb + 1):
            break
        # Subgradient of L at lam (z_i = 1 where w_i > lam_i), projected on the box [0, w].
        g = _row_hits(csc, chosen, r) - (w > lam)
        g[(lam <= 0) & (g > 0)] = 0.0
        g[(lam >= w) & (g < 0)] = 0.0
        d = g + deflection * d_prev
        # Polyak step in the metric diag(w): rows move in proportion to their box [0, w_i].
        nrm = float(d @ (metric * d))
        if nrm <= 0:
            break
        step = theta * (value - lb) / nrm
        lam = np.clip(lam - step * metric * d, 0.0, w)
        d_prev = d
    log.debug(
        "Lagrangian: %d iterations, bound %.6g, best %.6g, fixed %d open / %d closed of %d",
        it,
        best_bound,
        lb,
        int(fixed_open.sum()),
        int(fixed_closed.sum()),
        k,
    )
    return LagrangeOutcome(
        bound=max(best_bound, lb),
        best_cols=best_cols,
        best_value=lb,
        fixed_open=fixed_open,
        fixed_closed=fixed_closed,
        iterations=it,
        multipliers=best_lam,
    )
