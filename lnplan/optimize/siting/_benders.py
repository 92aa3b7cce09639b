"""Benders cutting planes for the LP relaxation of the maximal covering problem.

Cordeau, Furini and Ljubić (2019), "Benders decomposition for very large scale partial set covering
and maximal covering location problems", EJOR. For the reduced MCLP (rows ``i`` with weight
``w_i``, ``N_i`` the model columns reaching row ``i``)

    max sum_i w_i min(1, sum_{j in N_i} y_j)   s.t. rule rows on y, 0 <= y <= 1,

the rows are split into blocks ``b`` and each block gets a variable ``theta_b`` (households
covered in the block). For any ``y`` (fractional too) the cut

    theta_b <= sum_{i in b, c_i >= 1} w_i + sum_j y_j sum_{i in b, c_i < 1, j in N_i} w_i,

with ``c = A y``, is valid: every row's ``min(1, .)`` is at most 1 and at most
``sum_{N_i} y``. It is tight at ``y``, so the master LP ``max sum_b theta_b`` over the cuts and
the rule rows (count, group bounds, budget: rows on ``y`` only) converges to the LP bound of the
full model while holding only the ``y`` columns. Separation is one sparse matrix-vector product
and one sparse product.

Blocks are rows sharing a min-hash of their cover sets (one random order of the columns; a row
goes to the first of its columns in that order), so rows of one block lie close together and
their cuts touch few columns. Kelley's plain cutting planes zig-zag; the in-out stabilisation of
Ben-Ameur and Neto (2007) separates at ``alpha * y_out + (1 - alpha) * y_in`` instead, with
``y_in`` moved half-way towards each master solution, as Cordeau et al. do. Cuts slack for a few
master solves in a row are dropped. The master is solved by HiGHS (dual simplex, through
``scipy.optimize.linprog``); its reduced costs give exact fixing against an incumbent: a site
at zero with reduced cost ``d_j`` can be opened only in solutions worth at most
``master - d_j``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import linprog

from lnplan.optimize.siting._model import FloatArray, IntArray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MasterRows:
    """Linear rows on the site variables, ``lo <= a @ y <= hi``, and the bounds of ``y``."""

    a: sparse.csr_array
    lo: FloatArray
    hi: FloatArray
    lb: FloatArray
    ub: FloatArray


@dataclass(frozen=True)
class BendersOutcome:
    """LP bound of the MCLP from Benders cuts (covered weight within the model, no constants).

    ``master_value`` is the objective of the last master LP and ``rc_open`` / ``rc_close`` its
    reduced costs: a solution with ``y_j = 1`` for a site at zero is worth at most
    ``master_value - rc_open[j]``, one with ``y_j = 0`` for a site at one at most
    ``master_value - rc_close[j]`` (both arrays are zero elsewhere).
    """

    bound: float
    y: FloatArray
    best_y: FloatArray
    best_value: float
    master_value: float
    rc_open: FloatArray
    rc_close: FloatArray
    iterations: int
    n_blocks: int
    n_cuts: int


def row_blocks(mat: sparse.csr_array, seed: int = 0) -> IntArray:
    """Block of each row: the first of its columns in one random order (min-hash)."""
    r, k = mat.shape
    if r == 0:
        return np.zeros(0, np.int64)
    order = np.random.default_rng(seed).permutation(k)
    indptr = np.asarray(mat.indptr, np.int64)
    if not (np.diff(indptr) > 0).all():
        raise ValueError("every row needs at least one column")
    first = np.minimum.reduceat(order[mat.indices], indptr[:-1])
    _, block = np.unique(first, return_inverse=True)
    out: IntArray = block.ravel().astype(np.int64)
    return out


@dataclass(frozen=True)
class Cuts:
    """Cuts ``theta_{block[c]} <= const[c] + coef[c] @ y``."""

    coef: sparse.csr_array
    const: FloatArray
    block: IntArray


def separate(
    mat: sparse.csr_array,
    w: FloatArray,
    onehot: sparse.csr_array,
    y: FloatArray,
) -> tuple[float, Cuts]:
    """The true value ``sum_i w_i min(1, (A y)_i)`` at ``y`` and the cut of every block there.

    ``onehot`` is blocks x rows with a one in each row's block.
    """
    cnt = np.asarray(mat @ y).ravel()
    full = cnt >= 1.0 - 1e-9
    value = float(w @ np.minimum(cnt, 1.0))
    const = np.asarray(onehot @ (w * full)).ravel()
    short = np.flatnonzero(~full)
    sub = sparse.csr_array(mat[short])
    sub = sparse.csr_array(
        (w[short].repeat(np.diff(sub.indptr)), sub.indices, sub.indptr), sub.shape
    )
    coef = sparse.csr_array(onehot[:, short] @ sub)
    return value, Cuts(coef, const, np.arange(onehot.shape[0], dtype=np.int64))


def _take(c: Cuts, mask: npt.NDArray[np.bool_]) -> Cuts:
    idx = np.flatnonzero(mask)
    return Cuts(sparse.csr_array(c.coef[idx]), c.const[idx], c.block[idx])


def _stack(parts: list[Cuts], k: int) -> Cuts:
    coef = sparse.vstack([p.coef for p in parts], format="csr") if parts else None
    if coef is None:
        coef = sparse.csr_array((0, k))
    return Cuts(
        sparse.csr_array(coef),
        np.concatenate([p.const for p in parts]) if parts else np.zeros(0),
        np.concatenate([p.block for p in parts]) if parts else np.zeros(0, np.int64),
    )


def _cut_values(c: Cuts, y: FloatArray) -> FloatArray:
    out: FloatArray = c.const + np.asarray(c.coef @ y).ravel()
    return out


def benders_lp(
    mat: sparse.csr_array,
    w: FloatArray,
    rows: MasterRows,
    *,
    start: FloatArray,
    deadline: float,
    rel_tol: float = 1e-5,
    alpha: float = 0.3,
    purge_after: int = 5,
    seed: int = 0,
    max_iter: int = 10_000,
) -> BendersOutcome:
    """Bound the LP relaxation of the MCLP with stabilised Benders cuts.

    Parameters
    ----------
    mat
        Merged rows x model columns, nonzero where the column reaches the row; every row has a
        column.
    w
        Weight per row (households).
    rows
        The rule rows and bounds of the site variables.
    start
        A point satisfying ``rows`` (e.g. a greedy solution), the first in-point.
    deadline
        ``time.perf_counter()`` value after which no further master is solved.
    rel_tol
        Stop when the master bound is within this share of the best value found at an LP point.
    alpha
        Weight of the master solution in the separation point.
    purge_after
        Drop a cut after this many master solutions in a row that leave it slack.
    seed
        Seed of the min-hash that forms the blocks.
    max_iter
        Cap on master solves.

    Raises
    ------
    ValueError
        When the master LP is infeasible (the rule rows contradict each other).
    """
    r, k = mat.shape
    w = np.asarray(w, np.float64)
    mat = sparse.csr_array(mat)
    if mat.dtype != np.float64:
        mat = sparse.csr_array(mat, dtype=np.float64)
    block = row_blocks(mat, seed)
    nb = int(block.max()) + 1 if r else 0
    onehot = sparse.csr_array((np.ones(r), (block, np.arange(r))), shape=(nb, r))
    # Rule rows as A_ub / A_eq for linprog (variables: y then theta).
    a = sparse.csr_array(rows.a, dtype=np.float64)
    eq = np.isfinite(rows.lo) & np.isfinite(rows.hi) & (rows.lo == rows.hi)
    up = ~eq & np.isfinite(rows.hi)
    down = ~eq & np.isfinite(rows.lo)
    a_eq = sparse.hstack([a[eq], sparse.csr_array((int(eq.sum()), nb))], format="csr")
    b_eq = rows.lo[eq]
    rule_ub = sparse.vstack([a[up], -a[down]], format="csr")
    rule_b = np.concatenate([rows.hi[up], -rows.lo[down]])
    # No upper bound on theta (the cuts bound it: every block has one from the start, and the
    # tightest cut of each block is never dropped); bounds on theta were measured to slow the
    # master's simplex down by half.
    bounds = np.column_stack(
        [
            np.concatenate([rows.lb, np.full(nb, -np.inf)]),
            np.concatenate([rows.ub, np.full(nb, np.inf)]),
        ]
    )
    cost = np.concatenate([np.zeros(k), -np.ones(nb)])
    scale = max(1.0, float(w.sum()))

    y_in = np.asarray(start, np.float64).copy()
    best_value, cuts0 = separate(mat, w, onehot, y_in)
    best_y = y_in.copy()
    pool = cuts0
    age = np.zeros(pool.const.size, np.int64)
    bound = math.inf
    master_value = math.inf
    y_out = y_in.copy()
    rc_open = np.zeros(k)
    rc_close = np.zeros(k)
    it = 0
    for it in range(1, max_iter + 1):
        n_c = pool.const.size
        a_cut = sparse.hstack(
            [
                -pool.coef,
                sparse.csr_array((np.ones(n_c), (np.arange(n_c), pool.block)), shape=(n_c, nb)),
            ],
            format="csr",
        )
        a_rule = sparse.hstack([rule_ub, sparse.csr_array((rule_ub.shape[0], nb))], format="csr")
        res = linprog(
            cost,
            A_ub=sparse.vstack([a_cut, a_rule], format="csr"),
            b_ub=np.concatenate([pool.const, rule_b]),
            A_eq=a_eq if a_eq.shape[0] else None,
            b_eq=b_eq if a_eq.shape[0] else None,
            bounds=bounds,
            method="highs-ds",
            # A master never runs past the deadline (HiGHS's own time limit, in seconds).
            options={"time_limit": max(deadline - time.perf_counter(), 0.05)},
        )
        if res.status == 2:
            raise ValueError("the rule rows on the sites are infeasible")
        if res.status != 0:
            log.debug("Benders master: linprog status %d (%s)", res.status, res.message)
            break
        x = res.x
        y_out = np.clip(x[:k], rows.lb, rows.ub)
        theta = x[k:]
        master_value = -float(res.fun)
        rc_open = np.maximum(np.asarray(res.lower.marginals[:k]), 0.0)
        rc_close = np.maximum(-np.asarray(res.upper.marginals[:k]), 0.0)
        bound = min(bound, master_value)
        # Drop cuts left slack for ``purge_after`` masters in a row.
        slack = _cut_values(pool, x[:k]) - theta[pool.block]
        age = np.where(slack > 1e-7 * (1.0 + np.abs(pool.const)), age + 1, 0)
        tightest = np.full(nb, np.inf)
        np.minimum.at(tightest, pool.block, slack)
        keep = (age < purge_after) | (slack <= tightest[pool.block])  # a cut per block stays
        if not keep.all():
            pool, age = _take(pool, keep), age[keep]
        if bound - best_value <= rel_tol * max(scale * 1e-3, abs(bound)):
            break
        if time.perf_counter() > deadline:
            break
        new: list[Cuts] = []
        for y_sep in (alpha * y_out + (1.0 - alpha) * y_in, y_out):
            value, cuts = separate(mat, w, onehot, y_sep)
            if value > best_value:
                best_value, best_y = value, y_sep
            cut_at_out = _cut_values(cuts, y_out)
            violated = theta - cut_at_out > 1e-9 * (1.0 + np.abs(theta))
            if violated.any():
                new.append(_take(cuts, violated))
        if bound - best_value <= rel_tol * max(scale * 1e-3, abs(bound)):
            break
        if not new:
            break  # y_out is optimal for the LP: every block is tight there
        pool = _stack([pool, *new], k)
        age = np.concatenate([age, np.zeros(pool.const.size - age.size, np.int64)])
        y_in = 0.5 * (y_in + y_out)
        if it % 10 == 0:
            log.debug(
                "Benders it %d: bound %.8g, best LP point %.8g, %d cuts",
                it,
                bound,
                best_value,
                pool.const.size,
            )
    return BendersOutcome(
        bound=max(bound, best_value) if math.isfinite(bound) else math.inf,
        y=y_out,
        best_y=best_y,
        best_value=best_value,
        master_value=master_value,
        rc_open=rc_open,
        rc_close=rc_close,
        iterations=it,
        n_blocks=nb,
        n_cuts=int(pool.const.size),
    )
