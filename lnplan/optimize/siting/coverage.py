"""Maximal covering (MCLP), partial set cover and coverage equity.

Formulations (``w_i`` demand of point ``i`` in households, ``N_i`` the candidates that reach it
within the radius or travel time, ``y_j`` = 1 when site ``j`` is open):

- **MCLP**: maximise ``sum_i w_i z_i`` subject to ``z_i <= sum_{j in N_i} y_j`` (``0 <= z_i <= 1``,
  continuous: it is 1 at an optimum whenever a site reaches ``i``) and ``sum_j y_j = p``.
  Objective unit: households covered.
- **Set cover** (partial): minimise ``sum_j y_j`` (or ``sum_j cost_j y_j`` in yuan) subject to the
  same linking rows and ``sum_i w_i z_i >= target * sum_i w_i``.
- **Capacities** (households a site can serve): ``z`` is replaced by flows ``x_ij`` (share of ``i``
  served by ``j``), with ``sum_j x_ij <= 1``, ``sum_i w_i x_ij <= cap_j y_j`` and ``x_ij <= y_j``.
- **Equity** over demand groups ``g`` (e.g. cities, total demand ``W_g``): ``"max_min"`` maximises
  ``t`` with ``sum_{i in g} w_i z_i >= W_g t`` for every group, then maximises total coverage with
  ``t`` held at its optimum; ``"floor"`` adds ``sum_{i in g} w_i z_i >= floor_g W_g``. The price of
  equity is the unconstrained optimum minus the covered demand under the requirement.
- **Rules** (:class:`SiteRules`): existing sites are fixed open, excluded ones removed, group
  bounds ``min_g <= sum_{j in g} y_j <= max_g`` and the budget ``sum_j cost_j y_j <= B`` are rows.

Reductions before the MIP, each exact: demand covered by an existing site is counted and removed;
demand points with identical cover sets (and equity group) are merged into one row with the summed
weight; candidates whose cover set is contained in another candidate's (same group, no dearer,
no capacities, no budget) are dropped. A greedy solution improved by best-improvement swaps is the
incumbent the MIP must beat: OR-Tools 9.15's HiGHS backend crashes on solution hints, so when the
MIP stops at the time limit without a better solution the swap solution is returned.

Backend: HiGHS through OR-Tools' MathOpt, the model passed as a proto built from sparse
matrices in one go. The linking rows make the LP relaxation tight (on the clustered benchmark
the root LP is integral) so an LP-based branch-and-bound proves optimality at the root;
CP-SAT, without an LP at that scale, was measured far from optimal after 60 s on a
20,000 x 2,000 instance where HiGHS proves optimality. HiGHS presolve is switched off on the
reduced plain model: it spends seconds re-discovering the reductions above.

Large MCLP (no capacities; reduced model above ``_MIP_DIRECT_NNZ`` nonzeros): HiGHS does not
finish the root LP of a province-scale model (300,000 x 5,000, ~70,000 merged rows, 6 million
nonzeros) within a minute and the model alone costs over a gigabyte, so the LP bound comes from
Benders cuts on the site variables (Cordeau, Furini and Ljubić 2019, :mod:`._benders`): a master
LP over ``y`` and one ``theta`` per block of rows, the rules as rows on ``y``, in-out
stabilisation; the master LPs go to HiGHS through ``scipy.optimize.linprog``, which returns the
reduced costs the fixing below needs, and every MIP to HiGHS through MathOpt. The incumbent is
the MIP restricted to the sites the LP solution uses (few are fractional), improved by swaps.
The final master's reduced costs fix sites closed (open) when opening (closing) them cannot beat
the incumbent. MIPs over growing neighbourhoods (LP support,
incumbent, the sites cheapest to open by reduced cost), each with the incumbent's value as
cutoff, look for better solutions; the last one holds every site the fixing leaves and is
exact: it finds a better solution or proves that none exists (solutions breaking a fixing cannot
beat the incumbent). On the province benchmark (seed 1, load about 3) the LP bound 574,741 is
reached after about 37 s and the incumbent is 574,578: gap 0.028 % in 59 s, 1.45 GB peak; the
model left after fixing (37,000 rows x 2,900 sites) is still too large to close the gap.
On the demo scenario (25,000 points, 30-minute reach, per-city minimums; 174,000 nonzeros after
reduction) the LP gap itself is about 1.25 %, the MIP path is used and this path was not better.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.errors import InfeasibleError, InputError
from lnplan.optimize.siting._benders import MasterRows, benders_lp
from lnplan.optimize.siting._common import (
    add_rule_rows,
    rules_hold,
    site_bounds,
)
from lnplan.optimize.siting._mip import MipBuilder, MipOutcome
from lnplan.optimize.siting._model import (
    Equity,
    FloatArray,
    IntArray,
    PreparedRules,
    SiteRules,
    SitingResult,
    SolveParams,
    _plain,
    check_weights,
    group_label,
    main_sites,
    prepare_rules,
    siting_result,
    within,
)
from lnplan.optimize.siting._verify import Verdict, coverage_verdict, floors_broken
from lnplan.optimize.siting.heuristics import _greedy, _swap_improve
from lnplan.optimize.siting.reduction import (
    _covered_weight,
    _fsum,
    _pattern,
    _reduce,
    _Reduced,
    _restrict,
)

log = logging.getLogger(__name__)

Mode = Literal["max_cover", "min_sites", "min_cost", "max_min"]


@dataclass(frozen=True)
class CoverageProblem:
    """Maximal covering: open ``n_sites`` sites to cover the most demand.

    Parameters
    ----------
    weights
        Demand per demand point (households).
    covers
        Sparse demand x candidate matrix, nonzero where the candidate reaches the demand point. The
        stored values may be travel times or distances (positive); the assignment then picks the
        nearest open covering site.
    n_sites
        Number of open sites, existing ones included.
    rules
        Existing, excluded, capacities, group bounds, budget.
    """

    weights: FloatArray
    covers: sparse.csr_array
    n_sites: int
    rules: SiteRules = field(default_factory=SiteRules)


@dataclass(frozen=True)
class SetCoverProblem:
    """Partial set cover: the fewest (or cheapest) sites that cover ``target_share`` of demand.

    Parameters
    ----------
    weights, covers, rules
        As in :class:`CoverageProblem`.
    target_share
        Share of all demand (0-1) to cover, e.g. 0.85.
    minimize
        ``"sites"`` (count) or ``"cost"`` (``rules.site_cost_yuan``).
    """

    weights: FloatArray
    covers: sparse.csr_array
    target_share: float
    rules: SiteRules = field(default_factory=SiteRules)
    minimize: Literal["sites", "cost"] = "sites"


# --- MIP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GroupData:
    codes: npt.NDArray[np.generic]
    index: IntArray  # group index per original demand point
    total: FloatArray  # demand per group
    floor: FloatArray  # floor rate per group (0 without)


def _group_data(equity: Equity, w: FloatArray) -> _GroupData:
    labels = np.asarray(equity.groups)
    if labels.shape != w.shape:
        raise InputError(
            f"equity groups must have one code per demand point ({w.size}), got {labels.shape}"
        )
    codes, idx = np.unique(labels, return_inverse=True)
    total = _fsum(idx, w, codes.size)
    if isinstance(equity.floor, Mapping):
        fl = np.array([float(equity.floor.get(_plain(c), 0.0)) for c in codes])
    else:
        fl = np.full(codes.size, float(equity.floor))
    if ((fl < 0) | (fl > 1)).any():
        raise InputError("equity floor rates must lie between 0 and 1")
    return _GroupData(codes, idx.astype(np.int64), total, fl)


def _solve_mip(
    red: _Reduced,
    w_orig: FloatArray,
    rules: PreparedRules,
    *,
    mode: Mode,
    n_sites: int | None,
    params: SolveParams,
    deadline: float,
    target_weight: float | None = None,
    groups: _GroupData | None = None,
    floors: FloatArray | None = None,
    presolve: bool = True,
    better_than: float | None = None,
) -> tuple[MipOutcome, IntArray, FloatArray, sparse.csr_array | None]:
    """Build and solve; return the outcome, open model columns, coverage per merged row, flows.

    With ``better_than`` (``"max_cover"`` only) solutions covering no more than that are cut off
    (HiGHS ``objective_bound`` on the negated objective); the status is then ``"infeasible"``
    when no better solution exists.
    """
    mat, w = red.mat, red.w
    r, k = mat.shape
    mip = MipBuilder.new()
    lb, ub = site_bounds(red.cols, rules)
    if mode == "min_sites":
        y_obj: float | FloatArray = 1.0
    elif mode == "min_cost":
        y_obj = rules.cost[red.cols] if rules.cost is not None else 1.0
    else:
        y_obj = 0.0
    y0 = mip.add_vars(k, lb=lb, ub=ub, obj=y_obj, integer=True)
    cover_obj = w if mode == "max_cover" else 0.0
    flows = rules.capacity is not None
    coo = sparse.coo_array(mat)
    if not flows:
        z0 = mip.add_vars(r, obj=cover_obj)
        link = sparse.hstack(
            [-sparse.csr_array(mat), sparse.eye_array(r, format="csr")], format="csr"
        )
        mip.add_rows(link, -np.inf, 0.0)
        cov_cols = np.arange(z0, z0 + r)
        cov_rows = np.arange(r)
    else:
        e = coo.nnz
        x0 = mip.add_vars(e, obj=(w[coo.row] if mode == "max_cover" else 0.0))
        ar = np.arange(e)
        one = sparse.csr_array((np.ones(e), (coo.row, x0 + ar)), shape=(r, x0 + e))
        mip.add_rows(one, -np.inf, 1.0)
        cap = rules.capacity[red.cols] if rules.capacity is not None else np.zeros(k)
        load = sparse.csr_array(
            (
                np.concatenate([w[coo.row], -cap]),
                (
                    np.concatenate([coo.col, np.arange(k)]),
                    np.concatenate([x0 + ar, y0 + np.arange(k)]),
                ),
            ),
            shape=(k, x0 + e),
        )
        mip.add_rows(load, -np.inf, 0.0)
        if e <= 2_000_000:
            vub = sparse.csr_array(
                (
                    np.concatenate([np.ones(e), -np.ones(e)]),
                    (np.concatenate([ar, ar]), np.concatenate([x0 + ar, y0 + coo.col])),
                ),
                shape=(e, x0 + e),
            )
            mip.add_rows(vub, -np.inf, 0.0)
        cov_cols = x0 + ar
        cov_rows = coo.row
    add_rule_rows(mip, y0, red.cols, rules, n_sites, red.outside_open)
    const_cov = float(w_orig[red.pre_covered].sum())
    if target_weight is not None:
        mip.add_row(cov_cols, w[cov_rows], target_weight - const_cov, np.inf)
    t_var = -1
    if groups is not None:
        g_rows = red.row_group[cov_rows]
        const_g = _fsum(groups.index[red.pre_covered], w_orig[red.pre_covered], groups.codes.size)
        active = np.flatnonzero(groups.total > 0)
        gmat = sparse.csr_array(
            (w[cov_rows], (g_rows, cov_cols)), shape=(groups.codes.size, mip.n_vars)
        )
        if mode == "max_min":
            t_var = mip.add_vars(1, lb=0.0, ub=1.0, obj=1.0)
            ga = sparse.coo_array(gmat[active])
            rows_g = sparse.csr_array(
                (
                    np.concatenate([ga.data, -groups.total[active]]),
                    (
                        np.concatenate([ga.row, np.arange(active.size)]),
                        np.concatenate([ga.col, np.full(active.size, t_var)]),
                    ),
                ),
                shape=(active.size, mip.n_vars),
            )
            mip.add_rows(rows_g, -const_g[active], np.inf)
        if floors is not None:
            need = floors[active] * groups.total[active] - const_g[active]
            mip.add_rows(sparse.csr_array(gmat[active]), need - 1e-9 * groups.total[active], np.inf)
    maximize = mode in ("max_cover", "max_min")
    offset = const_cov if mode == "max_cover" else 0.0
    if mode in ("min_sites", "min_cost"):
        out = red.outside_open
        offset = (
            float(out.size)
            if mode == "min_sites"
            else float(rules.cost[out].sum() if rules.cost is not None else 0.0)
        )
    remaining = deadline - time.perf_counter()
    if better_than is not None and mode == "max_cover":
        mip.obj = [-o for o in mip.obj]
        outcome = mip.solve(
            params,
            maximize=False,
            time_limit_s=remaining,
            presolve=presolve,
            objective_offset=-offset,
            cutoff=-better_than,
            deadline=deadline,
        )
        outcome = replace(outcome, objective=-outcome.objective, bound=-outcome.bound)
    else:
        outcome = mip.solve(
            params,
            maximize=maximize,
            time_limit_s=remaining,
            presolve=presolve,
            objective_offset=offset,
            deadline=deadline,
        )
    if outcome.x is None:
        return outcome, np.zeros(0, np.int64), np.zeros(r), None
    x = outcome.x
    open_cols = np.flatnonzero(x[y0 : y0 + k] > 0.5)
    row_cov = np.minimum(np.bincount(cov_rows, weights=x[cov_cols], minlength=r), 1.0)
    if not flows:
        # z may sit below 1 where it does not pay (e.g. set cover above target); report the truth.
        yv = np.zeros(k)
        yv[open_cols] = 1.0
        row_cov = (np.asarray(mat @ yv).ravel() > 0).astype(np.float64)
        flow_mat = None
    else:
        vals = np.where(x[cov_cols] > 1e-9, x[cov_cols], 0.0)
        flow_mat = sparse.csr_array((vals, (coo.row, coo.col)), shape=(r, k))
        flow_mat.eliminate_zeros()
    return outcome, open_cols, row_cov, flow_mat


# --- result assembly --------------------------------------------------------------------------


def _assemble(
    *,
    c: sparse.csr_array,
    w: FloatArray,
    red: _Reduced,
    chosen: IntArray,
    row_cov: FloatArray,
    flows: sparse.csr_array | None,
    status: str,
    objective: float,
    bound: float,
    start: float,
    engine: str,
    groups: Mapping[str, npt.ArrayLike] | None,
    details: dict[str, float],
    check: _Check,
    unconstrained: float | None = None,
    price_proven: bool = False,
    can_be_optimal: bool = True,
) -> SitingResult:
    n, m = c.shape
    share = np.zeros(n)
    share[red.pre_covered] = 1.0
    in_model = red.member >= 0
    share[in_model] = row_cov[red.member[in_model]]
    share_mat = None
    # Nearest open covering site of every point (smallest stored value in ``covers``).
    nearest = _nearest_open(c, chosen)
    if flows is None:
        assignment = nearest
        share = (nearest >= 0).astype(np.float64)
    else:
        fr = sparse.coo_array(flows)
        big = sparse.csr_array((fr.data, (fr.row, red.cols[fr.col])), shape=(flows.shape[0], m))
        pick = sparse.csr_array(
            (np.ones(int(in_model.sum())), (np.flatnonzero(in_model), red.member[in_model])),
            shape=(n, flows.shape[0]),
        )
        share_mat = sparse.csr_array(pick @ big)
        # Existing sites outside the model do not occur with capacities (they stay in the model).
        assignment = main_sites(share_mat)
        # Points without demand carry no flow: give them their nearest open covering site.
        zero = (w == 0) & (assignment < 0)
        assignment[zero] = nearest[zero]
    answer = status != "no_solution"
    verdict = check.verdict(c, w, chosen, share_mat) if answer else None
    return siting_result(
        status=status,
        objective=objective,
        bound=bound,
        start=start,
        engine=engine,
        chosen=chosen,
        assignment=assignment,
        weights=w,
        served=share if answer else np.zeros(n),
        groups=groups,
        details=details,
        verdict=verdict,
        maximize=check.kind == "cover",
        rel_gap=check.rel_gap,
        integral=check.integral(w),
        assignment_share=share_mat,
        unconstrained=unconstrained,
        price_proven=price_proven,
        covered_is_objective=check.kind == "cover",
        can_be_optimal=can_be_optimal,
    )


@dataclass(frozen=True)
class _Check:
    """What :mod:`._verify` needs to recompute a coverage answer's objective and its rules."""

    rules: SiteRules
    n_sites: int | None
    rel_gap: float
    kind: Literal["cover", "sites", "cost"] = "cover"
    target_weight: float | None = None
    floor_labels: npt.ArrayLike | None = None
    floor: float | Mapping[object, float] = 0.0

    def verdict(
        self,
        c: sparse.csr_array,
        w: FloatArray,
        chosen: IntArray,
        share: sparse.csr_array | None,
    ) -> Verdict:
        v, served = coverage_verdict(c, w, chosen, self.rules, self.n_sites, share)
        broken = list(v.broken)
        if self.floor_labels is not None:
            broken += floors_broken(
                w, served, np.asarray(self.floor_labels), self.floor, self.rules.group_names
            )
        if self.kind == "cover":
            return Verdict(v.objective, broken)
        if self.target_weight is not None and not within(self.target_weight, v.objective):
            broken.append(
                f"covers {v.objective:,.2f} demand, below the target of {self.target_weight:,.2f}"
            )
        if self.kind == "sites":
            return Verdict(float(chosen.size), broken)
        cost = np.asarray(self.rules.site_cost_yuan, np.float64)
        return Verdict(float(cost[chosen].sum()), broken)

    def integral(self, w: FloatArray) -> bool:
        """Whether every answer's objective is a whole number (the bound may then be rounded)."""
        if self.kind == "sites":
            return True
        if self.kind == "cost":
            cost = np.asarray(self.rules.site_cost_yuan, np.float64)
            return bool(np.all(cost == np.round(cost)))
        return self.rules.capacity is None and bool(np.all(w == np.round(w)))


def _nearest_open(c: sparse.csr_array, chosen: IntArray, chunk: int = 20_000) -> IntArray:
    """Per row of ``c``, the open site with the smallest stored value (-1 if none); low memory."""
    n, m = c.shape
    nearest = np.full(n, -1, np.int64)
    if chosen.size == 0:
        return nearest
    is_open = np.zeros(m, dtype=np.bool_)
    is_open[chosen] = True
    indptr = c.indptr
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        lo, hi = int(indptr[s]), int(indptr[e])
        cols = c.indices[lo:hi]
        keep = is_open[cols]
        if not keep.any():
            continue
        rows = np.repeat(np.arange(s, e), np.diff(indptr[s : e + 1]))[keep]
        vals = np.asarray(c.data[lo:hi][keep], dtype=np.float64)
        cols = cols[keep]
        order = np.lexsort((cols, vals, rows))
        first = np.unique(rows[order], return_index=True)[1]
        nearest[rows[order][first]] = cols[order][first]
    return nearest


def _status(outcome: MipOutcome) -> str:
    """The search's word for :func:`siting_result` (its status follows from the proven gap)."""
    return "no_solution" if outcome.x is None else outcome.status


# --- public solvers ---------------------------------------------------------------------------


def solve_max_coverage(
    problem: CoverageProblem,
    params: SolveParams | None = None,
    *,
    equity: Equity | None = None,
    groups: Mapping[str, npt.ArrayLike] | None = None,
) -> SitingResult:
    """Open ``problem.n_sites`` sites to cover the most demand (MCLP), optionally with equity.

    Parameters
    ----------
    problem
        Weights, cover matrix, number of sites and rules.
    params
        Time limit, seed, threads, gap.
    equity
        A fairness requirement over demand groups; the result then also reports the unconstrained
        optimum and the price of equity.
    groups
        Named label arrays over demand points (e.g. ``{"city": ..., "county": ...}``) for the
        coverage report.

    Returns
    -------
    SitingResult
        ``objective`` is the covered demand (or, for ``equity.mode == "max_min"``, the covered
        demand at the best lowest group rate).

    Raises
    ------
    InfeasibleError
        When the rules cannot hold together (said which and by how much).
    """
    params = params or SolveParams()
    start = time.perf_counter()
    deadline = start + params.time_limit_s
    w = check_weights(problem.weights)
    c = _pattern(problem.covers, w.size)
    rules = prepare_rules(problem.rules, c.shape[1], problem.n_sites)
    check = _Check(problem.rules, problem.n_sites, params.rel_gap)
    if equity is None:
        return _max_coverage(c, w, rules, problem.n_sites, params, start, deadline, groups, check)
    gd = _group_data(equity, w)
    names = problem.rules.group_names
    # Feasibility of the floors: each group's coverage with every allowed candidate open.
    reach = np.asarray(c[:, np.flatnonzero(rules.allowed)].sum(axis=1)).ravel() > 0
    best = np.bincount(gd.index, weights=w * reach, minlength=gd.codes.size)
    if equity.mode == "floor":
        short = (best < gd.floor * gd.total - 1e-9) & (gd.total > 0)
        if short.any():
            g = int(np.flatnonzero(short)[0])
            raise InfeasibleError(
                f"{group_label(_plain(gd.codes[g]), names)} can reach at most "
                f"{best[g] / gd.total[g]:.1%} coverage even with every allowed candidate open, "
                f"below its floor of {gd.floor[g]:.1%} ({int(short.sum())} group(s) short)"
            )
    elif equity.mode != "max_min":
        raise InputError(f"equity mode {equity.mode!r}: use 'max_min' or 'floor'")
    # The unconstrained optimum first: the price of equity, and the warm start of max-min.
    plain = _max_coverage(
        c,
        w,
        rules,
        problem.n_sites,
        params,
        start,
        start + params.time_limit_s * 0.4,
        groups,
        check,
    )
    unconstrained = plain.objective if plain.status != "no_solution_in_limit" else None
    n_free = problem.n_sites - rules.existing.size
    outside = rules.existing if rules.capacity is None else np.zeros(0, np.int64)
    red = _reduce(
        c,
        w,
        rules,
        outside_open=outside,
        removed_cols=None,
        group_idx=gd.index,
        n_free=n_free,
        dominance=True,
    )
    details: dict[str, float] = {"merged_rows": red.mat.shape[0], "model_sites": red.cols.size}
    floors = gd.floor if equity.mode == "floor" else None
    stage1_proven = True
    # Candidate answers that meet the floors, each as (open model columns, its shares or None).
    fallback: list[tuple[IntArray, FloatArray, sparse.csr_array | None]] = []
    if equity.mode == "max_min":
        # Stage 1: the best lowest group rate. Its warm start is the unconstrained answer: the
        # lowest rate it reaches is a rate some answer meets, whatever the MIP finds in time.
        t_warm = -math.inf
        if plain.status != "no_solution_in_limit":
            t_warm = _lowest_rate(w, _served_of(plain, w), gd)
        out1, open1, cov1, flows1 = _solve_mip(
            red,
            w,
            rules,
            mode="max_min",
            n_sites=problem.n_sites,
            params=params,
            deadline=start + params.time_limit_s * 0.7,
            groups=gd,
        )
        if out1.status == "infeasible":
            raise InfeasibleError("no choice of sites satisfies the rules (proved by the solver)")
        t1 = -math.inf
        if out1.x is not None:
            served1 = _served_rows(red, w, cov1)
            t1 = _lowest_rate(w, served1, gd)
            fallback.append((open1, cov1, flows1))
        t_star = max(t1, t_warm)
        if not math.isfinite(t_star):
            return _no_answer(
                c,
                w,
                red,
                start,
                "HiGHS MIP (OR-Tools MathOpt), equity max_min",
                groups,
                details,
                check,
                out1.bound,
            )
        # Stage 1 is proven when its bound meets the best lowest rate found.
        stage1_proven = math.isfinite(out1.bound) and out1.bound <= t_star + max(
            params.rel_gap, 1e-9
        )
        details["min_group_rate"] = t_star
        details["min_group_rate_bound"] = out1.bound if math.isfinite(out1.bound) else 1.0
        details["min_group_rate_proven"] = float(stage1_proven)
        if t1 < t_warm:
            fallback = []
        floors = np.full(gd.codes.size, max(t_star - 1e-7, 0.0))
        check = replace(check, floor_labels=gd.index, floor=float(max(t_star - 1e-7, 0.0)))
    else:
        check = replace(
            check,
            floor_labels=gd.index,
            floor={int(i): float(f) for i, f in enumerate(gd.floor)},
        )
    out, open_cols, row_cov, flows = _solve_mip(
        red,
        w,
        rules,
        mode="max_cover",
        n_sites=problem.n_sites,
        params=params,
        deadline=deadline,
        groups=gd,
        floors=floors,
    )
    if out.status == "infeasible":
        raise InfeasibleError(
            "no choice of sites meets every group's coverage floor together with the rules "
            "(proved by the solver)"
        )
    status = _status(out)
    objective = out.objective
    if out.x is None or status != "optimal":
        # Keep the better of the MIP's answer and the answers known to meet the floors.
        if (
            equity.mode == "max_min"
            and not fallback
            and plain.status != "no_solution_in_limit"
            and (out.x is None or plain.objective > objective)
        ):
            return _equity_from_plain(
                plain, c, w, red, start, groups, details, check, out.bound, unconstrained
            )
        for cols_f, cov_f, flows_f in fallback:
            value = float((w * _served_rows(red, w, cov_f)).sum())
            if out.x is None or value > objective:
                open_cols, row_cov, flows, objective, status = (
                    cols_f,
                    cov_f,
                    flows_f,
                    value,
                    "feasible",
                )
    chosen = np.concatenate([red.cols[open_cols], red.outside_open]).astype(np.int64)
    engine = f"HiGHS MIP (OR-Tools MathOpt), equity {equity.mode}"
    if status == "no_solution":
        return _no_answer(c, w, red, start, engine, groups, details, check, out.bound)
    return _assemble(
        c=c,
        w=w,
        red=red,
        chosen=chosen,
        row_cov=row_cov,
        flows=flows,
        status=status,
        objective=objective,
        bound=out.bound,
        start=start,
        engine=engine,
        groups=groups,
        details=details,
        check=check,
        unconstrained=unconstrained,
        price_proven=stage1_proven and plain.status == "optimal",
        can_be_optimal=stage1_proven,
    )


def _served_rows(red: _Reduced, w: FloatArray, row_cov: FloatArray) -> FloatArray:
    """Each original demand point's served share from the merged rows' coverage."""
    served = np.zeros(w.size)
    served[red.pre_covered] = 1.0
    inside = red.member >= 0
    served[inside] = row_cov[red.member[inside]]
    return served


def _served_of(result: SitingResult, w: FloatArray) -> FloatArray:
    """Each demand point's served share in a result (its shares, or reached by an open site)."""
    if result.assignment_share is not None:
        return np.minimum(np.asarray(result.assignment_share.sum(axis=1)).ravel(), 1.0)
    return (result.assignment >= 0).astype(np.float64)


def _lowest_rate(w: FloatArray, served: FloatArray, gd: _GroupData) -> float:
    cov = np.bincount(gd.index, weights=w * served, minlength=gd.codes.size)
    act = gd.total > 0
    return float((cov[act] / gd.total[act]).min()) if act.any() else 1.0


def _equity_from_plain(
    plain: SitingResult,
    c: sparse.csr_array,
    w: FloatArray,
    red: _Reduced,
    start: float,
    groups: Mapping[str, npt.ArrayLike] | None,
    details: dict[str, float],
    check: _Check,
    bound: float,
    unconstrained: float | None,
) -> SitingResult:
    """The unconstrained answer as the max-min answer (it meets the lowest rate it reaches)."""
    verdict = check.verdict(c, w, plain.chosen, plain.assignment_share)
    served = _served_of(plain, w)
    return siting_result(
        status="feasible",
        objective=plain.objective,
        bound=bound if math.isfinite(bound) else math.inf,
        start=start,
        engine="unconstrained answer (equity stages not solved in time)",
        chosen=plain.chosen,
        assignment=plain.assignment,
        weights=w,
        served=served,
        groups=groups,
        details=details,
        verdict=verdict,
        maximize=True,
        rel_gap=check.rel_gap,
        integral=check.integral(w),
        assignment_share=plain.assignment_share,
        unconstrained=unconstrained,
        covered_is_objective=True,
        can_be_optimal=False,
    )


def _no_answer(
    c: sparse.csr_array,
    w: FloatArray,
    red: _Reduced,
    start: float,
    engine: str,
    groups: Mapping[str, npt.ArrayLike] | None,
    details: dict[str, float],
    check: _Check,
    bound: float,
) -> SitingResult:
    """The result when the time limit ran out before any answer (not an error)."""
    return _assemble(
        c=c,
        w=w,
        red=red,
        chosen=np.zeros(0, np.int64),
        row_cov=np.zeros(red.mat.shape[0]),
        flows=None,
        status="no_solution",
        objective=math.nan,
        bound=bound,
        start=start,
        engine=engine,
        groups=groups,
        details=details,
        check=check,
    )


def _max_coverage(
    c: sparse.csr_array,
    w: FloatArray,
    rules: PreparedRules,
    n_sites: int,
    params: SolveParams,
    start: float,
    deadline: float,
    groups: Mapping[str, npt.ArrayLike] | None,
    check: _Check,
) -> SitingResult:
    n_free = n_sites - rules.existing.size
    outside = rules.existing if rules.capacity is None else np.zeros(0, np.int64)
    red = _reduce(
        c,
        w,
        rules,
        outside_open=outside,
        removed_cols=None,
        group_idx=None,
        n_free=n_free,
        dominance=True,
    )
    details: dict[str, float] = {
        "demand_rows": float(c.shape[0]),
        "merged_rows": float(red.mat.shape[0]),
        "model_sites": float(red.cols.size),
        "dominated_sites": float(red.dropped_dominated),
    }
    details["time_reduce_s"] = time.perf_counter() - start
    n_pick = n_sites - red.outside_open.size
    heur_deadline = start + min(params.time_limit_s * 0.3, 20.0)
    # With capacities the greedy's coverage ignores them: it is no fallback answer.
    g = _greedy(red, rules, n_pick, n_sites) if rules.capacity is None else None
    hint = None
    const = float(w[red.pre_covered].sum())
    if (
        g is not None
        and red.mat.nnz > _MIP_DIRECT_NNZ
        and red.mat.shape[0] > 0
        and 0 < n_pick < red.mat.shape[1]
    ):
        details["greedy_objective"] = const + _covered_weight(red, g)
        return _max_coverage_benders(
            c, w, rules, n_sites, params, start, deadline, groups, red, g, details, check
        )
    if g is not None:
        hint = _swap_improve(red, rules, g, heur_deadline)
        details["heuristic_objective"] = const + _covered_weight(red, hint)
    details["time_heuristic_s"] = time.perf_counter() - start
    if n_pick == 0 or (red.mat.shape[0] == 0 and hint is not None):
        # Nothing to choose, or no demand left to cover: every answer that keeps the rules
        # covers ``const``.
        chosen = np.concatenate([red.cols[hint] if hint is not None else [], red.outside_open])
        return _assemble(
            c=c,
            w=w,
            red=red,
            chosen=chosen.astype(np.int64),
            row_cov=np.zeros(red.mat.shape[0]),
            flows=None,
            status="optimal",
            objective=const,
            bound=const,
            start=start,
            engine="reduction (nothing to choose)",
            groups=groups,
            details=details,
            check=check,
        )
    out, open_cols, row_cov, flows = _solve_mip(
        red,
        w,
        rules,
        mode="max_cover",
        n_sites=n_sites,
        params=params,
        deadline=deadline - _reserve_s(params),
        presolve=not rules.is_plain,
    )
    if out.status == "infeasible":
        raise InfeasibleError(
            "no choice of sites satisfies the rules together (proved by the solver); check the "
            "group bounds against the budget"
        )
    heur_value = const + _covered_weight(red, hint) if hint is not None else -math.inf
    status = _status(out)
    objective = out.objective
    if hint is not None and (out.x is None or (out.status != "optimal" and objective < heur_value)):
        # The MIP stopped early with nothing better than the warm start: keep the warm start.
        open_cols = hint
        status = "feasible"
        yv = np.zeros(red.mat.shape[1])
        yv[open_cols] = 1.0
        row_cov = (np.asarray(red.mat @ yv).ravel() > 0).astype(np.float64)
        flows = None
        objective = heur_value
    chosen = np.concatenate([red.cols[open_cols], red.outside_open]).astype(np.int64)
    bound = out.bound if math.isfinite(out.bound) else math.inf
    return _assemble(
        c=c,
        w=w,
        red=red,
        chosen=chosen,
        row_cov=row_cov,
        flows=flows,
        status=status,
        objective=objective,
        bound=bound,
        start=start,
        engine="HiGHS MIP (OR-Tools MathOpt), reduced MCLP",
        groups=groups,
        details=details,
        check=check,
    )


# A reduced MCLP without capacities and with more nonzeros than this goes to the Benders path:
# HiGHS was measured not to finish the root LP of a 70,000-row, 6-million-nonzero model in 60 s
# (and the model alone took over 1 GB), while 20,000 x 2,000 (about 0.5 million) is proved in
# seconds by the MIP directly.
_MIP_DIRECT_NNZ = 2_000_000


def _reserve_s(params: SolveParams) -> float:
    """Time kept back from the last MIP for HiGHS overrunning its limit and for the result."""
    return min(0.03 * params.time_limit_s, 2.0)


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


def _max_coverage_benders(
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
    check: _Check,
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
    t0 = time.perf_counter()
    try:
        lp = benders_lp(
            red.mat,
            red.w,
            _master_rows(red, rules, n_sites),
            start=y0,
            deadline=t0 + 0.55 * (deadline - t0),
            rel_tol=1e-6,
            seed=params.seed,
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
    if support.sum() < k:
        red_s = _restrict(red, support, np.zeros(k, dtype=np.bool_))
        now = time.perf_counter()
        out_s, open_s, _, _ = _solve_restricted_mip(
            red_s,
            w,
            rules,
            mode="max_cover",
            n_sites=n_sites,
            params=params,
            deadline=now + 0.25 * (deadline - now),
            presolve=False,
        )
        if out_s.x is not None:
            cand = np.flatnonzero(support)[open_s]
            val = _covered_weight(red, cand)
            if val > best_val + tol:
                best_cols, best_val = cand, val
    details["lp_support_sites"] = float(support.sum())
    details["lp_support_objective"] = const + best_val
    now = time.perf_counter()
    swapped = _swap_improve(red, rules, best_cols, now + 0.2 * (deadline - now))
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
    final_deadline = deadline - _reserve_s(params)
    rank = np.argsort(lp.rc_open, kind="stable")
    n_extra = 100
    rounds = 0
    while not status and math.isfinite(lp.master_value):
        closed = lp.master_value - lp.rc_open < best_val - tol
        opened = lp.master_value - lp.rc_close < best_val - tol
        hood = support.copy()
        hood[best_cols] = True
        hood[rank[:n_extra]] = True
        hood &= ~closed
        left_s = final_deadline - time.perf_counter()
        if left_s < 0.1 * params.time_limit_s:
            break  # too little time to build and search another model
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
            deadline=final_deadline if last else now + 0.4 * (final_deadline - now),
            presolve=False,
            better_than=cutoff,
        )
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
    return _assemble(
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


def solve_set_cover(
    problem: SetCoverProblem,
    params: SolveParams | None = None,
    *,
    groups: Mapping[str, npt.ArrayLike] | None = None,
) -> SitingResult:
    """The fewest (or cheapest) sites that cover ``problem.target_share`` of all demand.

    Raises
    ------
    InfeasibleError
        When even every allowed candidate together cannot reach the target (says the best
        reachable share), or the rules contradict each other.
    """
    params = params or SolveParams()
    start = time.perf_counter()
    deadline = start + params.time_limit_s
    w = check_weights(problem.weights)
    c = _pattern(problem.covers, w.size)
    if not 0 <= problem.target_share <= 1:
        raise InputError(f"target_share = {problem.target_share!r}: must lie between 0 and 1")
    if problem.minimize not in ("sites", "cost"):
        raise InputError(f"minimize = {problem.minimize!r}: use 'sites' or 'cost'")
    rules = prepare_rules(problem.rules, c.shape[1], None)
    if problem.minimize == "cost" and rules.cost is None:
        raise InputError("minimize='cost' needs rules.site_cost_yuan")
    total = float(w.sum())
    target = problem.target_share * total
    reach = np.asarray(c[:, np.flatnonzero(rules.allowed)].sum(axis=1)).ravel() > 0
    best = float(w[reach].sum())
    if best < target - 1e-9 * max(total, 1.0):
        raise InfeasibleError(
            f"the coverage target of {problem.target_share:.1%} ({target:,.2f} demand) cannot be "
            f"reached: every allowed candidate together covers {best / total:.1%} "
            f"({best:,.2f}; short by {target - best:,.2f})"
        )
    outside = rules.existing if rules.capacity is None else np.zeros(0, np.int64)
    red = _reduce(
        c,
        w,
        rules,
        outside_open=outside,
        removed_cols=None,
        group_idx=None,
        n_free=None,
        dominance=not (rules.group_min or rules.group_max),
    )
    details = {"merged_rows": float(red.mat.shape[0]), "model_sites": float(red.cols.size)}
    mode: Mode = "min_sites" if problem.minimize == "sites" else "min_cost"
    hint = None
    if rules.capacity is None:
        hint = _greedy(red, rules, red.cols.size, None, target_weight=target)
        if hint is not None:
            cov = float(w[red.pre_covered].sum()) + _covered_weight(red, hint)
            if cov < target - 1e-9 * max(total, 1.0):
                hint = None
            else:
                details["heuristic_sites"] = float(hint.size + red.outside_open.size)
    out, open_cols, row_cov, flows = _solve_mip(
        red,
        w,
        rules,
        mode=mode,
        n_sites=None,
        params=params,
        deadline=deadline,
        target_weight=target,
    )
    if out.status == "infeasible":
        raise InfeasibleError(
            "no choice of sites reaches the coverage target under the rules (proved by the solver)"
        )
    check = _Check(problem.rules, None, params.rel_gap, kind=problem.minimize, target_weight=target)
    engine = "HiGHS MIP (OR-Tools MathOpt), partial set cover"
    status, objective = _status(out), out.objective
    if out.x is None and hint is not None:
        hint_sites = np.concatenate([red.cols[hint], red.outside_open]).astype(np.int64)
        if rules_hold(hint_sites, rules, None):
            # No MIP answer in time: the greedy answer reaches the target and keeps the rules.
            open_cols, flows, status = hint, None, "feasible"
            yv = np.zeros(red.mat.shape[1])
            yv[hint] = 1.0
            row_cov = (np.asarray(red.mat @ yv).ravel() > 0).astype(np.float64)
            costs = rules.cost if problem.minimize == "cost" else None
            objective = float(hint_sites.size if costs is None else costs[hint_sites].sum())
            engine = "greedy (no MIP answer in time), partial set cover"
    if status == "no_solution":
        return _no_answer(c, w, red, start, engine, groups, details, check, out.bound)
    chosen = np.concatenate([red.cols[open_cols], red.outside_open]).astype(np.int64)
    return _assemble(
        c=c,
        w=w,
        red=red,
        chosen=chosen,
        row_cov=row_cov,
        flows=flows,
        status=status,
        objective=objective,
        bound=out.bound,
        start=start,
        engine=engine,
        groups=groups,
        details=details,
        check=check,
    )
