"""p-center: open ``n_sites`` sites to minimise the longest travel of any point with demand.

The optimal radius is one of the distinct distances; a binary search over them solves one
covering feasibility model per step (:func:`.flows.solve_flows` with ``feasibility_radius``: every
point within the radius of an open site, ``p`` sites and the rules, with capacities as flows),
warm-started by a greedy on the largest distance.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.errors import InfeasibleError
from lnplan.optimize.siting._common import greedy_order_ok, rules_hold
from lnplan.optimize.siting._model import (
    FloatArray,
    IntArray,
    PreparedRules,
    SiteRules,
    SitingResult,
    SolveParams,
    check_weights,
    prepare_rules,
)
from lnplan.optimize.siting.flows import solve_flows
from lnplan.optimize.siting.median import (
    MedianCheck,
    _check_reach,
    _dense_cost,
    _finite_or_big,
    _median_heuristic,
    assemble_median,
)


@dataclass(frozen=True)
class CenterProblem:
    """p-center: open ``n_sites`` sites to minimise the longest travel of any demand point."""

    weights: FloatArray
    cost: FloatArray | sparse.csr_array
    n_sites: int
    rules: SiteRules = field(default_factory=SiteRules)


def solve_p_center(
    problem: CenterProblem,
    params: SolveParams | None = None,
    *,
    groups: Mapping[str, npt.ArrayLike] | None = None,
) -> SitingResult:
    """Minimise the longest travel of any demand point (with positive demand) to its site.

    Returns
    -------
    SitingResult
        ``objective`` is the radius (cost unit); ``bound`` the largest radius proved too short
        plus one step, i.e. a valid lower bound.
    """
    params = params or SolveParams()
    start = time.perf_counter()
    deadline = start + params.time_limit_s
    w = check_weights(problem.weights)
    d = _dense_cost(problem.cost, w.size)
    rules = prepare_rules(problem.rules, d.shape[1], problem.n_sites, total_demand=float(w.sum()))
    _check_reach(d, w, rules)
    check = MedianCheck(problem.rules, problem.n_sites, params.rel_gap, center=True)
    act = w > 0
    allowed_d = d[np.ix_(act, rules.allowed)]
    if not act.any():
        heur0 = _median_heuristic(
            d, np.ones(w.size), np.zeros(d.shape[1]), rules, problem.n_sites, deadline
        )
        chosen = heur0 if heur0 is not None else np.zeros(0, np.int64)
        return assemble_median(
            d=d,
            w=w,
            chosen=chosen,
            flows=None,
            status="optimal",
            objective=0.0,
            bound=0.0,
            start=start,
            engine="trivial (no demand)",
            groups=groups,
            details={},
            check=check,
        )
    low = float(allowed_d.min(axis=1).max())
    radii = np.unique(allowed_d[np.isfinite(allowed_d)])
    radii = radii[radii >= low]
    lo, hi = 0, radii.size - 1
    best: IntArray | None = None
    best_flows = None
    # Warm start: greedy on the largest distance (no capacities).
    if rules.capacity is None:
        g = _center_greedy(d, w, rules, problem.n_sites)
        if g is not None:
            r = float(d[np.ix_(act, g)].min(axis=1).max())
            if np.isfinite(r):
                hi = int(np.searchsorted(radii, r))
                best = g
    status = "optimal"
    steps = 0
    proven_hi = best is not None
    if radii.size == 0:
        raise InfeasibleError("no allowed candidate reaches the points with demand")
    while lo < hi or not proven_hi:
        mid = (lo + hi) // 2 if lo < hi else hi
        steps += 1
        st, chosen, _, _, flows = solve_flows(
            d,
            w,
            np.zeros(d.shape[1]),
            rules,
            problem.n_sites,
            params,
            deadline,
            feasibility_radius=float(radii[mid]),
        )
        if st == "infeasible":
            if mid == hi:
                raise InfeasibleError(
                    f"no choice of {problem.n_sites} sites reaches every point with demand, even "
                    f"within {radii[hi]:g}, under the rules and capacities (proved by the solver)"
                )
            lo = mid + 1
        elif st in ("optimal", "feasible", "time_limit") and chosen.size:
            best, best_flows, hi, proven_hi = chosen, flows, mid, True
        else:
            status = "feasible"
            break
    if best is None:
        return assemble_median(
            d=d,
            w=w,
            chosen=np.zeros(0, np.int64),
            flows=None,
            status="no_solution",
            objective=math.nan,
            bound=float(radii[lo]),
            start=start,
            engine="HiGHS MIP (OR-Tools MathOpt), binary search on covering radius",
            groups=groups,
            details={"steps": float(steps)},
            check=check,
        )
    if best_flows is not None:
        radius = float(d[best_flows.nonzero()].max()) if best_flows.nnz else 0.0
    else:
        radius = float(d[np.ix_(act, best)].min(axis=1).max())
    bound = float(radii[lo])
    return assemble_median(
        d=d,
        w=w,
        chosen=best,
        flows=best_flows,
        status=status,
        objective=radius,
        bound=bound,
        start=start,
        engine="HiGHS MIP (OR-Tools MathOpt), binary search on covering radius",
        groups=groups,
        details={"steps": float(steps)},
        check=check,
    )


def _center_greedy(
    d: FloatArray, w: FloatArray, rules: PreparedRules, n_sites: int
) -> IntArray | None:
    act = w > 0
    da = _finite_or_big(d, np.flatnonzero(act))
    chosen: list[int] = [int(j) for j in rules.existing]
    d1 = da[:, chosen].min(axis=1) if chosen else np.full(da.shape[0], 1e18)
    while len(chosen) < n_sites:
        val = np.minimum(d1[:, None], da).max(axis=0)
        val[~rules.allowed] = np.inf
        val[chosen] = np.inf
        picked = -1
        for j in np.lexsort(((np.minimum(d1[:, None], da)).sum(axis=0), val))[:200]:
            if not np.isfinite(val[j]):
                break
            if greedy_order_ok(chosen, int(j), rules, n_sites):
                picked = int(j)
                break
        if picked < 0:
            return None
        chosen.append(picked)
        d1 = np.minimum(d1, da[:, picked])
    out = np.asarray(sorted(chosen), np.int64)
    return out if rules_hold(out, rules, n_sites) else None
