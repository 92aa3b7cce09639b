"""Lagrangian relaxation for capacitated facility location with split demand.

Relax the demand rows ``sum_j x_ij = 1`` with multipliers ``lam_i`` (Beasley 1988; Cornuejols,
Sridharan, Thizy 1991). With ``C_ij = w_i d_ij`` the subproblem splits by site: a site ``j`` open
costs ``g_j = f_j + min { sum_i (C_ij - lam_i) x_i : sum_i w_i x_i <= cap_j, 0 <= x <= 1 }``, a
continuous knapsack solved by sorting the items by ``(C_ij - lam_i) / w_i``. The site choice then
minimises ``sum_j g_j y_j`` under the rules the relaxation keeps: existing sites open, exactly
``n_sites`` sites when given, otherwise at least ``k_min`` sites (the fewest whose largest
capacities cover the total demand - a valid cut that the plain LP relaxation lacks). Group bounds
and budgets are dropped, which keeps the bound valid. ``L(lam) = sum_i lam_i + min_y g y`` is a
lower bound for every ``lam``; subgradient steps raise it.

Along the way, the open sites of the subproblem's solution (topped up to cover the demand) give
incumbents: their transportation problem is an LP. With an incumbent ``U``, a site whose forced
opposite value gives a Lagrangian bound above ``U`` is fixed (closed or open) for the exact MIP.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import linprog

from lnplan.optimize.siting._model import FloatArray, IntArray

BoolArray = npt.NDArray[np.bool_]

_EVAL_EVERY = 10


@dataclass(frozen=True)
class Transport:
    """A solved transportation problem for a fixed set of open sites."""

    open_cols: IntArray  # model columns (0..m-1) that are open
    cost: float  # opening costs + allocation costs
    rows: IntArray  # point index of each positive share
    cols: IntArray  # model column of each positive share
    share: FloatArray  # share of the point's demand


@dataclass(frozen=True)
class CflpLagrangeOutcome:
    """Bound, incumbent and per-site bounds from the Lagrangian phase."""

    bound: float
    best: Transport | None
    flip_bound: FloatArray  # per column: bound when the site takes the opposite value of `y`
    y: BoolArray  # site choice of the subproblem at the best multipliers
    iterations: int
    k_min: int
    lam: FloatArray  # the best multipliers


def min_sites(cap: FloatArray, total: float) -> int:
    """Fewest sites whose capacities can cover ``total`` (largest capacities first)."""
    cum = np.cumsum(np.sort(cap)[::-1])
    k = int(np.searchsorted(cum, total * (1 - 1e-12) - 1e-9)) + 1
    return min(k, cap.size)


def transport(
    cost: FloatArray,
    w: FloatArray,
    f: FloatArray,
    cap: FloatArray,
    open_cols: IntArray,
    deadline: float | None = None,
) -> Transport | None:
    """Cheapest split assignment to the open sites within their capacities (an LP); None if none,
    or when ``deadline`` (a ``time.perf_counter()`` value) passes first."""
    options: dict[str, float] = {}
    if deadline is not None:
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        options["time_limit"] = left
    sub = cost[:, open_cols]
    ii, kk = np.nonzero(np.isfinite(sub))
    n = cost.shape[0]
    if np.bincount(ii, minlength=n).min(initial=1) == 0 or cap[open_cols].sum() < w.sum() * (
        1 - 1e-12
    ):
        return None
    e = ii.size
    ar = np.arange(e)
    a_eq = sparse.csr_array((np.ones(e), (ii, ar)), shape=(n, e))
    a_ub = sparse.csr_array((w[ii], (kk, ar)), shape=(open_cols.size, e))
    res = linprog(
        sub[ii, kk],
        A_ub=a_ub,
        b_ub=cap[open_cols],
        A_eq=a_eq,
        b_eq=np.ones(n),
        bounds=(0, 1),
        method="highs-ds",
        options=options,
    )
    if res.status != 0:
        return None
    x = np.asarray(res.x)
    keep = x > 1e-9
    return Transport(
        open_cols=np.sort(open_cols),
        cost=float(res.fun) + float(f[open_cols].sum()),
        rows=ii[keep].astype(np.int64),
        cols=open_cols[kk[keep]].astype(np.int64),
        share=x[keep],
    )


def _knapsacks(
    cost: FloatArray, w: FloatArray, cap: FloatArray, lam: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per site the continuous knapsack value and its solution (n x m shares)."""
    v = cost - lam[:, None]
    ratio = np.where(v < 0, v / w[:, None], np.inf)
    order = np.argsort(ratio, axis=0)
    ws = w[order]
    before = np.cumsum(ws, axis=0) - ws
    take = np.clip((cap[None, :] - before) / ws, 0.0, 1.0)
    take[~np.isfinite(np.take_along_axis(ratio, order, 0))] = 0.0
    xs = np.zeros_like(v)
    np.put_along_axis(xs, order, take, 0)
    val = np.where(xs > 0, v, 0.0)
    return (val * xs).sum(axis=0), xs


def _choose_flow_sites(
    g: FloatArray, forced: BoolArray, banned: BoolArray, count: int | None, k_min: int
) -> tuple[float, BoolArray]:
    """Cheapest site choice: ``forced`` open, ``banned`` closed, ``count`` sites or >= ``k_min``."""
    y = forced.copy()
    free = ~forced & ~banned
    idx = np.flatnonzero(free)
    idx = idx[np.argsort(g[idx], kind="stable")]
    if count is not None:
        need = count - int(y.sum())
        if need < 0 or need > idx.size:
            return math.inf, y
        y[idx[:need]] = True
    else:
        neg = idx[g[idx] < 0]
        y[neg] = True
        need = k_min - int(y.sum())
        if need > 0:
            rest = idx[g[idx] >= 0]
            if need > rest.size:
                return math.inf, y
            y[rest[:need]] = True
    return float(g[y].sum()), y


def lagrangian(
    cost: FloatArray,
    w: FloatArray,
    f: FloatArray,
    cap: FloatArray,
    existing: BoolArray,
    count: int | None,
    deadline: float,
    *,
    feasible: Callable[[IntArray], bool] | None = None,
    max_iter: int = 1500,
) -> CflpLagrangeOutcome:
    """Subgradient optimisation of the Lagrangian dual, incumbents from the subproblem's sites.

    ``cost`` is the n x m allocation cost of whole demand points (``inf`` = unreachable), ``w`` the
    demands (> 0), ``f`` opening costs, ``cap`` capacities, ``existing`` sites forced open,
    ``count`` the exact number of sites or None. ``feasible`` checks the rules the relaxation drops
    before an open set is used as an incumbent.
    """
    m = cost.shape[1]
    total = float(w.sum())
    k_min = min_sites(cap, total)
    no = np.zeros(m, dtype=np.bool_)
    fin = np.where(np.isfinite(cost), cost, np.inf)
    srt = np.sort(fin, axis=1)
    lam = np.where(np.isfinite(srt[:, min(1, m - 1)]), srt[:, min(1, m - 1)], srt[:, 0])
    lam = np.where(np.isfinite(lam), lam, 0.0)
    best_bound = -math.inf
    best_lam: FloatArray | None = None
    best: Transport | None = None
    seen: set[bytes] = set()
    alpha = 2.0
    stall = 0
    iterations = 0
    evaluations = 0
    for _ in range(max_iter):
        iterations += 1
        kval, xs = _knapsacks(cost, w, cap, lam)
        g = f + kval
        yval, y = _choose_flow_sites(g, existing, no, count, k_min)
        improved = False
        value = float(lam.sum()) + yval
        if best_lam is None or value > best_bound + 1e-12 * max(1.0, abs(best_bound)):
            best_bound, best_lam, stall = value, lam.copy(), 0
            improved = True
        else:
            stall += 1
            if stall >= 20:
                alpha /= 2.0
                stall = 0
        near = math.isfinite(best_bound) and value >= best_bound - 5e-3 * abs(best_bound)
        # Transport LPs cost far more than a subgradient step: price the subproblem's sites when
        # the bound has just improved, or every few steps.
        due = improved or iterations % _EVAL_EVERY == 0
        if near and due and time.perf_counter() < deadline:
            cand = _top_up(y, g, cap, total, existing)
            key = cand.tobytes()
            if key not in seen:
                seen.add(key)
                cols = np.flatnonzero(cand)
                if feasible is None or feasible(cols):
                    evaluations += 1
                    t = transport(cost, w, f, cap, cols, deadline)
                    if t is not None and (best is None or t.cost < best.cost):
                        best = t
        ub = best.cost if best is not None else math.inf
        if best is not None and best_bound >= ub - 1e-9 * max(1.0, abs(ub)):
            break
        if alpha < 1e-5 or time.perf_counter() > deadline:
            break
        s = 1.0 - (xs * y[None, :]).sum(axis=1)
        norm = float((s * s).sum())
        if norm < 1e-18:
            break
        target = ub if math.isfinite(ub) else value + 0.05 * abs(value) + 1.0
        lam = lam + alpha * max(target - value, 1e-9 * max(1.0, abs(value))) / norm * s
    if best_lam is None:
        best_lam = lam
    kval, _ = _knapsacks(cost, w, cap, best_lam)
    g = f + kval
    base, y = _choose_flow_sites(g, existing, no, count, k_min)
    lam_sum = float(best_lam.sum())
    flip = np.full(m, math.inf)
    for j in range(m):
        if existing[j]:
            continue
        one = np.zeros(m, dtype=np.bool_)
        one[j] = True
        if y[j]:
            val, _ = _choose_flow_sites(g, existing, one, count, k_min)
        else:
            val, _ = _choose_flow_sites(g, existing | one, no, count, k_min)
        flip[j] = lam_sum + val
    return CflpLagrangeOutcome(
        bound=lam_sum + base,
        best=best,
        flip_bound=flip,
        y=y,
        iterations=iterations,
        k_min=k_min,
        lam=best_lam,
    )


def _top_up(
    y: BoolArray, g: FloatArray, cap: FloatArray, total: float, existing: BoolArray
) -> BoolArray:
    """Add the cheapest closed sites (by ``g``) until the open capacity covers the demand."""
    out = y | existing
    if cap[out].sum() >= total * (1 - 1e-12):
        return out
    for j in np.argsort(g, kind="stable"):
        if not out[j]:
            out[j] = True
            if cap[out].sum() >= total * (1 - 1e-12):
                break
    return out


def local_search(
    cost: FloatArray,
    w: FloatArray,
    f: FloatArray,
    cap: FloatArray,
    start: Transport,
    candidates: IntArray,
    existing: BoolArray,
    deadline: float,
    *,
    feasible: Callable[[IntArray], bool] | None = None,
) -> Transport:
    """First-improvement drop / swap / add moves on the open sites, each priced by a transport LP.

    ``candidates`` are the closed sites worth trying (most promising first, e.g. by their
    Lagrangian bound when opened); open sites are tried for closing cheapest-to-lose first.
    """
    best = start
    seen: set[bytes] = set()
    m = cost.shape[1]

    def try_open(open_cols: IntArray) -> Transport | None:
        mask = np.zeros(m, dtype=np.bool_)
        mask[open_cols] = True
        key = mask.tobytes()
        if key in seen or (feasible is not None and not feasible(np.sort(open_cols))):
            return None
        seen.add(key)
        t = transport(cost, w, f, cap, np.sort(open_cols), deadline)
        if t is not None and t.cost < best.cost - 1e-9 * max(1.0, abs(best.cost)):
            return t
        return None

    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        cur = best.open_cols
        closable = cur[~existing[cur]]
        # Sites that serve least first: closing them changes least.
        served = np.bincount(best.cols, weights=w[best.rows] * best.share, minlength=m)
        closable = closable[np.argsort(served[closable] - f[closable], kind="stable")]
        outside = candidates[~np.isin(candidates, cur)]
        moves: list[IntArray] = [np.setdiff1d(cur, [i]) for i in closable]
        moves += [np.union1d(np.setdiff1d(cur, [i]), [j]) for j in outside for i in closable]
        moves += [np.union1d(cur, [j]) for j in outside]
        for cols in moves:
            if time.perf_counter() >= deadline:
                break
            t = try_open(cols)
            if t is not None:
                best = t
                improved = True
                break
    return best
