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
MIP stops at its node limit without a better solution the swap solution is returned.

Work limits, not the clock: without capacities or a budget, a Lagrangian relaxation of the
linking rows (:mod:`._cover_lagrange`, ``SolveParams.max_iterations`` subgradient steps) gives
the bound, and swaps from its answers at fixed iterations improve the incumbent; the MIP runs
after it with ``SolveParams.max_nodes`` branch-and-bound nodes (``0``: no MIP). The same input
then gives the same answer on any machine; the wall-clock limit is a safety cap only. On the
demo (11,685 merged rows x 1,293 sites, per-city minimums) HiGHS did not finish the root LP in
20 s (12 s for the LP alone by interior point, 26 s by simplex; LP bound 269,871) and, stopped
at 15 s, reported only the trivial bound 297,843 (gap 11.7 %); 1,000 subgradient steps give
270,844 and the swaps 267,325 covered households (gap 1.3 %) in 4-5 s at load 6 on two cores.

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
reduction) the LP gap itself is about 1.25 %; this path, tried there, took 29 s for a 1.3 % gap.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.errors import InfeasibleError, InputError
from lnplan.optimize.siting._benders import max_coverage_benders
from lnplan.optimize.siting._common import (
    rules_hold,
)
from lnplan.optimize.siting._cover_lagrange import cover_lagrange
from lnplan.optimize.siting._mip import add_mip_work
from lnplan.optimize.siting._model import (
    Equity,
    FloatArray,
    PreparedRules,
    SiteRules,
    SitingResult,
    SolveParams,
    check_weights,
    prepare_rules,
)
from lnplan.optimize.siting.coverage_model import (
    CoverageCheck,
    Mode,
    _no_answer,
    _solve_mip,
    _status,
    assemble_coverage,
)
from lnplan.optimize.siting.equity import solve_equity
from lnplan.optimize.siting.heuristics import _greedy, _swap_improve
from lnplan.optimize.siting.reduction import (
    _covered_weight,
    _pattern,
    _reduce,
)

log = logging.getLogger(__name__)


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
    check = CoverageCheck(problem.rules, problem.n_sites, params.rel_gap)
    if equity is None:
        return _max_coverage(c, w, rules, problem.n_sites, params, start, deadline, groups, check)
    return solve_equity(
        c,
        w,
        rules,
        problem.n_sites,
        problem.rules,
        params,
        equity,
        groups,
        check,
        start,
        deadline,
        plain_solver=_max_coverage,
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
    check: CoverageCheck,
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
        return max_coverage_benders(
            c, w, rules, n_sites, params, start, deadline, groups, red, g, details, check
        )
    # Every step below stops on work (swap rounds, subgradient iterations, MIP nodes); the
    # deadline is the wall-clock safety cap only.
    capped = False
    if g is not None:
        hint = _swap_improve(red, rules, g, deadline)
        details["heuristic_objective"] = const + _covered_weight(red, hint)
    lag_bound = math.inf
    if (
        hint is not None
        and params.max_iterations > 0
        and 0 < n_pick < red.mat.shape[1]
        and red.mat.shape[0] > 0
    ):
        lag = cover_lagrange(
            red.mat,
            red.w,
            red.cols,
            red.outside_open,
            rules,
            n_pick,
            hint,
            iterations=params.max_iterations,
            deadline=deadline,
            improve=lambda cols: _swap_improve(red, rules, cols, deadline),
        )
        if lag is not None:
            capped |= lag.capped
            lag_bound = const + lag.bound
            details["lagrange_iterations"] = float(lag.iterations)
            details["lagrange_bound"] = lag_bound
            if lag.best_value > _covered_weight(red, hint):
                hint = _swap_improve(red, rules, lag.best_cols, deadline)
                details["heuristic_objective"] = const + _covered_weight(red, hint)
    details["time_heuristic_s"] = time.perf_counter() - start
    if n_pick == 0 or (red.mat.shape[0] == 0 and hint is not None):
        # Nothing to choose, or no demand left to cover: every answer that keeps the rules
        # covers ``const``.
        chosen = np.concatenate([red.cols[hint] if hint is not None else [], red.outside_open])
        return assemble_coverage(
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
    heur_value = const + _covered_weight(red, hint) if hint is not None else -math.inf
    proven = math.isfinite(lag_bound) and (
        lag_bound - heur_value <= 0.5 * max(params.rel_gap, 1e-9) * max(1.0, abs(lag_bound))
    )
    if hint is not None and (proven or params.max_nodes == 0):
        # The Lagrangian bound proves the heuristic answer, or no MIP is wanted
        # (sites.max_nodes = 0): the answer and the bound stand as they are.
        yv = np.zeros(red.mat.shape[1])
        yv[hint] = 1.0
        return assemble_coverage(
            c=c,
            w=w,
            red=red,
            chosen=np.concatenate([red.cols[hint], red.outside_open]).astype(np.int64),
            row_cov=(np.asarray(red.mat @ yv).ravel() > 0).astype(np.float64),
            flows=None,
            status="optimal" if proven else "feasible",
            objective=heur_value,
            bound=lag_bound,
            start=start,
            engine="greedy + swaps + Lagrangian bound, reduced MCLP",
            groups=groups,
            details=_capped(details, capped or time.perf_counter() > deadline),
            check=check,
        )
    out, open_cols, row_cov, flows = _solve_mip(
        red,
        w,
        rules,
        mode="max_cover",
        n_sites=n_sites,
        params=params,
        deadline=deadline,
        presolve=not rules.is_plain,
    )
    add_mip_work(details, out)
    capped |= out.status == "time_limit"
    if out.status == "infeasible":
        raise InfeasibleError(
            "no choice of sites satisfies the rules together (proved by the solver)"
            "; check the group bounds against the budget"
        )
    status = _status(out)
    objective = out.objective
    if flows is None and out.x is not None:
        # A feasible (not optimal) MIP answer may leave z_i below its cover: count the truth.
        objective = const + float(red.w @ row_cov)
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
    bound = min(out.bound if math.isfinite(out.bound) else math.inf, lag_bound)
    return assemble_coverage(
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
        details=_capped(details, capped),
        check=check,
    )


def _capped(details: dict[str, float], capped: bool) -> dict[str, float]:
    """``details`` with ``time_capped = 1`` when a step stopped at the wall-clock safety cap."""
    if capped:
        details["time_capped"] = 1.0
    return details


# A reduced MCLP without capacities and with more nonzeros than this goes to the Benders path:
# HiGHS was measured not to finish the root LP of a 70,000-row, 6-million-nonzero model in 60 s
# (and the model alone took over 1 GB), while 20,000 x 2,000 (about 0.5 million) is proved in
# seconds by the MIP directly.
_MIP_DIRECT_NNZ = 2_000_000


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
    add_mip_work(details, out)
    if out.status == "infeasible":
        raise InfeasibleError(
            "no choice of sites reaches the coverage target under the rules (proved by the solver)"
        )
    check = CoverageCheck(
        problem.rules, None, params.rel_gap, kind=problem.minimize, target_weight=target
    )
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
    return assemble_coverage(
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
