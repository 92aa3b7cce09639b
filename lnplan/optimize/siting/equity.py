"""Coverage equity across groups of demand (e.g. cities), on top of the MCLP.

``"max_min"`` is lexicographic: stage 1 maximises the lowest group rate, warm-started by the
unconstrained optimum (the lowest rate it reaches is met by some answer whatever stage 1 finds in
time); stage 2 maximises total coverage with every group at that rate. The answer is ``optimal``
only when both stages are proven, and the price of equity (the unconstrained optimum minus the
covered demand) is reported only then and when the unconstrained optimum is proven too.
``"floor"`` maximises coverage with each group's rate at least its floor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.errors import InfeasibleError, InputError
from lnplan.optimize.siting._mip import add_mip_work
from lnplan.optimize.siting._model import (
    Equity,
    FloatArray,
    IntArray,
    PreparedRules,
    SiteRules,
    SitingResult,
    SolveParams,
    _plain,
    group_label,
    siting_result,
)
from lnplan.optimize.siting.coverage_model import (
    CoverageCheck,
    _group_data,
    _GroupData,
    _no_answer,
    _solve_mip,
    _status,
    assemble_coverage,
)
from lnplan.optimize.siting.reduction import (
    _reduce,
    _Reduced,
)


def solve_equity(
    c: sparse.csr_array,
    w: FloatArray,
    rules: PreparedRules,
    n_sites: int,
    site_rules: SiteRules,
    params: SolveParams,
    equity: Equity,
    groups: Mapping[str, npt.ArrayLike] | None,
    check: CoverageCheck,
    start: float,
    deadline: float,
    *,
    plain_solver: Callable[..., SitingResult],
) -> SitingResult:
    """MCLP with an equity requirement; ``plain_solver`` solves the unconstrained MCLP."""
    gd = _group_data(equity, w)
    names = site_rules.group_names
    label_of = {i: group_label(_plain(code), names) for i, code in enumerate(gd.codes)}
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
    plain = plain_solver(
        c,
        w,
        rules,
        n_sites,
        params,
        start,
        deadline,
        groups,
        check,
    )
    unconstrained = plain.objective if plain.status != "no_solution_in_limit" else None
    n_free = n_sites - rules.existing.size
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
            n_sites=n_sites,
            params=params,
            deadline=deadline,
            groups=gd,
        )
        add_mip_work(details, out1)
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
        check = replace(
            check,
            floor_labels=gd.index,
            floor=float(max(t_star - 1e-7, 0.0)),
            floor_names=label_of,
        )
    else:
        check = replace(
            check,
            floor_labels=gd.index,
            floor={int(i): float(f) for i, f in enumerate(gd.floor)},
            floor_names=label_of,
        )
    out, open_cols, row_cov, flows = _solve_mip(
        red,
        w,
        rules,
        mode="max_cover",
        n_sites=n_sites,
        params=params,
        deadline=deadline,
        groups=gd,
        floors=floors,
    )
    add_mip_work(details, out)
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
    check: CoverageCheck,
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
