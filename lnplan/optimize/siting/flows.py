"""Split-assignment model for capacitated siting, and the covering check of p-center.

``x_ij in [0, 1]`` is the share of point ``i`` served by site ``j``; ``sum_j x_ij = 1``;
``sum_i w_i x_ij <= cap_j y_j``; ``x_ij <= y_j``; minimise ``sum w_i d_ij x_ij + sum f_j y_j``.
With ``n_sites=None`` the number of sites is free (capacitated facility location, as in the
OR-Library ``cap`` instances). With ``feasibility_radius`` the model only asks whether every
point can be served within that radius (p-center's step).

Large capacitated models (more than ``_VUB_LIMIT`` point-site pairs) first go through a
Lagrangian phase (:mod:`._cflp_lagrange`): it gives a lower bound, an incumbent from
transportation LPs, and fixes the sites whose opposite value provably costs more than the
incumbent. The exact MIP then runs on the sites left, with the incumbent's value as cutoff; the
bound it proves on the reduced model is a bound for the whole one, since every fixed site's
opposite value costs more than the incumbent.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from scipy import sparse

from lnplan.optimize.siting._cflp_lagrange import Transport, lagrangian, local_search, min_sites
from lnplan.optimize.siting._common import add_rule_rows, rules_hold, site_bounds
from lnplan.optimize.siting._mip import MipBuilder, add_mip_work
from lnplan.optimize.siting._model import (
    FloatArray,
    IntArray,
    PreparedRules,
    SolveParams,
)

log = logging.getLogger(__name__)

_VUB_LIMIT = 20_000
#: Capacitated models with more reachable point-site pairs start with the Lagrangian phase.
LAGRANGE_MIN_PAIRS = _VUB_LIMIT
# Local search on the incumbent: closed sites tried (by Lagrangian promise). Every phase stops
# on its work (subgradient iterations, improving moves, separation rounds, MIP nodes); the
# deadline is the wall-clock safety cap only.
_SEARCH_CANDIDATES = 15


def solve_flows(
    d: FloatArray,
    w: FloatArray,
    f: FloatArray,
    rules: PreparedRules,
    n_sites: int | None,
    params: SolveParams,
    deadline: float,
    *,
    feasibility_radius: float | None = None,
    lagrange_min_pairs: int = LAGRANGE_MIN_PAIRS,
    details: dict[str, float] | None = None,
) -> tuple[str, IntArray, float, float, sparse.csr_array | None]:
    """Classic split-assignment model with capacities; or a covering check within a radius.

    ``lagrange_min_pairs``: capacitated models with more reachable point-site pairs than this
    start with the Lagrangian phase. ``details``, when given, receives ``point_site_pairs`` and,
    when the Lagrangian phase ran, ``lagrangian_bound`` and ``lagrangian_iterations``.
    """
    act = np.flatnonzero(w > 0)
    cols = np.flatnonzero(rules.allowed)
    sub = d[np.ix_(act, cols)]
    reach = np.isfinite(sub)
    if feasibility_radius is not None:
        reach &= sub <= feasibility_radius
    wa = w[act]
    capacity = rules.capacity
    fixed_open = np.zeros(cols.size, dtype=np.bool_)
    incumbent: Transport | None = None
    lag_bound = -math.inf
    lag_lam: FloatArray | None = None
    fixed_bound = math.inf
    pairs = int(reach.sum())
    if details is not None:
        details["point_site_pairs"] = float(pairs)
    large = pairs > lagrange_min_pairs and act.size > 0
    if capacity is not None and feasibility_radius is None and large:
        now = time.perf_counter()
        cost = np.where(reach, wa[:, None] * sub, np.inf)

        def feasible(open_model_cols: IntArray) -> bool:
            return rules_hold(cols[open_model_cols], rules, n_sites)

        lag = lagrangian(
            cost,
            wa,
            f[cols],
            capacity[cols],
            np.isin(cols, rules.existing),
            n_sites,
            deadline,
            feasible=feasible,
        )
        lag_bound = lag.bound
        lag_lam = lag.lam
        if details is not None:
            details["lagrangian_bound"] = lag_bound
            details["lagrangian_iterations"] = float(lag.iterations)
        incumbent = lag.best
        log.debug(
            "lagrangian: bound %.6f, incumbent %s, %d iterations, %.1f s",
            lag_bound,
            None if incumbent is None else f"{incumbent.cost:.6f}",
            lag.iterations,
            time.perf_counter() - now,
        )
        if incumbent is not None and lag_bound < incumbent.cost:
            now = time.perf_counter()
            promising = np.argsort(lag.flip_bound, kind="stable")
            promising = promising[~lag.y[promising]][:_SEARCH_CANDIDATES]
            incumbent = local_search(
                cost,
                wa,
                f[cols],
                capacity[cols],
                incumbent,
                promising,
                np.isin(cols, rules.existing),
                deadline,
                feasible=feasible,
            )
            log.debug("local search: %.6f, %.1f s", incumbent.cost, time.perf_counter() - now)
        if incumbent is not None:
            ub = incumbent.cost
            tol = 0.5 * max(params.rel_gap, 1e-9) * max(1.0, abs(ub))
            if lag_bound >= ub - tol:
                return (
                    "optimal",
                    cols[incumbent.open_cols],
                    ub,
                    lag_bound,
                    _flows(incumbent, act, cols, d.shape),
                )
            fixed = lag.flip_bound > ub + 1e-9 * max(1.0, abs(ub))
            if fixed.any():
                fixed_bound = float(lag.flip_bound[fixed].min())
            keep = ~(fixed & ~lag.y)
            fixed_open = (fixed & lag.y)[keep]
            incumbent = Transport(
                open_cols=np.searchsorted(np.flatnonzero(keep), incumbent.open_cols),
                cost=incumbent.cost,
                rows=incumbent.rows,
                cols=np.searchsorted(np.flatnonzero(keep), incumbent.cols),
                share=incumbent.share,
            )
            cols, sub, reach = cols[keep], sub[:, keep], reach[:, keep]
            log.debug("fixed %d sites closed, %d open", int((~keep).sum()), int(fixed_open.sum()))
    ii, jj = np.nonzero(reach)
    e = ii.size
    k = cols.size

    def build(vub: IntArray | None, integer: bool) -> tuple[MipBuilder, int, int]:
        mip = MipBuilder.new()
        lb_y, ub_y = site_bounds(cols, rules)
        lb_y[fixed_open] = 1.0
        y_obj = f[cols] if feasibility_radius is None else 0.0
        y0 = mip.add_vars(k, lb=lb_y, ub=ub_y, obj=y_obj, integer=integer)
        if capacity is None and feasibility_radius is not None:
            # Plain covering rows: every point within the radius of an open site.
            cover = sparse.csr_array((np.ones(e), (ii, y0 + jj)), shape=(act.size, mip.n_vars))
            mip.add_rows(cover, 1.0, np.inf)
            x0 = -1
        else:
            x_obj = wa[ii] * sub[ii, jj] if feasibility_radius is None else 0.0
            x0 = mip.add_vars(e, obj=x_obj)
            ar = np.arange(e)
            one = sparse.csr_array((np.ones(e), (ii, x0 + ar)), shape=(act.size, x0 + e))
            mip.add_rows(one, 1.0, 1.0)
            if capacity is not None:
                cap = capacity[cols]
                load = sparse.csr_array(
                    (
                        np.concatenate([wa[ii], -cap]),
                        (
                            np.concatenate([jj, np.arange(k)]),
                            np.concatenate([x0 + ar, y0 + np.arange(k)]),
                        ),
                    ),
                    shape=(k, x0 + e),
                )
                mip.add_rows(load, -np.inf, 0.0)
                if n_sites is None and k:
                    # Fewest sites whose capacities cover the demand: a valid cut.
                    mip.add_row(np.arange(y0, y0 + k), 1.0, min_sites(cap, wa.sum()), np.inf)
            sel = ar if vub is None else vub
            if sel.size:
                t = sel.size
                vrows = sparse.csr_array(
                    (
                        np.concatenate([np.ones(t), -np.ones(t)]),
                        (
                            np.concatenate([np.arange(t)] * 2),
                            np.concatenate([x0 + sel, y0 + jj[sel]]),
                        ),
                    ),
                    shape=(t, x0 + e),
                )
                mip.add_rows(vrows, -np.inf, 0.0)
        add_rule_rows(mip, y0, cols, rules, n_sites, np.zeros(0, np.int64))
        return mip, y0, x0

    vub: IntArray | None = None
    if incumbent is not None and lag_lam is not None and e > _VUB_LIMIT:
        # Linking rows where the multipliers make the pair attractive (the LP's flows go
        # there), and the incumbent's pairs; the rest stay implied by the capacity rows.
        attractive = wa[ii] * sub[ii, jj] - lag_lam[ii] < 0
        pair = np.full(sub.shape, -1, np.int64)
        pair[ii, jj] = np.arange(e)
        used = pair[incumbent.rows, incumbent.cols]
        attractive[used[used >= 0]] = True
        vub = np.flatnonzero(attractive)
        log.debug("%d of %d linking rows", vub.size, e)
    elif capacity is not None and e > _VUB_LIMIT:
        # Separate the strong linking rows x_ij <= y_j on the LP relaxation, then keep those.
        # Start with each point's cheapest few sites, where split flows concentrate.
        near = np.argsort(np.where(reach, sub, np.inf), axis=1)[:, :10]
        pair = np.full(sub.shape, -1, np.int64)
        pair[ii, jj] = np.arange(e)
        vub = np.unique(pair[np.arange(act.size)[:, None], near])
        vub = vub[vub >= 0]
        for _ in range(30):
            if time.perf_counter() > deadline:
                break
            lp, ly0, lx0 = build(vub, integer=False)
            lout = lp.solve(params, maximize=False, time_limit_s=deadline - time.perf_counter())
            if lout.x is None or lout.status != "optimal":
                break
            viol = np.flatnonzero(lout.x[lx0 : lx0 + e] > lout.x[ly0 + jj] + 1e-6)
            if viol.size == 0:
                break
            vub = np.union1d(vub, viol)
    mip, y0, x0 = build(vub, integer=True)
    out = mip.solve(
        params,
        maximize=False,
        time_limit_s=deadline - time.perf_counter(),
        cutoff=incumbent.cost if incumbent is not None else None,
    )
    add_mip_work(details, out)
    if incumbent is not None:
        # Bound of the whole model: the reduced model's, or a fixed site's opposite value.
        if out.status == "infeasible":
            # Nothing in the reduced model beats the incumbent: it is optimal.
            return (
                "optimal",
                cols[incumbent.open_cols],
                incumbent.cost,
                incumbent.cost,
                _flows(incumbent, act, cols, d.shape),
            )
        bound = min(out.bound, fixed_bound) if math.isfinite(out.bound) else lag_bound
        bound = max(bound, lag_bound)
        if out.x is None or out.objective >= incumbent.cost:
            status = "feasible"
            return (
                status,
                cols[incumbent.open_cols],
                incumbent.cost,
                bound,
                _flows(incumbent, act, cols, d.shape),
            )
    else:
        if out.status == "infeasible":
            return "infeasible", np.zeros(0, np.int64), math.nan, math.nan, None
        if out.x is None:
            return "no_solution", np.zeros(0, np.int64), math.nan, out.bound, None
        bound = out.bound
    x = out.x
    chosen = cols[np.flatnonzero(x[y0 : y0 + k] > 0.5)]
    flows = None
    if x0 >= 0:
        v = x[x0 : x0 + e]
        keep_x = v > 1e-9
        flows = sparse.csr_array((v[keep_x], (act[ii[keep_x]], cols[jj[keep_x]])), shape=d.shape)
    status = "feasible" if out.status == "time_limit" else out.status
    return status, chosen, out.objective, bound, flows


def _flows(t: Transport, act: IntArray, cols: IntArray, shape: tuple[int, int]) -> sparse.csr_array:
    return sparse.csr_array((t.share, (act[t.rows], cols[t.cols])), shape=shape)
