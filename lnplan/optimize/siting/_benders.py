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

:func:`max_coverage_benders` is the large-MCLP path built on it (see :mod:`.coverage`): the LP
bound, an incumbent from the LP's sites, reduced-cost fixing, then MIPs over growing site sets
with the incumbent as cutoff.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import linprog

from lnplan.errors import InfeasibleError
from lnplan.optimize.siting._common import add_rule_rows, site_bounds
from lnplan.optimize.siting._mip import MipBuilder, MipOutcome, add_mip_work
from lnplan.optimize.siting._model import (
    FloatArray,
    IntArray,
    PreparedRules,
    SitingResult,
    SolveParams,
)
from lnplan.optimize.siting.coverage_model import CoverageCheck, _solve_mip, assemble_coverage
from lnplan.optimize.siting.heuristics import _swap_improve
from lnplan.optimize.siting.reduction import _covered_weight, _Reduced, _restrict

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


# --- the large-MCLP path ----------------------------------------------------------------------


def _master_rows(red: _Reduced, rules: PreparedRules, n_sites: int) -> MasterRows:
    """The rule rows (count, group bounds, budget) and bounds on the model's site variables."""
    k = red.cols.size
    mip = MipBuilder.new()
    y0 = mip.add_vars(k, integer=True)
    add_rule_rows(mip, y0, red.cols, rules, n_sites, red.outside_open)
    lb, ub = site_bounds(red.cols, rules)
    if mip.rows:
        a = sparse.vstack(
            [
                sparse.csr_array((b.data, b.indices, b.indptr), shape=(b.shape[0], k))
                for b in mip.rows
            ],
            format="csr",
        )
        lo, hi = np.concatenate(mip.row_lo), np.concatenate(mip.row_hi)
    else:
        a, lo, hi = sparse.csr_array((0, k)), np.zeros(0), np.zeros(0)
    return MasterRows(sparse.csr_array(a), lo, hi, lb.astype(np.float64), ub.astype(np.float64))


def _solve_restricted_mip(
    red: _Reduced, w: FloatArray, rules: PreparedRules, **kw: object
) -> tuple[MipOutcome, IntArray, FloatArray, sparse.csr_array | None]:
    """:func:`_solve_mip` on a model restricted by fixings: a group whose sites were all fixed
    away makes that model infeasible (a fact about the restriction, not about the data)."""
    try:
        return _solve_mip(red, w, rules, **kw)  # type: ignore[arg-type]
    except InfeasibleError:
        none = MipOutcome("infeasible", None, math.nan, math.nan, 0.0)
        return none, np.zeros(0, np.int64), np.zeros(red.mat.shape[0]), None


#: Work limits of the large-MCLP path: master LPs of the Benders bound (it stops earlier once
#: within its tolerance), and neighbourhood MIPs (each stopped by ``SolveParams.max_nodes``).
_MAX_MASTERS = 200
_MAX_NEIGHBOURHOODS = 4


def max_coverage_benders(
    c: sparse.csr_array,
    w: FloatArray,
    rules: PreparedRules,
    n_sites: int,
    params: SolveParams,
    start: float,
    deadline: float,
    groups: Mapping[str, npt.ArrayLike] | None,
    red: _Reduced,
    first: IntArray,
    details: dict[str, float],
    check: CoverageCheck,
) -> SitingResult:
    """Large MCLP: Benders LP bound, LP-guided incumbent, reduced-cost fixing, MIP on the rest.

    1. The LP bound by stabilised Benders cuts (:mod:`._benders`), rules as master rows.
    2. Incumbent: the MIP restricted to the sites the LP uses (it opens few sites fractionally),
       then best-improvement swaps over all sites.
    3. Reduced-cost fixing with the final master's reduced costs against the incumbent; the
       model keeps only the sites left, rows merge again, and the MIP with the incumbent's value
       as cutoff either finds better or proves that nothing better exists.
    """
    k = red.cols.size
    const = float(w[red.pre_covered].sum())
    y0 = np.zeros(k)
    y0[first] = 1.0
    best_cols, best_val = first, _covered_weight(red, first)
    # Improvements smaller than this are ignored; it stays below the reported gap's tolerance.
    tol = 5e-10 * max(1.0, const + best_val)
    try:
        lp = benders_lp(
            red.mat,
            red.w,
            _master_rows(red, rules, n_sites),
            start=y0,
            deadline=deadline,
            rel_tol=1e-6,
            seed=params.seed,
            max_iter=_MAX_MASTERS,
        )
    except ValueError as exc:
        raise InfeasibleError(f"no choice of sites satisfies the rules together ({exc})") from exc
    details["lp_bound"] = const + lp.bound
    details["benders_iterations"] = float(lp.iterations)
    details["benders_blocks"] = float(lp.n_blocks)
    details["benders_cuts"] = float(lp.n_cuts)
    details["time_lp_s"] = time.perf_counter() - start
    bound = const + max(lp.bound, best_val)
    engine = "Benders LP bound (HiGHS) + LP-support MIP + swaps, reduced MCLP"
    # Incumbent from the LP: the MIP over the sites the LP uses, then swaps over all sites. HiGHS
    # presolve stays off in the MIPs of this path: the models are already reduced, and with it
    # the last MIP once overran the time limit by 7 s on the province model with rules.
    support = lp.y > 1e-6
    support[best_cols] = True  # the greedy solution keeps the restricted MIP feasible
    if support.sum() < k and params.max_nodes != 0:  # max_nodes = 0: no MIP at all
        red_s = _restrict(red, support, np.zeros(k, dtype=np.bool_))
        out_s, open_s, _, _ = _solve_restricted_mip(
            red_s,
            w,
            rules,
            mode="max_cover",
            n_sites=n_sites,
            params=params,
            deadline=deadline,
            presolve=False,
        )
        add_mip_work(details, out_s)
        if out_s.x is not None:
            cand = np.flatnonzero(support)[open_s]
            val = _covered_weight(red, cand)
            if val > best_val + tol:
                best_cols, best_val = cand, val
    details["lp_support_sites"] = float(support.sum())
    details["lp_support_objective"] = const + best_val
    swapped = _swap_improve(red, rules, best_cols, deadline)
    val = _covered_weight(red, swapped)
    if val > best_val + tol:
        best_cols, best_val = swapped, val
    details["heuristic_objective"] = const + best_val
    details["time_heuristic_s"] = time.perf_counter() - start
    gap_ok = 0.5 * max(params.rel_gap, 1e-9) * max(1.0, abs(bound))
    status = "optimal" if bound - const - best_val <= gap_ok else ""
    if status:
        details["proved_by"] = 0.0  # the LP bound
    # Neighbourhoods: the MIP over the LP support, the incumbent and the sites cheapest to open
    # by reduced cost, growing until it holds every site the reduced-cost fixing leaves; that
    # last MIP is exact (solutions breaking a fixing cannot beat the incumbent).
    rank = np.argsort(lp.rc_open, kind="stable")
    n_extra = 100
    rounds = 0
    while not status and params.max_nodes != 0 and math.isfinite(lp.master_value):
        closed = lp.master_value - lp.rc_open < best_val - tol
        opened = lp.master_value - lp.rc_close < best_val - tol
        hood = support.copy()
        hood[best_cols] = True
        hood[rank[:n_extra]] = True
        hood &= ~closed
        if rounds >= _MAX_NEIGHBOURHOODS or time.perf_counter() > deadline:
            break  # the work limit, or the wall-clock safety cap
        last = not (~closed & ~hood).any()
        if last:
            hood = ~closed
            details["fixed_closed"] = float(closed.sum())
            details["fixed_open"] = float(opened.sum())
        red_h = _restrict(red, hood, opened)
        n_left = n_sites - red_h.outside_open.size
        if n_left < 0 or n_left > red_h.cols.size:
            if last:
                # No solution respects the fixings: none covers more than the incumbent.
                status = "optimal"
                bound = min(bound, const + best_val)
            n_extra *= 4
            continue
        now = time.perf_counter()
        cutoff = const + best_val + tol
        out, open_h, _, _ = _solve_restricted_mip(
            red_h,
            w,
            rules,
            mode="max_cover",
            n_sites=n_sites,
            params=params,
            deadline=deadline,
            presolve=False,
            better_than=cutoff,
        )
        add_mip_work(details, out)
        rounds += 1
        details[f"time_mip{rounds}_s"] = time.perf_counter() - now
        if out.x is not None:
            cand = np.concatenate(
                [np.searchsorted(red.cols, red_h.cols[open_h]), np.flatnonzero(opened)]
            ).astype(np.int64)
            val = _covered_weight(red, cand)
            if val > best_val + tol:
                best_cols, best_val = cand, val
        if last:
            details["fixed_model_rows"] = float(red_h.mat.shape[0])
            details["fixed_model_sites"] = float(red_h.cols.size)
            details["fixed_model_nnz"] = float(red_h.mat.nnz)
            engine = "Benders LP bound + reduced-cost fixing + HiGHS MIP, reduced MCLP"
            if out.status == "infeasible":
                status = "optimal"  # nothing covers more than the cutoff
                bound = min(bound, cutoff)
            elif out.status == "optimal":
                status = "optimal"
                bound = min(bound, max(out.bound, const + best_val))
            elif math.isfinite(out.bound):
                bound = min(bound, max(out.bound, const + best_val))
            break
        if out.status not in ("optimal", "infeasible"):
            n_extra = k  # the neighbourhood was too large to settle: go to the exact model
        else:
            n_extra *= 4
    details["neighbourhood_mips"] = float(rounds)
    objective = const + best_val
    if not status:
        status = "feasible"
    yv = np.zeros(k)
    yv[best_cols] = 1.0
    row_red = (np.asarray(red.mat @ yv).ravel() > 0).astype(np.float64)
    chosen = np.concatenate([red.cols[best_cols], red.outside_open]).astype(np.int64)
    return assemble_coverage(
        c=c,
        w=w,
        red=red,
        chosen=chosen,
        row_cov=row_red,
        flows=None,
        status=status,
        objective=objective,
        bound=bound,
        start=start,
        engine=engine,
        groups=groups,
        details=details,
        check=check,
    )
