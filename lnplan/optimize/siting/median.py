"""p-median and facility location (fixed opening costs, capacities); p-center is in :mod:`.center`.

Notation: ``w_i`` demand of point ``i`` (households), ``d_ij`` travel cost per unit of demand from
``i`` to candidate ``j`` (km or minutes; ``inf`` = unreachable), ``y_j`` = 1 when site ``j`` is
open, ``f_j`` an optional opening cost in the objective (same unit as ``w * d``).

**p-median, uncapacitated: radius formulation** (Elloumi 2010; García, Labbé, Marín 2011). For each
demand point sort its distinct distances ``D_i^1 < D_i^2 < ... < D_i^K``. A continuous
``z_i^k in [0, 1]`` is 1 when no open site lies within ``D_i^k``::

    min  sum_i w_i (D_i^1 + sum_k (D_i^{k+1} - D_i^k) z_i^k) + sum_j f_j y_j
    s.t. z_i^1 + sum_{j: d_ij = D_i^1} y_j >= 1
         z_i^k + sum_{j: d_ij = D_i^k} y_j >= z_i^{k-1}      (k >= 2)
         sum_j y_j = p,  y binary, plus the rule rows of :class:`SiteRules`.

Each ``y_j`` appears once per demand point, so the matrix has about ``n m`` nonzeros instead of the
``n m`` variables and ``n m`` linking rows of the classic model.

The exact path (García, Labbé and Marín's recipe: upper bound first, then bound and eliminate):

1. Incumbent: greedy + fast interchange (Whitaker/Resende-Werneck).
2. Lagrangian bound (assignment rows relaxed, :mod:`._median_lagrange`), equal to the LP bound at
   its optimum; interchange from the relaxation's site sets improves the incumbent. Reduced-cost
   tests drop sites, fix sites open and cap the distance each point may still be served at, for
   every solution below the incumbent (by at least 1 when all data are integers, detected).
3. When many distance levels per point remain (weak LP, typically small ``p``): each remaining
   site is probed (the bound re-optimised with the site forced open; dropped when it reaches the
   incumbent), then a depth-first Lagrangian branch and bound over the few sites left.
4. Otherwise (or when the search runs out of its share of the time) one radius MIP over the
   remaining sites and capped levels, each point served within its cap, HiGHS cutoff at the
   incumbent: it is exact for every improving solution, and "infeasible" proves the incumbent.

Without a heuristic incumbent (rules that defeat greedy) the radius MIP runs on all levels up to
the heuristic distances with lazy extension (a relaxation while a point lies beyond its levels).

**With capacities** (households a site can serve), the classic formulation with split assignment:
``x_ij in [0, 1]`` the share of ``i`` served by ``j``; ``sum_j x_ij = 1``;
``sum_i w_i x_ij <= cap_j y_j``; ``x_ij <= y_j``; minimise ``sum w_i d_ij x_ij + sum f_j y_j``.
With ``n_sites=None`` the number of sites is free (capacitated facility location, as in the
OR-Library ``cap`` instances). Solved in :mod:`.flows`: large models first get a Lagrangian phase
(demand rows relaxed, a continuous knapsack per site; bound, transport-LP incumbents, site
fixing), then the exact HiGHS MIP on the sites left, with the incumbent as cutoff.

**p-center** (:mod:`.center`) reuses the cost checks, the verifier and the result assembly here.

Backend: HiGHS MIP through OR-Tools (as in :mod:`.coverage`) where the LP is strong. The measured
naive ``n^2`` formulation stalls (pmed16 103 s, pmed26 no solution in 300 s); the radius formulation
alone left pmed31/35/38 (p = 5) unproven after 300 s, where the LP gap is about 1 %; with the
elimination and the site search every OR-Library instance here is proven in seconds.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.errors import InfeasibleError, InputError
from lnplan.optimize.siting._common import (
    add_rule_rows,
    dense_row_slices,
    rules_hold,
    site_bounds,
)
from lnplan.optimize.siting._median_lagrange import (
    MedianLagrangeOutcome,
    branch_and_bound,
    lagrangian_reduce,
    probe_sites,
    start_multipliers,
)
from lnplan.optimize.siting._mip import MipBuilder, add_mip_work
from lnplan.optimize.siting._model import (
    FloatArray,
    IntArray,
    PreparedRules,
    SiteRules,
    SitingResult,
    SolveParams,
    check_weights,
    main_sites,
    prepare_rules,
    siting_result,
)
from lnplan.optimize.siting._verify import Verdict, center_verdict, median_verdict
from lnplan.optimize.siting.flows import solve_flows
from lnplan.optimize.siting.heuristics import (
    _cost_of,
    _fast_swap,
    _finite_or_big,
    _median_heuristic,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MedianProblem:
    """p-median / facility location: minimise total weighted travel (plus opening costs).

    Parameters
    ----------
    weights
        Demand per demand point (households).
    cost
        Demand x candidate travel cost per unit of demand (km, minutes, yuan per household);
        ``np.inf`` where a candidate cannot serve a point. A scipy sparse matrix is read with
        missing entries as unreachable.
    n_sites
        Number of open sites (existing included); ``None`` leaves it free (then give
        ``opening_cost``).
    opening_cost
        Cost of opening each candidate, added to the objective (facility location).
    rules
        Existing, excluded, capacities, group bounds, budget.
    """

    weights: FloatArray
    cost: FloatArray | sparse.csr_array
    n_sites: int | None
    opening_cost: FloatArray | None = None
    rules: SiteRules = field(default_factory=SiteRules)


def _dense_cost(cost: object, n: int) -> FloatArray:
    if sparse.issparse(cost):
        c = sparse.csr_array(cost)
        d = np.full(c.shape, np.inf)
        coo = sparse.coo_array(c)
        d[coo.row, coo.col] = coo.data
    else:
        d = np.asarray(cost, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != n:
        raise InputError(
            f"cost must be a demand x candidate matrix with {n} rows, got shape {d.shape}"
        )
    if np.isnan(d).any() or (d < 0).any():
        i, j = np.argwhere(np.isnan(d) | (d < 0))[0]
        raise InputError(f"cost[{i}, {j}] = {d[i, j]!r}: costs must be >= 0 (inf = unreachable)")
    return d


def _check_reach(d: FloatArray, w: FloatArray, rules: PreparedRules) -> None:
    reach = np.isfinite(d[:, rules.allowed]).any(axis=1)
    bad = (w > 0) & ~reach
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InfeasibleError(
            f"{int(bad.sum())} demand point(s) with demand cannot reach any allowed candidate "
            f"(first: point {i}); every point must be served"
        )


# --- models -----------------------------------------------------------------------------------


def _radius_levels(d: FloatArray, cols: IntArray) -> tuple[list[FloatArray], npt.NDArray[np.int32]]:
    """Distinct sorted distances per point and the level of each (point, model column)."""
    sub = d[:, cols]
    levels: list[FloatArray] = []
    lev = np.empty(sub.shape, dtype=np.int32)
    for i in range(sub.shape[0]):
        uniq, inv = np.unique(sub[i], return_inverse=True)
        fin = np.isfinite(uniq)
        levels.append(uniq[fin])
        lev[i] = np.where(np.isfinite(sub[i]), inv, np.iinfo(np.int32).max)
    return levels, lev


def _radius_model(
    wa: FloatArray,
    values: FloatArray,
    count: npt.NDArray[np.int64],
    lev: npt.NDArray[np.integer],
    valid: npt.NDArray[np.bool_] | None,
    y_lb: FloatArray,
    y_ub: FloatArray,
    y_obj: FloatArray,
    cols: IntArray,
    rules: PreparedRules,
    n_sites: int | None,
    *,
    served_within_last: bool,
) -> tuple[MipBuilder, int, float, int]:
    """The radius formulation of the module docstring, the one builder of both radius MIPs.

    Point ``i`` has ``count[i]`` distance levels (``values``, concatenated over the points);
    ``lev[i, j]`` is the level of model column ``j`` for point ``i`` (used where ``valid``, all
    when ``None``). ``z_i^k`` (``k < count - 1``) is 1 when ``i`` is not served within level
    ``k``. ``served_within_last``: every point must be served within its last level (the reduced
    model, exact for improving solutions); otherwise the last level has no row (a relaxation,
    extended by lazy rounds). Returns the builder, the first site variable, the objective offset
    (each point at its first level) and the level rows' nonzeros.
    """
    n_pts = count.size
    n_rows_pt = count if served_within_last else np.maximum(count - 1, 0)
    rbase = np.concatenate([[0], np.cumsum(n_rows_pt)])
    vbase = np.concatenate([[0], np.cumsum(count)])
    nz = np.maximum(count - 1, 0)
    zbase = np.concatenate([[0], np.cumsum(nz)])
    n_rows, n_z = int(rbase[-1]), int(zbase[-1])
    owner = np.repeat(np.arange(n_pts), nz)
    k = np.arange(n_z) - zbase[owner]
    vpos = vbase[owner] + k
    mip = MipBuilder.new()
    y0 = mip.add_vars(cols.size, lb=y_lb, ub=y_ub, obj=y_obj, integer=True)
    z0 = mip.add_vars(n_z, obj=wa[owner] * (values[vpos + 1] - values[vpos]))
    use = lev < n_rows_pt[:, None]
    if valid is not None:
        use &= valid
    ii, jj = np.nonzero(use)
    zrow = rbase[owner] + k  # z_i^k enters row k with +1 and row k+1 (if any) with -1
    nxt = k + 1 < n_rows_pt[owner]
    zi = z0 + np.arange(n_z)
    rows = np.concatenate([rbase[ii] + lev[ii, jj], zrow, zrow[nxt] + 1])
    colsx = np.concatenate([y0 + jj, zi, zi[nxt]])
    vals = np.concatenate([np.ones(ii.size), np.ones(n_z), -np.ones(int(nxt.sum()))])
    a = sparse.csr_array((vals, (rows, colsx)), shape=(n_rows, mip.n_vars))
    lo = np.zeros(n_rows)
    lo[rbase[:-1][n_rows_pt > 0]] = 1.0
    mip.add_rows(a, lo, np.inf)
    add_rule_rows(mip, y0, cols, rules, n_sites, np.zeros(0, np.int64))
    if n_sites is None:
        mip.add_row(np.arange(y0, y0 + cols.size), 1.0, 1.0, np.inf)
    has = count > 0
    offset = float((wa[has] * values[vbase[:-1][has]]).sum())
    return mip, y0, offset, int(a.nnz)


def _solve_radius(
    d: FloatArray,
    w: FloatArray,
    f: FloatArray,
    rules: PreparedRules,
    n_sites: int | None,
    params: SolveParams,
    start: float,
    deadline: float,
    heur: IntArray | None,
) -> tuple[str, IntArray, float, float, dict[str, float]]:
    act = np.flatnonzero(w > 0)
    da, wa = d[act], w[act]
    cols = np.flatnonzero(rules.allowed)
    levels, lev = _radius_levels(da, cols)
    n_lev = np.array([lv.size for lv in levels], np.int64)
    details: dict[str, float] = {}
    best_sol = heur
    best_ub = _cost_of(d, w, heur, f) if heur is not None else math.inf
    if heur is not None:
        hd = da[:, heur].min(axis=1)
        upto = np.array(
            [np.searchsorted(levels[i], hd[i], side="right") - 1 for i in range(act.size)], np.int64
        )
    else:
        upto = n_lev - 1
    upto = np.clip(upto, 0, np.maximum(n_lev - 1, 0))
    lb = -math.inf
    rounds = 0
    status = "feasible"
    integral = bool(
        np.all(wa == np.round(wa))
        and np.all(f == np.round(f))
        and all(np.all(lv == np.round(lv)) for lv in levels)
    )
    while True:
        rounds += 1
        lb_y, ub_y = site_bounds(cols, rules)
        values = (
            np.concatenate([levels[i][: upto[i] + 1] for i in range(act.size)])
            if act.size
            else np.zeros(0)
        )
        mip, y0, offset, _ = _radius_model(
            wa,
            values,
            upto + 1,
            lev,
            None,
            lb_y,
            ub_y,
            f[cols],
            cols,
            rules,
            n_sites,
            served_within_last=False,
        )
        n_rows = int(upto.sum())
        cutoff = None
        if best_sol is not None:
            step = 0.5 if integral else 0.5 * max(1e-9, params.rel_gap) * max(1.0, abs(best_ub))
            cutoff = best_ub - step
        out = mip.solve(
            params,
            maximize=False,
            time_limit_s=deadline - time.perf_counter(),
            objective_offset=offset,
            cutoff=cutoff,
            deadline=deadline,
        )
        add_mip_work(details, out)
        details[f"round{rounds}_rows"] = float(n_rows)
        log.debug(
            "round %d: %s obj %s bound %s cutoff %s",
            rounds,
            out.status,
            out.objective,
            out.bound,
            cutoff,
        )
        if out.status == "infeasible":
            if cutoff is not None:
                # Nothing in the relaxation beats the cutoff: the incumbent is optimal.
                lb = best_ub if integral else cutoff
                status = "optimal"
                break
            raise InfeasibleError(
                "no choice of sites satisfies the rules together (proved by the solver)"
            )
        if math.isfinite(out.bound):
            lb = max(lb, out.bound)
        if out.x is None:
            break
        sol = cols[np.flatnonzero(out.x[y0 : y0 + cols.size] > 0.5)]
        true = _cost_of(d, w, sol, f)
        if true < best_ub - 1e-9:
            best_ub, best_sol = true, sol
        if out.status != "optimal":
            status = out.status
            break
        dist = da[:, sol].min(axis=1)
        reach = np.array([levels[i][upto[i]] for i in range(act.size)])
        beyond = np.flatnonzero(dist > reach + 1e-12)
        tol = max(1e-9, params.rel_gap) * max(1.0, abs(best_ub))
        if beyond.size == 0 or best_ub - lb <= tol:
            status = "optimal"
            break
        for i in beyond:
            upto[i] = min(int(np.searchsorted(levels[i], dist[i])), int(n_lev[i] - 1))
        if time.perf_counter() >= deadline:
            break
    details["rounds"] = float(rounds)
    details["levels"] = float(upto.sum())
    if best_sol is None:
        return "no_solution", np.zeros(0, np.int64), math.nan, lb, details
    return status, best_sol, best_ub, lb, details


_SEARCH_LEVELS_PER_POINT = 3.0
# Use lazy levels instead of the capped model when the latter has this many times more rows
# (and is big at all).
_LAZY_FACTOR = 4.0
_LAZY_MIN_NONZEROS = 1_000_000


def _is_integral(wa: FloatArray, f: FloatArray, da: FloatArray) -> bool:
    """True when every weight, opening cost and finite distance is a whole number."""
    fin = da[np.isfinite(da)]
    return bool(
        np.all(wa == np.round(wa)) and np.all(f == np.round(f)) and np.all(fin == np.round(fin))
    )


def _capped_levels(
    dk: FloatArray, valid: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.int64], FloatArray, npt.NDArray[np.int32]]:
    """Distinct sorted distances per point over its ``valid`` entries, vectorised by row blocks.

    Returns ``(count, values, lev)``: the number of levels of each point, the level values of all
    points concatenated, and the level of every (point, column) entry (meaningless where not
    ``valid``).
    """
    n, m = dk.shape
    count = np.zeros(n, np.int64)
    lev = np.empty((n, m), np.int32)
    values: list[FloatArray] = []
    for rows in dense_row_slices(n, m):
        s = np.where(valid[rows], dk[rows], np.inf)
        order = np.argsort(s, axis=1, kind="stable")
        srt = np.take_along_axis(s, order, axis=1)
        del s
        new = np.ones(srt.shape, dtype=np.bool_)
        new[:, 1:] = srt[:, 1:] != srt[:, :-1]
        new &= np.isfinite(srt)
        lev_sorted = (np.cumsum(new, axis=1, dtype=np.int32) - 1).astype(np.int32)
        np.put_along_axis(lev[rows], order, lev_sorted, axis=1)
        count[rows] = new.sum(axis=1)
        values.append(srt[new])
    return count, (np.concatenate(values) if values else np.zeros(0)), lev


def _solve_reduced(
    d: FloatArray,
    w: FloatArray,
    f: FloatArray,
    rules: PreparedRules,
    n_sites: int | None,
    params: SolveParams,
    deadline: float,
    heur: IntArray,
) -> tuple[str, IntArray, float, float, dict[str, float]]:
    """Lagrangian bound and elimination, site probing and search, then an exact radius MIP.

    Steps 2-4 of the module docstring. The MIP only looks for solutions below the incumbent
    (HiGHS cutoff): sites the Lagrangian bound rules out are dropped, sites it forces are fixed
    open, and each point keeps only the distance levels it may still be served at and must be
    served within the last of them, so the model is exact for every improving solution and no
    level is added later. With integral data
    a solution must improve by at least 1, and any bound above ``incumbent - 1`` proves it.
    """
    act = np.flatnonzero(w > 0)
    # Views, not copies, in the common case (every point has demand, every site allowed).
    da, wa = (d, w) if act.size == d.shape[0] else (d[act], w[act])
    cols = np.flatnonzero(rules.allowed)
    dc = da if cols.size == d.shape[1] else da[:, cols]
    fc = f[cols]
    ub = _cost_of(d, w, heur, f)
    best_sol = heur
    integral = _is_integral(wa, fc, dc)
    # Half the gap asked for: a proof then reports a gap safely inside it.
    delta = 1.0 if integral else 0.5 * max(1e-9, params.rel_gap) * max(1.0, abs(ub))
    details: dict[str, float] = {"integral": float(integral)}

    def proven(bound: float) -> bool:
        if integral:
            return math.ceil(bound - 1e-6) >= ub - 1e-9
        return ub - bound <= 0.5 * max(1e-9, params.rel_gap) * max(1.0, abs(ub))

    def settled() -> float:
        """The bound once every solution below the incumbent by ``delta`` is ruled out."""
        return ub if integral else ub - delta

    def report(bound: float) -> float:
        return min(ub, math.ceil(bound - 1e-6)) if integral else min(ub, bound)

    wd = wa[:, None] * dc
    existing = np.isin(cols, rules.existing)
    now = time.perf_counter()

    def bound_and_reduce(lam0: FloatArray, max_iter: int) -> MedianLagrangeOutcome:
        return lagrangian_reduce(
            wd,
            fc,
            np.ones(cols.size, dtype=np.bool_),
            existing,
            n_sites,
            ub,
            delta,
            lam0,
            deadline,
            max_iter=max_iter,
        )

    lag = bound_and_reduce(start_multipliers(wd, np.searchsorted(cols, heur)), 3000)
    if not proven(lag.bound):
        # Lagrangian heuristic: interchange from the cheapest site sets the relaxation chose.
        dz = _finite_or_big(d, act)
        improved = False
        for cand in lag.candidates:
            sites = np.sort(cols[cand])
            if time.perf_counter() >= deadline or not rules_hold(sites, rules, n_sites):
                continue
            sites = _fast_swap(dz, wa, f, rules, sites, deadline)
            value = _cost_of(d, w, sites, f)
            if value < ub - 1e-9 * max(1.0, abs(ub)):
                ub, best_sol, improved = value, sites, True
        del dz
        details["lagrangian_heuristic_objective"] = ub
        if improved:
            lag = bound_and_reduce(lag.lam, 1000)
    details["lagrangian_bound"] = lag.bound
    details["lagrangian_iterations"] = float(lag.iterations)
    details["lagrangian_s"] = time.perf_counter() - now
    if proven(lag.bound):
        details["sites_kept"] = 0.0
        return "optimal", best_sol, ub, report(lag.bound), details
    keep, force, cap = lag.keep, lag.force, lag.cap
    details["sites_after_reduced_cost"] = float(keep.sum())
    n_pts = act.size

    def served_within_cap() -> npt.NDArray[np.bool_]:
        return wd[:, keep] <= cap[:, None] + 1e-9 * np.maximum(1.0, np.abs(cap[:, None]))

    valid = served_within_cap()
    count, values, lev = _capped_levels(dc[:, keep], valid)
    # Many distance levels per point left mean a weak LP (small p: each point may still go to
    # many sites), where LP-based branch and bound grinds: probe the sites one by one and then
    # search over the few left with the Lagrangian bound, which is much cheaper per node. With
    # few levels the LP is nearly integral and HiGHS (cuts, primal heuristics) closes it at once.
    weak = count.sum() > _SEARCH_LEVELS_PER_POINT * n_pts
    details["levels_per_point"] = float(count.sum()) / max(n_pts, 1)
    if weak:
        t_probe = time.perf_counter()
        alive = probe_sites(wd, fc, keep, existing | force, n_sites, ub, delta, lag.lam, deadline)
        if (alive != keep).any():
            # Fewer sites: the bound rises, so re-derive the forced sites and the distance caps.
            pos = np.flatnonzero(alive)
            sub = lagrangian_reduce(
                wd[:, pos],
                fc[pos],
                np.ones(pos.size, dtype=np.bool_),
                existing[pos],
                n_sites,
                ub,
                delta,
                lag.lam,
                deadline,
                max_iter=1000,
                n_keep=0,
            )
            details["probed_bound"] = sub.bound
            if proven(sub.bound):
                return "optimal", best_sol, ub, report(sub.bound), details
            keep = np.zeros(cols.size, dtype=np.bool_)
            keep[pos[sub.keep]] = True
            force = force.copy()
            force[pos[sub.force]] = True
            cap = np.minimum(cap, sub.cap)
            valid = served_within_cap()
            count, values, lev = _capped_levels(dc[:, keep], valid)
        details["probe_s"] = time.perf_counter() - t_probe
    details["sites_kept"] = float(keep.sum())
    details["sites_forced"] = float((force & ~existing).sum())
    if not valid.any(axis=1).all():
        # Some point cannot be served cheaply enough by any remaining site: nothing improves.
        return "optimal", best_sol, ub, settled(), details
    # A weak bound can leave nearly every level of every point; then the capped model may be far
    # larger than the lazy one that starts from the incumbent's distances.
    hd = dc[:, np.searchsorted(cols, best_sol)].min(axis=1)
    lazy_rows = int(np.count_nonzero(values <= np.repeat(hd, count) + 1e-9))
    if count.sum() > _LAZY_FACTOR * max(lazy_rows, 1) and valid.sum() > _LAZY_MIN_NONZEROS:
        return _solve_lazy(
            d,
            w,
            f,
            rules,
            n_sites,
            params,
            deadline,
            best_sol,
            cols[keep],
            ub,
            report(max(lag.bound, details.get("probed_bound", -math.inf))),
            details,
        )
    if weak and n_sites is not None:
        pos = np.flatnonzero(keep)

        def evaluate(sel: IntArray) -> float:
            sites = np.sort(cols[pos[sel]])
            return _cost_of(d, w, sites, f) if rules_hold(sites, rules, n_sites) else math.inf

        t_bb = time.perf_counter()
        search = branch_and_bound(
            wd[:, pos],
            fc[pos],
            np.ones(pos.size, dtype=np.bool_),
            (existing | force)[pos],
            n_sites,
            ub,
            delta,
            lag.lam,
            evaluate,
            deadline,
            max_nodes=params.max_nodes,
        )
        details["search_nodes"] = float(search.nodes)
        details["search_s"] = time.perf_counter() - t_bb
        if search.best is not None and search.value < ub:
            ub, best_sol = search.value, np.sort(cols[pos[search.best]])
        if search.finished:
            return "optimal", best_sol, ub, settled(), details
    kcols = cols[keep]
    mip, y0, offset, nnz = _radius_model(
        wa,
        values,
        count,
        lev,
        valid,
        np.where(force[keep], 1.0, 0.0),
        np.ones(kcols.size),
        fc[keep],
        kcols,
        rules,
        n_sites,
        served_within_last=True,
    )
    n_rows = int(count.sum())
    cutoff = ub - (0.5 if integral else delta)
    details["rows"] = float(n_rows)
    details["nonzeros"] = float(nnz)
    out = mip.solve(
        params,
        maximize=False,
        time_limit_s=deadline - time.perf_counter(),
        objective_offset=offset,
        cutoff=cutoff,
        deadline=deadline,
        # The model is already reduced; HiGHS presolve on a large one (550,000 rows on the demo's
        # townships) overran its time limit by 14 s, without presolve it stops on time.
        presolve=False,
    )
    add_mip_work(details, out)
    log.debug("reduced radius MIP: %s obj %s bound %s", out.status, out.objective, out.bound)
    if out.status == "infeasible":
        return "optimal", best_sol, ub, settled(), details
    bound = max(lag.bound, details.get("probed_bound", -math.inf))
    if out.x is not None:
        sol = kcols[np.flatnonzero(out.x[y0 : y0 + kcols.size] > 0.5)]
        true = _cost_of(d, w, sol, f)
        if true < ub - 1e-9 and rules_hold(sol, rules, n_sites):
            ub, best_sol = true, sol
    if out.status == "optimal":
        return "optimal", best_sol, ub, settled(), details
    if math.isfinite(out.bound):
        # The restricted model holds every solution below the incumbent.
        bound = max(bound, min(out.bound, ub))
    if proven(bound):
        return "optimal", best_sol, ub, settled(), details
    return "feasible", best_sol, ub, report(bound), details


def _solve_lazy(
    d: FloatArray,
    w: FloatArray,
    f: FloatArray,
    rules: PreparedRules,
    n_sites: int | None,
    params: SolveParams,
    deadline: float,
    incumbent: IntArray,
    sites: IntArray,
    ub: float,
    bound: float,
    details: dict[str, float],
) -> tuple[str, IntArray, float, float, dict[str, float]]:
    """The lazy-level radius MIP over the sites the elimination left (valid for every solution
    below the incumbent, which it keeps as the cutoff and fallback)."""
    allowed = np.zeros(rules.allowed.size, dtype=np.bool_)
    allowed[sites] = True
    allowed[rules.existing] = True
    sub_rules = replace(rules, allowed=allowed)
    status, chosen, obj, lb, more = _solve_radius(
        d, w, f, sub_rules, n_sites, params, time.perf_counter(), deadline, incumbent
    )
    details.update(more)
    details["lazy_levels"] = 1.0
    if obj > ub:  # cannot happen (the incumbent is the cutoff), kept for safety
        chosen, obj = incumbent, ub
    best_bound = max(bound, min(lb, obj)) if math.isfinite(lb) else bound
    return status, chosen, obj, best_bound, details


def assemble_median(
    *,
    d: FloatArray,
    w: FloatArray,
    chosen: IntArray,
    flows: sparse.csr_array | None,
    status: str,
    objective: float,
    bound: float,
    start: float,
    engine: str,
    groups: Mapping[str, npt.ArrayLike] | None,
    details: Mapping[str, float],
    check: MedianCheck,
) -> SitingResult:
    n = d.shape[0]
    assignment = np.full(n, -1, np.int64)
    if flows is not None and flows.nnz:
        assignment = main_sites(flows)
        served = np.minimum(np.asarray(flows.sum(axis=1)).ravel(), 1.0)
    elif chosen.size:
        sub = d[:, chosen]
        near = np.argmin(sub, axis=1)
        ok = np.isfinite(sub[np.arange(n), near])
        assignment[ok] = chosen[near[ok]]
        served = ok.astype(np.float64)
    else:
        served = np.zeros(n)
    if flows is not None:
        # Zero-demand points carry no flow; give them their nearest open site.
        zero = (w == 0) & (assignment < 0) & (chosen.size > 0)
        if zero.any():
            sub = d[np.ix_(np.flatnonzero(zero), chosen)]
            near = np.argmin(sub, axis=1)
            fin = np.isfinite(sub[np.arange(sub.shape[0]), near])
            idx = np.flatnonzero(zero)[fin]
            assignment[idx] = chosen[near[fin]]
            served[idx] = 1.0
    answer = status != "no_solution"
    return siting_result(
        status=status,
        objective=objective,
        bound=bound,
        start=start,
        engine=engine,
        chosen=chosen,
        assignment=assignment,
        weights=w,
        served=served,
        groups=groups,
        details=details,
        verdict=check.verdict(d, w, chosen, flows) if answer else None,
        maximize=False,
        rel_gap=check.rel_gap,
        integral=check.integral(d, w, flows is not None),
        assignment_share=flows,
    )


def _whole(d: FloatArray, chunk: int = 2048) -> bool:
    """True when every finite entry of ``d`` is a whole number (row blocks: no full copy)."""
    for s in range(0, d.shape[0], chunk):
        blk = d[s : s + chunk]
        if not np.all(np.where(np.isfinite(blk), blk == np.round(blk), True)):
            return False
    return True


@dataclass(frozen=True)
class MedianCheck:
    """What :mod:`._verify` needs to recompute a p-median or p-center answer and its rules."""

    rules: SiteRules
    n_sites: int | None
    rel_gap: float
    opening: FloatArray | None = None
    center: bool = False

    def verdict(
        self, d: FloatArray, w: FloatArray, chosen: IntArray, share: sparse.csr_array | None
    ) -> Verdict:
        if self.center:
            return center_verdict(d, w, chosen, self.rules, self.n_sites, share)
        f = self.opening if self.opening is not None else np.zeros(d.shape[1])
        return median_verdict(d, w, f, chosen, self.rules, self.n_sites, share)

    def integral(self, d: FloatArray, w: FloatArray, split: bool) -> bool:
        """Whether every answer's objective is a whole number (the bound may then be rounded)."""
        whole_d = _whole(d)
        if self.center:
            return whole_d
        f = self.opening if self.opening is not None else np.zeros(0)
        return not split and whole_d and bool(np.all(w == np.round(w)) and np.all(f == np.round(f)))


def solve_p_median(
    problem: MedianProblem,
    params: SolveParams | None = None,
    *,
    groups: Mapping[str, npt.ArrayLike] | None = None,
) -> SitingResult:
    """Minimise total weighted travel (plus opening costs) with ``n_sites`` sites.

    Parameters
    ----------
    problem
        Weights, cost matrix, number of sites (or ``None`` with opening costs), rules.
    params
        Time limit, seed, threads, gap.
    groups
        Named label arrays over demand points for the coverage report.

    Returns
    -------
    SitingResult
        ``objective`` is ``sum_i w_i d_i(assigned) + sum_j f_j``; with capacities the assignment
        may split a point (``assignment_share``).

    Raises
    ------
    InfeasibleError
        Rules that contradict each other, points that no allowed candidate reaches, or total
        capacity below total demand (said by how much).
    """
    params = params or SolveParams()
    start = time.perf_counter()
    deadline = start + params.time_limit_s
    w = check_weights(problem.weights)
    d = _dense_cost(problem.cost, w.size)
    m = d.shape[1]
    f = np.zeros(m) if problem.opening_cost is None else np.asarray(problem.opening_cost, float)
    if f.shape != (m,) or not np.isfinite(f).all():
        raise InputError(f"opening_cost must have one finite value per candidate ({m})")
    rules = prepare_rules(problem.rules, m, problem.n_sites, total_demand=float(w.sum()))
    if problem.n_sites is None and rules.capacity is not None:
        total_cap = float(rules.capacity[rules.allowed].sum())
        if total_cap < w.sum() - 1e-9:
            raise InfeasibleError(
                f"all allowed sites together can serve {total_cap:,.2f} demand, below the total "
                f"demand of {w.sum():,.2f} (short by {w.sum() - total_cap:,.2f})"
            )
    _check_reach(d, w, rules)
    check = MedianCheck(problem.rules, problem.n_sites, params.rel_gap, opening=f)
    if rules.capacity is not None:
        flow_details: dict[str, float] = {}
        status, chosen, obj, bound, flows = solve_flows(
            d, w, f, rules, problem.n_sites, params, deadline, details=flow_details
        )
        if status == "infeasible":
            raise InfeasibleError(
                "no choice of sites can serve all demand within the capacities and rules "
                "(proved by the solver)"
            )
        engine = "HiGHS MIP (OR-Tools MathOpt), split-assignment model"
        if "lagrangian_bound" in flow_details:
            engine = f"Lagrangian bound, incumbent and site fixing + {engine}"
        return assemble_median(
            d=d,
            w=w,
            chosen=chosen,
            flows=flows,
            status=status,
            objective=obj,
            bound=bound,
            start=start,
            engine=engine,
            groups=groups,
            details=flow_details,
            check=check,
        )
    heur = _median_heuristic(d, w, f, rules, problem.n_sites, deadline)
    details: dict[str, float] = {}
    if heur is None or not math.isfinite(_cost_of(d, w, heur, f)):
        # No answer serving every point yet: either none exists (the sites cannot reach every
        # point together under the rules) or the heuristic missed it. A covering MIP decides.
        heur = _reaching_answer(d, w, rules, problem.n_sites, params, deadline)
        if heur is None:
            return assemble_median(
                d=d,
                w=w,
                chosen=np.zeros(0, np.int64),
                flows=None,
                status="no_solution",
                objective=math.nan,
                bound=math.nan,
                start=start,
                engine="HiGHS MIP (OR-Tools MathOpt), covering check",
                groups=groups,
                details=details,
                check=check,
            )
    details["heuristic_objective"] = _cost_of(d, w, heur, f)
    status, chosen, obj, bound, more = _solve_reduced(
        d, w, f, rules, problem.n_sites, params, deadline, heur
    )
    details.update(more)
    return assemble_median(
        d=d,
        w=w,
        chosen=chosen,
        flows=None,
        status=status,
        objective=obj,
        bound=bound if math.isfinite(bound) else -math.inf,
        start=start,
        engine=_median_engine(details),
        groups=groups,
        details=details,
        check=check,
    )


def _reaching_answer(
    d: FloatArray,
    w: FloatArray,
    rules: PreparedRules,
    n_sites: int | None,
    params: SolveParams,
    deadline: float,
) -> IntArray | None:
    """Sites that together reach every point with demand under the rules; None when the time ran
    out first.

    Raises
    ------
    InfeasibleError
        When no such choice exists (e.g. two groups of points no single site reaches with one
        site, or every existing site in one of them): the rule "every point is served".
    """
    status, chosen, _, _, _ = solve_flows(
        d, w, np.zeros(d.shape[1]), rules, n_sites, params, deadline, feasibility_radius=math.inf
    )
    if status == "infeasible":
        count = "the sites" if n_sites is None else f"{n_sites} site(s)"
        kept = f", {rules.existing.size} of them existing" if rules.existing.size else ""
        raise InfeasibleError(
            f"every point with demand must be served, but no choice of {count}{kept} reaches "
            f"them all under the rules (proved by the solver); allow more sites or candidates "
            f"that reach the unserved points"
        )
    if status == "no_solution" or chosen.size == 0:
        return None
    return np.sort(chosen).astype(np.int64)


def _median_engine(details: Mapping[str, float]) -> str:
    """Name the steps that solved a p-median, from the details the solve recorded."""
    steps = []
    if "lagrangian_bound" in details:
        steps.append("Lagrangian bound and elimination")
    if "search_nodes" in details:
        steps.append(f"Lagrangian branch and bound ({details['search_nodes']:.0f} nodes)")
    if {"rows", "rounds", "lazy_levels"} & set(details):
        steps.append("HiGHS MIP (OR-Tools MathOpt), radius formulation")
    return " + ".join(steps) or "greedy + interchange"
