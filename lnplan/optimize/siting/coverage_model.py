"""The covering models' MIP (MCLP, set cover, equity stages, with or without capacities), and the
assembly of their results with every answer checked by :mod:`._verify`."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.errors import InputError
from lnplan.optimize.siting._common import (
    add_rule_rows,
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
    main_sites,
    siting_result,
    within,
)
from lnplan.optimize.siting._verify import Verdict, coverage_verdict, floors_broken
from lnplan.optimize.siting.reduction import (
    _fsum,
    _Reduced,
)

log = logging.getLogger(__name__)

Mode = Literal["max_cover", "min_sites", "min_cost", "max_min"]


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


def assemble_coverage(
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
    check: CoverageCheck,
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
class CoverageCheck:
    """What :mod:`._verify` needs to recompute a coverage answer's objective and its rules."""

    rules: SiteRules
    n_sites: int | None
    rel_gap: float
    kind: Literal["cover", "sites", "cost"] = "cover"
    target_weight: float | None = None
    floor_labels: npt.ArrayLike | None = None
    floor: float | Mapping[object, float] = 0.0
    floor_names: Mapping[int, str] | None = None

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
                w, served, np.asarray(self.floor_labels), self.floor, self.floor_names
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


def _no_answer(
    c: sparse.csr_array,
    w: FloatArray,
    red: _Reduced,
    start: float,
    engine: str,
    groups: Mapping[str, npt.ArrayLike] | None,
    details: dict[str, float],
    check: CoverageCheck,
    bound: float,
) -> SitingResult:
    """The result when the time limit ran out before any answer (not an error)."""
    return assemble_coverage(
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
