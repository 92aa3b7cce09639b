"""Lagrangian bound and variable elimination for the uncapacitated p-median.

Relax the assignment rows ``sum_j x_ij = 1`` of the classic formulation with multipliers
``lambda_i``. With ``c_ij = w_i d_ij - lambda_i`` the relaxation splits by site::

    L(lambda) = sum_i lambda_i + min_y sum_j rho_j y_j,   rho_j = f_j + sum_i min(0, c_ij),

``y`` ranging over the site choices that keep the count rule (``n_sites``, existing sites open;
group bounds and the budget are dropped, which only weakens the bound). Its maximum over
``lambda`` equals the LP bound of the classic (and the radius) formulation; a subgradient ascent
with Polyak steps towards the incumbent value gets close to it in a few hundred passes.

Every feasible solution ``(y, a)`` (``a(i)`` the site serving ``i``) costs exactly
``sum_i lambda_i + sum_{j open} rho_j + sum_i (c_{i a(i)} - sum_{j open} min(0, c_ij))`` and each
term of the last sum is ``>= max(0, c_{i a(i)})``. Hence, for a solution to beat the incumbent
value ``UB``:

- a site ``j`` outside the relaxation's choice can only be open when ``L + rho_j - rho_last <
  UB`` (``rho_last`` the largest chosen value that ``j`` would displace), else ``y_j = 0``;
- a chosen site can only be closed when ``L - rho_j + rho_next < UB``, else ``y_j = 1``;
- point ``i`` can only be served at a distance ``d`` with ``L + max(0, w_i d - lambda_i) < UB``,
  which caps the distance levels each point needs in the radius formulation.

This is the reduction of García, Labbé and Marín (2011) with Lagrangian in place of LP reduced
costs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from lnplan.optimize.siting._common import dense_row_slices
from lnplan.optimize.siting._model import FloatArray, IntArray

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MedianLagrangeOutcome:
    """Best Lagrangian bound found and what it eliminates.

    ``bound`` is a valid lower bound on the optimum; ``keep`` marks the candidates that may still
    be open in a solution below the incumbent value, ``force`` those that must be open in it;
    ``cap`` is, per demand point, the largest weighted-distance ``w_i d`` it may still be served
    at (``-inf`` when the incumbent is proven optimal by the bound alone). ``lam`` are the
    multipliers of the bound; ``candidates`` the cheapest site sets (column positions) the
    relaxation chose on the way, seeds for a Lagrangian heuristic (they may break group or budget
    rules).
    """

    bound: float
    keep: BoolArray
    force: BoolArray
    cap: FloatArray
    iterations: int
    lam: FloatArray
    candidates: tuple[IntArray, ...] = ()


def _choose_median_sites(
    rho: FloatArray, allowed: BoolArray, existing: BoolArray, n_sites: int | None
) -> tuple[BoolArray, float, float, float]:
    """Best site set of the relaxation: (open mask, value, ``rho_last``, ``rho_next``).

    The marginal values are ``rho_last`` (the largest free chosen ``rho``, the one a forced
    opening would displace) and ``rho_next`` (the smallest unchosen ``rho``, the one a forced
    closing would bring in); ``-inf`` and ``inf`` when no free site may open or none can come in.
    """
    r = np.where(allowed, rho, np.inf)
    pick = existing.copy()
    free = allowed & ~existing
    idx = np.flatnonzero(free)
    if n_sites is not None:
        k = n_sites - int(existing.sum())
        last, nxt = -math.inf, math.inf  # k <= 0: no free site may open
        if 0 < k < idx.size:
            part = np.argpartition(r[idx], k - 1)
            chosen = idx[part[:k]]
            pick[chosen] = True
            last = float(r[chosen].max())
            nxt = float(r[idx[part[k:]]].min())
        elif k > 0:
            pick[idx] = True
            last = float(r[idx].max()) if idx.size else math.inf
        return pick, float(r[pick].sum()), last, nxt
    neg = free & (r < 0)
    pick |= neg
    if not pick.any() and idx.size:
        pick[idx[np.argmin(r[idx])]] = True
    value = float(r[pick].sum())
    return pick, value, 0.0, 0.0


def lagrangian_reduce(
    wd: FloatArray,
    f: FloatArray,
    allowed: BoolArray,
    existing: BoolArray,
    n_sites: int | None,
    ub: float,
    delta: float,
    start_lambda: FloatArray,
    deadline: float,
    max_iter: int = 3000,
    n_keep: int = 5,
) -> MedianLagrangeOutcome:
    """Subgradient ascent on ``L(lambda)``, then site and distance elimination.

    Parameters
    ----------
    wd
        Weighted costs ``w_i d_ij`` of the points with demand (``inf`` = unreachable); columns
        of candidates that are not ``allowed`` are ignored.
    f
        Opening cost per candidate.
    allowed, existing
        Candidate masks (existing sites are open in every solution).
    n_sites
        Number of open sites, or ``None`` (free, at least one).
    ub
        Value of the incumbent solution.
    delta
        How much a solution must improve on ``ub`` to matter (``1`` for integral data, a
        tolerance otherwise).
    start_lambda
        Starting multipliers (e.g. each point's weighted distance in the incumbent).
    deadline
        ``time.perf_counter()`` value to stop at.
    """
    lam = start_lambda.astype(np.float64).copy()
    best = -math.inf
    best_lam = lam.copy()
    scale = 2.0
    stall = 0
    it = 0
    target = ub
    # The ascent works on the allowed columns in single precision (speed); the bound that is
    # returned is recomputed in double precision at the best multipliers.
    aidx = np.flatnonzero(allowed)
    sub = wd if aidx.size == wd.shape[1] else wd[:, aidx]
    # Built by row blocks: no full-size double-precision temporaries next to ``wd``.
    big = np.empty(sub.shape, np.float32)
    for rows in dense_row_slices(sub.shape[0], sub.shape[1]):
        blk = sub[rows]
        big[rows] = np.where(np.isfinite(blk), blk, 1e30)
    del sub
    fa, ea = f[aidx], existing[aidx]
    every = np.ones(aidx.size, dtype=np.bool_)
    seen: dict[bytes, tuple[float, IntArray]] = {}
    for it in range(1, max_iter + 1):
        c = big - lam.astype(np.float32)[:, None]
        np.minimum(c, 0.0, out=c)
        rho = c.sum(axis=0, dtype=np.float64) + fa
        pick, value, _last, _nxt = _choose_median_sites(rho, every, ea, n_sites)
        lb = float(lam.sum()) + value
        if n_keep and it % 5 == 1:
            _remember(seen, wd, f, aidx[pick], keep=n_keep)
        if it == 1 or lb > best + 1e-9 * max(1.0, abs(best)):
            best, best_lam, stall = lb, lam.copy(), 0
        else:
            stall += 1
            if stall >= 25:
                scale /= 2.0
                stall = 0
                lam = best_lam.copy()
                continue
        if best > ub - delta or scale < 1e-4 or time.perf_counter() > deadline:
            break
        g = 1.0 - (c[:, pick] < 0).sum(axis=1)
        norm = float(g @ g)
        if norm == 0.0:
            break  # the relaxation's solution is feasible: its value is the LP optimum
        lam = lam + scale * max(target - lb, 1e-6 * max(1.0, abs(ub))) / norm * g
        lam = np.maximum(lam, 0.0)
    out = _eliminate(wd, f, allowed, existing, n_sites, ub, delta, best_lam, it)
    ranked = sorted(seen.values(), key=lambda t: t[0])
    return replace(out, candidates=tuple(s for _, s in ranked))


def _remember(
    seen: dict[bytes, tuple[float, IntArray]],
    wd: FloatArray,
    f: FloatArray,
    pick: IntArray,
    keep: int,
) -> None:
    """Keep the ``keep`` cheapest distinct site sets (true cost: nearest open site per point)."""
    cols = pick
    key = cols.tobytes()
    if cols.size == 0 or key in seen:
        return
    cost = float(wd[:, cols].min(axis=1).sum() + f[cols].sum())
    if len(seen) >= keep:
        worst = max(seen, key=lambda k: seen[k][0])
        if seen[worst][0] <= cost:
            return
        del seen[worst]
    seen[key] = (cost, cols)


def _eliminate(
    wd: FloatArray,
    f: FloatArray,
    allowed: BoolArray,
    existing: BoolArray,
    n_sites: int | None,
    ub: float,
    delta: float,
    lam: FloatArray,
    iterations: int,
) -> MedianLagrangeOutcome:
    rho = f.astype(np.float64).copy()
    for rows in dense_row_slices(wd.shape[0], wd.shape[1]):
        blk = wd[rows] - lam[rows, None]  # inf where unreachable: contributes 0 below
        np.minimum(blk, 0.0, out=blk)
        rho += blk.sum(axis=0)
    pick, value, last, nxt = _choose_median_sites(rho, allowed, existing, n_sites)
    lb = float(lam.sum()) + value
    # Solutions below ub - delta (+ a little slack for round-off) are the ones still sought.
    room = ub - delta - lb + 1e-7 * max(1.0, abs(ub))
    keep = allowed.copy()
    force = existing.copy()
    if room < 0:
        return MedianLagrangeOutcome(
            lb, keep, force, np.full(wd.shape[0], -np.inf), iterations, lam
        )
    out = allowed & ~pick
    chosen_free = pick & ~existing
    with np.errstate(invalid="ignore"):
        if n_sites is not None:
            keep[out & (rho - last > room)] = False
            force[chosen_free & (nxt - rho > room)] = True
        else:
            # Closing a chosen site adds at least -rho_j (more when it was the only one open).
            keep[out & (rho > room)] = False
            force[chosen_free & (-rho > room)] = True
    cap = lam + room
    return MedianLagrangeOutcome(lb, keep, force, cap, iterations, lam)


def start_multipliers(wd: FloatArray, open_cols: IntArray) -> FloatArray:
    """Each point's weighted distance to its nearest site of ``open_cols``."""
    return np.asarray(wd[:, open_cols].min(axis=1), np.float64)


def probe_sites(
    wd: FloatArray,
    f: FloatArray,
    keep: BoolArray,
    existing: BoolArray,
    n_sites: int | None,
    ub: float,
    delta: float,
    lam: FloatArray,
    deadline: float,
    max_iter: int = 150,
    patience: int = 25,
) -> BoolArray:
    """Drop the sites that cannot be open in a solution below ``ub``, one by one.

    For each remaining free site, the bound is re-optimised (a short subgradient run from
    ``lam``) with that site forced open; when it reaches ``ub - delta`` the site is dropped. This
    is much stronger than the reduced-cost test, since the multipliers adapt to the forced site.
    Sites are probed from the most to the least promising (by reduced cost); a round stops after
    ``patience`` probes in a row that drop nothing, and rounds repeat while sites are dropped
    (fewer sites raise the other bounds).
    """
    alive = keep.copy()
    changed = True
    while changed and time.perf_counter() < deadline:
        changed = False
        idx = np.flatnonzero(alive)
        sub, fs, ex = wd[:, idx], f[idx], existing[idx]
        on = np.ones(idx.size, dtype=np.bool_)
        c = np.where(np.isfinite(sub), sub - lam[:, None], 0.0)
        rho = np.minimum(c, 0.0).sum(axis=0) + fs
        free = np.flatnonzero(~ex)
        misses = 0
        for j in free[np.argsort(-rho[free], kind="stable")]:
            if time.perf_counter() >= deadline or misses >= patience:
                break
            forced = ex.copy()
            forced[j] = True
            out = lagrangian_reduce(
                sub, fs, on, forced, n_sites, ub, delta, lam, deadline, max_iter=max_iter, n_keep=0
            )
            if out.bound > ub - delta + 1e-7 * max(1.0, abs(ub)):
                on[j] = False
                alive[idx[j]] = False
                changed = True
                misses = 0
            else:
                misses += 1
    return alive


@dataclass(frozen=True)
class SearchOutcome:
    """Result of :func:`branch_and_bound`: ``finished`` when the whole tree was explored, so
    that ``best`` (column positions, or ``None`` when nothing beat the incumbent) is optimal."""

    finished: bool
    best: IntArray | None
    value: float
    nodes: int


def branch_and_bound(
    wd: FloatArray,
    f: FloatArray,
    allowed: BoolArray,
    existing: BoolArray,
    n_sites: int,
    ub: float,
    delta: float,
    lam: FloatArray,
    evaluate: Callable[[IntArray], float],
    deadline: float,
    max_iter: int = 150,
    *,
    max_nodes: int | None = None,
) -> SearchOutcome:
    """Depth-first branch and bound on the sites with the Lagrangian bound at every node.

    A node fixes some sites open and some closed; its bound is the subgradient ascent (warm
    started from the parent's multipliers) with those fixings, which also fixes further sites by
    reduced cost. The branching site is the free site the relaxation likes best (smallest
    ``rho``): open first, then closed. The relaxation ignores group and budget rules, so a node
    whose sites are all fixed is a single solution that ``evaluate`` checks (it returns the true
    cost, ``inf`` when the rules fail); the relaxation's site sets are evaluated the same way as
    a heuristic. Only solutions below ``ub - delta`` count. The search stops unfinished after
    ``max_nodes`` nodes (its work limit; ``None``: none) or at ``deadline`` (the safety cap).
    """
    best: IntArray | None = None
    value = ub
    nodes = 0
    stack: list[tuple[BoolArray, BoolArray, FloatArray]] = [(existing.copy(), allowed.copy(), lam)]

    def offer(sites: IntArray) -> None:
        nonlocal best, value
        v = evaluate(sites)
        if v < value - 1e-9 * max(1.0, abs(value)):
            best, value = np.sort(sites), v

    while stack:
        if (max_nodes is not None and nodes >= max_nodes) or time.perf_counter() >= deadline:
            return SearchOutcome(False, best, value, nodes)
        fixed, open_ok, lam0 = stack.pop()
        nodes += 1
        out = lagrangian_reduce(
            wd, f, open_ok, fixed, n_sites, value, delta, lam0, deadline, max_iter, n_keep=3
        )
        if out.bound > value - delta + 1e-7 * max(1.0, abs(value)):
            continue
        for cand in out.candidates:
            offer(cand)
        open_ok = open_ok & out.keep
        fixed = fixed | out.force
        if open_ok.sum() < n_sites:
            continue
        if fixed.sum() >= n_sites or open_ok.sum() == n_sites:
            offer(np.flatnonzero(fixed if fixed.sum() >= n_sites else open_ok))
            continue
        free = np.flatnonzero(open_ok & ~fixed)
        # Branch on the free site the relaxation would bring in next (the smallest rho among
        # the sites it leaves closed): its status is the least settled.
        rho, chosen = _rho_choice(wd, f, out.lam, open_ok, fixed, n_sites)
        out_free = free[~chosen[free]]
        pool = out_free if out_free.size else free
        j = int(pool[np.argmin(rho[pool])])
        closed = open_ok.copy()
        closed[j] = False
        with_j = fixed.copy()
        with_j[j] = True
        stack.append((fixed, closed, out.lam))
        stack.append((with_j, open_ok, out.lam))
    return SearchOutcome(True, best, value, nodes)


def _rho_choice(
    wd: FloatArray,
    f: FloatArray,
    lam: FloatArray,
    allowed: BoolArray,
    fixed: BoolArray,
    n_sites: int | None,
) -> tuple[FloatArray, BoolArray]:
    c = np.where(np.isfinite(wd), wd - lam[:, None], 0.0)
    rho = np.minimum(c, 0.0).sum(axis=0) + f
    return rho, _choose_median_sites(rho, allowed, fixed, n_sites)[0]
