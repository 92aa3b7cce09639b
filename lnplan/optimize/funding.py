"""Allocate a fund (the employment security fund) among counties, exactly in whole units.

Formulation
-----------
Data (money in yuan): counties ``i = 1..n`` with need weights ``w_i > 0``, a budget ``B``, a unit
``U`` (``B`` a multiple of ``U``), floors ``f_i``, caps ``c_i``, optional committed amounts ``k_i``
(money already promised to county ``i``; it is part of ``a_i`` and of ``B``, so it acts as a floor),
optional effect curves ``g_i`` (expected jobs as a concave piecewise-linear function of yuan).

Variables: ``u_i`` whole units, ``a_i = U * u_i`` yuan, with
``ceil(max(f_i, k_i) / U) <= u_i <= floor(c_i / U)`` and ``sum_i u_i = N = B / U``.

Objectives:

* ``proportional``: minimise ``sum_i |a_i - B w_i / W|`` (yuan), ``W = sum_i w_i``.
  Modelled with ``d_i >= S u_i - T_i``, ``d_i >= T_i - S u_i`` and the chord of the integer hull
  ``d_i >= R_i + (S - 2 R_i)(u_i - F_i)`` where ``T_i = round(S N w_i / W) = S F_i + R_i`` is the
  need-proportional target in ``1/S`` units. With the chord the linear relaxation is the convex
  hull of the integer points, so the LP bound is already tight and CP-SAT proves optimality at
  the root instead of branching over roundings.
* ``maxmin``: maximise ``min_i a_i / w_i`` (yuan per unit of need). Stage 1 finds the optimum
  ``t*`` exactly, in rational arithmetic, without any rounding: with ``E = N - sum_i lo_i`` spare
  units, ``t*`` is the smaller of ``min_i hi_i / w_i`` and the ``(E+1)``-th smallest value among
  the points ``k / w_i`` (``k >= lo_i``) at which some county would need one more unit; a float
  estimate narrows the candidates and an exact count certifies the answer (a plain exact merge is
  the fallback). Stage 2 makes the answer unique and sensible: among the allocations with
  ``a_i >= U * ceil(t* w_i)`` (so the worst ratio is ``t*``) it takes the one closest to need
  shares, i.e. the ``proportional`` model with raised floors.
* ``jobs``: maximise ``sum_i g_i(a_i)`` (expected jobs). ``z_i <= chord`` for every pair of
  consecutive integer nodes of ``g_i`` (the unit points at and around each breakpoint, and the
  bounds); concavity makes the chords the integer hull of the curve. Jobs are whole milli-jobs
  in the model (finer scales made CP-SAT's floating-point LP struggle to close the last gap:
  seconds instead of milliseconds), so the relaxation can sit a fraction of a milli-job per
  county above the best whole answer; the search stops when the proved bound is within
  ``JOBS_TOLERANCE`` (0.001 expected jobs) per county of the answer, and reports the gap.

Engine: OR-Tools CP-SAT (one worker, fixed seed, and a work limit: CP-SAT's deterministic time,
``SolveParams.deterministic_time_s``, so the same input gives the same allocation under any load;
the wall-clock ``time_limit_s`` is only a safety cap, and a search it stops says so in the
result's ``message``). It is exact integer arithmetic, needs no solver licence and no MIP
tolerances (a MIP backend would round at ``1e-6`` feasibility and ``1e-4`` relative gap by
default). Its cost is that coefficients must be integers: need-proportional targets are rounded
to ``S = 10**6`` per unit (0.01 yuan at a 10,000-yuan unit) and jobs to milli-jobs. The model has
one variable and a few constraints per county (jobs: one chord per breakpoint), whatever ``B / U``.

Honest results (:mod:`lnplan.optimize.result`): every objective reported is recomputed in
floating point from the whole-unit allocation by :func:`objective_value`, which shares nothing
with the model builder; every allocation is checked against the problem's rules by
:func:`allocation_problems` before it is returned. The bound is CP-SAT's, translated back with
the model's rounding slack added (so it is a proven bound on the true objective), or the exact
threshold for max-min; ``optimal`` means the proven gap is within the model's resolution
(``FundingResult.rel_gap``). A search that finds nothing within its limits returns
``no_solution_in_limit``; only the data (floors, caps, committed amounts against the budget)
raises :class:`lnplan.errors.InfeasibleError`. Nothing is ever solved continuously and then
rounded.

Warm start: each solve is hinted with the marginal-analysis answer (spare units to the largest
marginal gains, taken in runs of equal gain so its cost does not grow with ``B / U``; exact for
these separable concave objectives up to floating-point ties), so CP-SAT mostly proves
optimality; it improves the hint whenever the hint is not optimal.

Near a baseline (``lnplan run --baseline``): :func:`solve_funding_near` takes the best result
and a baseline allocation and finds the allocation that moves the fewest yuan from the baseline
while the objective stays within a relative loss of the best (formulation in its docstring).

Marginal value of budget: integer programmes have no meaningful duals, so it is measured by
re-solving at ``B + U`` and ``B - U`` (see :func:`explain_funding`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from lnplan.errors import InfeasibleError, InputError, LnplanError
from lnplan.optimize.result import GAP_TOL, Status, proven_gap, status_of

logger = logging.getLogger(__name__)

Objective = Literal["proportional", "maxmin", "jobs"]
OBJECTIVES: tuple[Objective, ...] = ("proportional", "maxmin", "jobs")
SCALE = 10**6  # integer resolution per unit (proportional objective)
JOBS_SCALE = 10**3  # integer resolution per expected job (jobs objective): milli-jobs
ENGINE = "ortools-cp-sat"
JOBS_TOLERANCE = 1e-3  # expected jobs per county: where the jobs search may stop
#: expected jobs per county by which rounding the curve to whole milli-jobs (and the model's
#: whole milli-job variables) can hide jobs: 0.5 milli-job at the nodes plus 1 for the floor
JOBS_ROUNDING = 1.5e-3
#: most units ``B / U`` a problem may have: CP-SAT's model is 64-bit integer arithmetic and the
#: proportional model multiplies units by :data:`SCALE` (35M yuan in 1-yuan units is 3.5e7)
MAX_UNITS = 10**9
PROOF_SEARCH = "CP-SAT search"
PROOF_THRESHOLD = "exact threshold in rational arithmetic"


@dataclass(frozen=True)
class EffectCurve:
    """Expected jobs as a concave piecewise-linear function of the yuan a county receives.

    The curve starts at (0 yuan, 0 jobs), passes through each ``(breakpoints_yuan[k], jobs[k])``
    and stays flat after the last breakpoint. Slopes must not increase (diminishing returns).
    """

    breakpoints_yuan: tuple[float, ...]
    jobs: tuple[float, ...]

    def jobs_at(self, yuan: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Expected jobs at the given amount(s) in yuan."""
        x = np.concatenate([[0.0], np.asarray(self.breakpoints_yuan, dtype=np.float64)])
        y = np.concatenate([[0.0], np.asarray(self.jobs, dtype=np.float64)])
        return np.asarray(np.interp(np.asarray(yuan, dtype=np.float64), x, y), dtype=np.float64)


@dataclass(frozen=True)
class FundingProblem:
    """A budget to split among counties.

    Attributes
    ----------
    names
        County names, unique.
    need
        Need weight per county (``> 0``), e.g. a weighted sum of indicators.
    budget_yuan
        The budget ``B``; a multiple of ``unit_yuan``.
    unit_yuan
        The unit every allocation is a multiple of.
    floor_yuan, cap_yuan
        Optional per-county lower and upper bounds in yuan (``None``: 0 and the budget).
    committed_yuan
        Optional amounts already promised; part of the allocation, so a lower bound.
    floor_share, cap_share
        Optional bounds as shares of the budget (``0..1``); combined with the yuan bounds
        (the larger floor, the smaller cap) and rescaled when the budget changes.
    effect_curves
        One :class:`EffectCurve` per county; needed by the ``jobs`` objective.
    """

    names: tuple[str, ...]
    need: npt.NDArray[np.float64]
    budget_yuan: int
    unit_yuan: int = 10_000
    floor_yuan: npt.NDArray[np.float64] | None = None
    cap_yuan: npt.NDArray[np.float64] | None = None
    committed_yuan: npt.NDArray[np.float64] | None = None
    effect_curves: tuple[EffectCurve, ...] | None = None
    floor_share: npt.NDArray[np.float64] | None = None
    cap_share: npt.NDArray[np.float64] | None = None


@dataclass(frozen=True)
class SolveParams:
    """Solver options.

    ``deterministic_time_s`` is CP-SAT's ``max_deterministic_time`` (deterministic seconds: a
    count of the work done, roughly seconds on a typical machine). With one worker and a fixed
    seed the same input then gives the same allocation under any load. ``time_limit_s`` is a
    wall-clock safety cap only; a search it stops is reported (``FundingResult.message`` and a
    logged warning naming ``time_limit_name``): what it found depends on the machine.
    """

    time_limit_s: float = 30.0
    num_workers: int = 1
    seed: int = 0
    deterministic_time_s: float = 10.0
    time_limit_name: str = "time_limit_s"
    deterministic_time_name: str = "deterministic_time_s"


@dataclass(frozen=True)
class FundingResult:
    """Result of :func:`solve_funding`; follows :mod:`lnplan.optimize.result`.

    Attributes
    ----------
    status
        ``optimal`` (the proven gap is within ``rel_gap``), ``feasible`` (an allocation whose
        rules were checked, not proven optimal) or ``no_solution_in_limit`` (the limit ran out
        before any allocation was found; ``allocations_yuan`` is all -1 and ``message`` says which
        setting to raise). Data-proven infeasibility raises :class:`InfeasibleError` instead.
    objective_name
        ``proportional``, ``maxmin`` or ``jobs``.
    objective
        Total deviation in yuan (proportional), worst yuan per unit of need (maxmin) or
        expected jobs (jobs), recomputed from the allocation by :func:`objective_value`
        (NaN without an allocation).
    bound
        The proven bound in the same units: CP-SAT's bound translated back with the model's
        rounding slack added (proportional, jobs), or the exact max-min threshold (maxmin).
    gap
        :func:`lnplan.optimize.result.proven_gap` of objective and bound.
    rel_gap
        The relative gap under which ``optimal`` is granted: the model's integer resolution
        (:data:`SCALE` per unit for proportional; :data:`JOBS_TOLERANCE` plus
        :data:`JOBS_ROUNDING` expected jobs per county for jobs) over the objective.
    rules_checked
        True once :func:`allocation_problems` found the allocation keeps every rule (sum equals
        the budget, whole units, floors, caps, committed amounts, shares).
    proof
        What proves the bound: ``CP-SAT search`` or ``exact threshold in rational arithmetic``.
    work
        CP-SAT's branches, conflicts, deterministic time and wall time, and which limit stopped
        the search (``limit``: ``""``, ``work`` or ``wall clock``).
    message
        Empty, or what the reader must know (a wall-clock stop, a time-out, an unproven tie-break).
    runtime_s
        Wall time including model building.
    allocations_yuan
        Whole yuan per county, each a multiple of the unit, summing to the budget.
    engine
        The engine that produced it.
    names
        County names, as in the problem.
    deviation_yuan
        ``sum_i |a_i - B w_i / W|`` for any objective, for comparison.
    """

    status: Status
    objective_name: Objective
    objective: float
    bound: float
    gap: float
    runtime_s: float
    allocations_yuan: npt.NDArray[np.int64]
    engine: str
    names: tuple[str, ...]
    deviation_yuan: float
    rules_checked: bool = False
    proof: str = ""
    work: Mapping[str, float | int | str] = field(default_factory=dict)
    rel_gap: float = GAP_TOL
    message: str = ""

    @property
    def has_allocation(self) -> bool:
        """Whether an allocation was found (``optimal`` or ``feasible``)."""
        return self.status in ("optimal", "feasible")

    def as_dict(self) -> dict[str, int]:
        """County name to yuan (raises :class:`LnplanError` without an allocation)."""
        if not self.has_allocation:
            raise LnplanError(f"no allocation ({self.status}): {self.message}")
        return {n: int(a) for n, a in zip(self.names, self.allocations_yuan, strict=True)}


# --- checks ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    names: tuple[str, ...]
    w: npt.NDArray[np.float64]
    n_units: int
    unit: int
    lo: npt.NDArray[np.int64]  # units
    hi: npt.NDArray[np.int64]  # units
    lo_from: tuple[str, ...]  # "floor", "committed" or ""


def _yuan(x: float) -> str:
    if isinstance(x, int | np.integer):
        return f"{int(x):,} yuan"
    return f"{x:,.0f} yuan"


def _per_county(
    values: npt.NDArray[np.float64] | None, names: Sequence[str], what: str, default: float
) -> npt.NDArray[np.float64]:
    if values is None:
        return np.full(len(names), default, dtype=np.float64)
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (len(names),):
        raise InputError(f"{len(names)} counties but {arr.size} values of {what}")
    for name, x in zip(names, arr, strict=True):
        if math.isnan(x) or x < 0 or (x == math.inf and default != math.inf):
            raise InputError(f"county {name!r}: {what} must be a number >= 0, got {float(x)!r}")
    return arr


def _prepare(p: FundingProblem, objective: str) -> _Prepared:
    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}; accepted: {', '.join(OBJECTIVES)}")
    names = tuple(p.names)
    n = len(names)
    if n == 0:
        raise InputError("no counties to allocate to")
    if len(set(names)) != n:
        dup = next(x for x in names if names.count(x) > 1)
        raise InputError(f"county {dup!r} is listed twice")
    unit = p.unit_yuan
    if isinstance(unit, bool) or int(unit) != unit or unit <= 0:
        raise InputError(f"the unit must be a whole number of yuan > 0, got {unit!r}")
    unit = int(unit)
    budget = p.budget_yuan
    if isinstance(budget, bool) or int(budget) != budget or budget < 0:
        raise InputError(f"the budget must be a whole number of yuan >= 0, got {budget!r}")
    budget = int(budget)
    if budget % unit:
        r = budget % unit
        raise InputError(
            f"the budget {_yuan(budget)} is not a multiple of the unit {_yuan(unit)} "
            f"(remainder {_yuan(r)}; nearest: {_yuan(budget - r)} or {_yuan(budget - r + unit)})"
        )
    if budget // unit > MAX_UNITS:
        raise InputError(
            f"the budget {_yuan(budget)} is {budget // unit:,} units of {_yuan(unit)}; at most "
            f"{MAX_UNITS:,} units can be allocated in exact integer arithmetic: use a larger unit"
        )
    w = np.asarray(p.need, dtype=np.float64)
    if w.shape != (n,):
        raise InputError(f"{n} counties but {w.size} need values")
    for name, x in zip(names, w, strict=True):
        if not math.isfinite(x) or x <= 0:
            raise InputError(
                f"county {name!r}: need must be a number > 0, got {float(x)!r} "
                "(leave a county with no need out of the table)"
            )
    floor = _per_county(p.floor_yuan, names, "floor_yuan", 0.0)
    cap = _per_county(p.cap_yuan, names, "cap_yuan", math.inf)
    committed = _per_county(p.committed_yuan, names, "committed_yuan", 0.0)
    floor_share = _per_county(p.floor_share, names, "floor_share", 0.0)
    cap_share = _per_county(p.cap_share, names, "cap_share", 1.0)
    for what, shares in (("floor_share", floor_share), ("cap_share", cap_share)):
        if (shares > 1).any():
            i = int(np.argmax(shares > 1))
            raise InputError(
                f"county {names[i]!r}: {what} is a share of the budget and must be <= 1, "
                f"got {float(shares[i])!r}"
            )
    floor = np.maximum(floor, floor_share * budget)
    cap = np.minimum(cap, np.where(p.cap_share is None, np.inf, cap_share * budget))
    lo_y = np.maximum(floor, committed)
    lo = np.ceil(lo_y / unit - 1e-9).astype(np.int64)
    hi = np.floor(np.minimum(cap, budget) / unit + 1e-9).astype(np.int64)
    lo_from = tuple(
        "" if v <= 0 else ("committed" if c > f else "floor")
        for v, f, c in zip(lo_y, floor, committed, strict=True)
    )
    for i, name in enumerate(names):
        what = "committed amount" if lo_from[i] == "committed" else "floor"
        if lo_y[i] > cap[i]:
            raise InfeasibleError(
                f"county {name!r}: {what} {_yuan(lo_y[i])} is above its cap {_yuan(cap[i])} "
                f"by {_yuan(lo_y[i] - cap[i])}"
            )
    n_units = budget // unit
    s_lo, s_hi = int(lo.sum()), int(hi.sum())
    if s_lo > n_units:
        top = np.argsort(-lo, kind="stable")[:3]
        largest = ", ".join(f"{names[i]} {_yuan(lo[i] * unit)}" for i in top)
        raise InfeasibleError(
            f"the floors (and committed amounts), rounded up to the unit, sum to "
            f"{_yuan(s_lo * unit)}, above the budget {_yuan(budget)} by "
            f"{_yuan((s_lo - n_units) * unit)} (largest: {largest})"
        )
    for i, name in enumerate(names):
        if lo[i] > hi[i]:  # only a given cap can do this once the floors fit in the budget
            what = "committed amount" if lo_from[i] == "committed" else "floor"
            raise InfeasibleError(
                f"county {name!r}: no multiple of the unit {_yuan(unit)} lies between its "
                f"{what} {_yuan(lo_y[i])} and its cap {_yuan(cap[i])}"
            )
    if s_hi < n_units:
        top = np.argsort(hi, kind="stable")[:3]
        smallest = ", ".join(f"{names[i]} {_yuan(hi[i] * unit)}" for i in top)
        raise InfeasibleError(
            f"the caps, rounded down to the unit, sum to {_yuan(s_hi * unit)}, below the budget "
            f"{_yuan(budget)} by {_yuan((n_units - s_hi) * unit)} (smallest: {smallest})"
        )
    if objective == "jobs":
        _check_curves(p, names)
    return _Prepared(names, w, n_units, unit, lo, hi, lo_from)


def _check_curves(p: FundingProblem, names: Sequence[str]) -> None:
    curves = p.effect_curves
    if curves is None:
        raise InputError("the jobs objective needs an effect curve for every county")
    if len(curves) != len(names):
        raise InputError(f"{len(names)} counties but {len(curves)} effect curves")
    for name, c in zip(names, curves, strict=True):
        x = np.asarray(c.breakpoints_yuan, dtype=np.float64)
        y = np.asarray(c.jobs, dtype=np.float64)
        if x.size == 0 or x.shape != y.shape:
            raise InputError(
                f"county {name!r}: effect curve needs as many jobs values as breakpoints (>= 1)"
            )
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise InputError(f"county {name!r}: effect curve has a missing or infinite value")
        if x[0] <= 0 or np.any(np.diff(x) <= 0):
            raise InputError(
                f"county {name!r}: effect-curve breakpoints must be > 0 and increasing, got "
                f"{x.tolist()}"
            )
        slopes = np.diff(np.concatenate([[0.0], y])) / np.diff(np.concatenate([[0.0], x]))
        if np.any(slopes < 0):
            raise InputError(f"county {name!r}: effect curve must not decrease (jobs {y.tolist()})")
        bad = np.nonzero(np.diff(slopes) > 1e-12 * max(1.0, float(slopes.max())))[0]
        if bad.size:
            k = int(bad[0]) + 1
            raise InputError(
                f"county {name!r}: effect curve must have diminishing returns, but the jobs per "
                f"yuan rise at breakpoint {k} ({slopes[k - 1]:.3g} -> {slopes[k]:.3g})"
            )


# --- objective values ----------------------------------------------------------------------


def deviation_yuan(problem: FundingProblem, allocations_yuan: npt.ArrayLike) -> float:
    """``sum_i |a_i - B w_i / W|`` in yuan."""
    w = np.asarray(problem.need, dtype=np.float64)
    a = np.asarray(allocations_yuan, dtype=np.float64)
    return float(np.abs(a - problem.budget_yuan * w / w.sum()).sum())


def objective_value(
    problem: FundingProblem, allocations_yuan: npt.ArrayLike, objective: str
) -> float:
    """The value of ``objective`` for an allocation, in its natural units."""
    a = np.asarray(allocations_yuan, dtype=np.float64)
    if objective == "proportional":
        return deviation_yuan(problem, a)
    if objective == "maxmin":
        return float(np.min(a / np.asarray(problem.need, dtype=np.float64)))
    if objective == "jobs":
        if problem.effect_curves is None:
            raise InputError("the jobs objective needs effect curves")
        return float(sum(c.jobs_at(x) for c, x in zip(problem.effect_curves, a, strict=True)))
    raise InputError(f"unknown objective {objective!r}; accepted: {', '.join(OBJECTIVES)}")


# --- solving ----------------------------------------------------------------------


def solve_funding(
    problem: FundingProblem,
    objective: str = "proportional",
    params: SolveParams | None = None,
) -> FundingResult:
    """Allocate the budget exactly in whole units.

    Parameters
    ----------
    problem
        Counties, need, budget, unit, bounds and optional effect curves.
    objective
        ``proportional``, ``maxmin`` or ``jobs``.
    params
        Time limit, workers, seed.
    Returns
    -------
    FundingResult

    Raises
    ------
    InputError
        A budget that is not a multiple of the unit, a need that is not positive, bad curves.
    InfeasibleError
        Floors above the budget, caps below it, a floor above its cap; says which and how much.
    """
    start = time.perf_counter()
    params = params or SolveParams()
    prep = _prepare(problem, objective)
    lo = prep.lo
    engine = ENGINE
    t_star: Fraction | None = None
    if objective == "maxmin":
        t_star = _maxmin_threshold(prep)
        lo = np.maximum(lo, _ceil_ratio(t_star, prep.w))
        engine = f"exact threshold + {ENGINE}"
    hint = _greedy_hint(problem, prep, objective, lo)
    model, u, obj_kind, slack = _build(problem, prep, objective, lo, hint)
    solver = _cp_solver(params)
    # all constraints in the LP from the start: the hull formulation then bounds at the root
    solver.parameters.add_lp_constraints_lazily = False
    solver.parameters.symmetry_level = 0
    n = len(prep.names)
    if objective == "jobs":
        solver.parameters.absolute_gap_limit = JOBS_TOLERANCE * JOBS_SCALE * n
    code = solver.Solve(model)
    if code == cp_model.INFEASIBLE:  # the checks in _prepare should make this unreachable
        raise InfeasibleError(
            "the allocation constraints cannot all hold (floors, caps and committed amounts "
            "passed the per-county checks; please report this input)"
        )
    if code == cp_model.MODEL_INVALID:  # e.g. numbers too large for 64-bit integers
        raise LnplanError(
            f"the allocation model is not valid for CP-SAT ({model.validate()}); with "
            f"{prep.n_units:,} units of {_yuan(prep.unit)}, try a larger unit"
        )
    work = _work(solver, params, proven=code == cp_model.OPTIMAL)
    messages = []
    if work["limit"] == "wall clock":
        messages.append(
            f"the search was stopped by the wall-clock limit {params.time_limit_name} = "
            f"{params.time_limit_s:g} s before its work limit "
            f"{params.deterministic_time_name} = {params.deterministic_time_s:g}; what it found "
            f"depends on the machine's speed and load: raise {params.time_limit_name}"
        )
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        wall = work["limit"] == "wall clock"
        raise_name = params.time_limit_name if wall else params.deterministic_time_name
        messages.append(
            f"no allocation found within the limits ({params.deterministic_time_name} = "
            f"{params.deterministic_time_s:g}, {params.time_limit_name} = "
            f"{params.time_limit_s:g} s); raise {raise_name}"
        )
        message = "; ".join(messages)
        logger.warning("funding %s: %s", objective, message)
        return FundingResult(
            status="no_solution_in_limit",
            objective_name=objective,  # type: ignore[arg-type]  # checked in _prepare
            objective=math.nan,
            bound=math.nan,
            gap=math.inf,
            runtime_s=time.perf_counter() - start,
            allocations_yuan=np.full(n, -1, dtype=np.int64),
            engine=engine,
            names=prep.names,
            deviation_yuan=math.nan,
            proof="",
            work=work,
            message=message,
        )
    alloc = np.array([solver.Value(x) for x in u], dtype=np.int64) * prep.unit
    broken = allocation_problems(problem, alloc)
    if broken:  # a defect, never an answer
        raise LnplanError("internal error: the allocation breaks its rules: " + "; ".join(broken))
    value = objective_value(problem, alloc, objective)
    scaled_bound = solver.BestObjectiveBound()
    if objective == "maxmin":
        assert t_star is not None
        bound = float(t_star) * prep.unit  # stage 1 is exact: the worst ratio is proved optimal
        proof = PROOF_THRESHOLD
        rel_gap = GAP_TOL
        if code != cp_model.OPTIMAL:
            messages.append(
                "the tie-break among the max-min optimal allocations (closest to need shares) "
                "is not proven"
            )
    elif obj_kind == "proportional":
        # the model's targets are rounded to 1/SCALE of a unit: a true deviation is at least
        # the model's minus the rounding of all targets (``slack``, in model units)
        bound = max(0.0, (scaled_bound - slack) * prep.unit / SCALE)
        proof = PROOF_SEARCH
        rel_gap = (2 * slack + 1) * prep.unit / SCALE / max(abs(value), 1.0) + GAP_TOL
    else:
        bound = (scaled_bound + slack) / JOBS_SCALE
        proof = PROOF_SEARCH
        rel_gap = (JOBS_TOLERANCE + JOBS_ROUNDING) * n / max(abs(value), 1.0) + GAP_TOL
    if objective == "maxmin" and value < bound * (1 - 1e-12):
        raise LnplanError(
            f"internal error: max-min allocation {value} is below its exact threshold {bound}"
        )
    gap = proven_gap(value, bound)
    status = status_of(has_answer=True, gap=gap, rel_gap=rel_gap)
    message = "; ".join(messages)
    if message:
        logger.warning("funding %s: %s", objective, message)
    result = FundingResult(
        status=status,
        objective_name=objective,  # type: ignore[arg-type]  # checked in _prepare
        objective=value,
        bound=bound,
        gap=gap,
        runtime_s=time.perf_counter() - start,
        allocations_yuan=alloc,
        engine=engine,
        names=prep.names,
        deviation_yuan=deviation_yuan(problem, alloc),
        rules_checked=True,
        proof=proof,
        work=work,
        rel_gap=rel_gap,
        message=message,
    )
    logger.info(
        "funding %s: %s, objective %.6g, bound %.6g, %.3f s",
        objective,
        status,
        value,
        bound,
        result.runtime_s,
    )
    return result


@dataclass(frozen=True)
class NearFundingResult:
    """Step 2 of a run held to a baseline (:func:`solve_funding_near`); follows
    :mod:`lnplan.optimize.result` for its own objective, the yuan moved.

    Attributes
    ----------
    status
        ``optimal`` when the search proved that no allocation within the allowed loss moves fewer
        yuan, else ``feasible`` (the best allocation itself is always an answer).
    objective
        Yuan moved: ``sum_c |a_c - b_c|`` over the counties of either run (a baseline county
        missing from the problem counts its whole baseline amount), recomputed from the allocation.
    bound, gap
        CP-SAT's proven lower bound on the yuan moved, and the proven gap.
    allocation
        The allocation kept, as a :class:`FundingResult` of the fund's own objective: its bound is
        the best solve's (still a proven bound), so its status is ``optimal`` only when keeping
        the baseline cost nothing provable.
    best_objective
        The fund objective of the best allocation (step 1).
    loss
        Relative loss of the fund objective against the best (``>= 0`` is worse), at most
        ``max_loss`` plus the model's resolution.
    max_loss
        The loss allowed.
    counties_changed
        Counties of the problem whose amount differs from the baseline's.
    """

    status: Status
    objective: float
    bound: float
    gap: float
    allocation: FundingResult
    best_objective: float
    loss: float
    max_loss: float
    counties_changed: int
    rules_checked: bool = False
    proof: str = ""
    engine: str = ENGINE
    runtime_s: float = 0.0
    work: Mapping[str, float | int | str] = field(default_factory=dict)
    message: str = ""


def relative_loss(value: float, best: float, objective: str) -> float:
    """How much worse ``value`` is than ``best``, relative to ``|best|`` (``> 0``: worse)."""
    scale = max(abs(best), 1e-12)
    return (value - best) / scale if objective == "proportional" else (best - value) / scale


def solve_funding_near(
    problem: FundingProblem,
    baseline_yuan: npt.ArrayLike,
    best: FundingResult,
    *,
    max_loss: float,
    absent_yuan: int = 0,
    params: SolveParams | None = None,
) -> NearFundingResult:
    """The allocation closest to a baseline whose objective stays within ``max_loss`` of the best.

    Formulation (step 2 of a run held to a baseline; step 1 is ``best``, the result of
    :func:`solve_funding` on ``problem``): the variables and rules of :func:`solve_funding`
    (whole units, sum = budget, floors, caps, committed amounts, shares) plus ``m_i >= |U u_i -
    b_i|`` (yuan moved in county ``i``, ``b_i`` its baseline amount), and the objective held near
    the best one, in the model's own integer units:

    * ``proportional``: ``sum_i d_i <= D* + floor(max_loss * best * S / U) - ceil(2 slack)``
      (never below ``D*``, the model value of the best allocation), so that the true deviation is
      at most ``(1 + max_loss)`` times the best one;
    * ``maxmin``: ``a_i >= (1 - max_loss) t* w_i``, raised floors;
    * ``jobs``: ``sum_i z_i >= (1 - max_loss) best + slack`` in milli-jobs (never above the best
      allocation's model value).

    Minimise ``sum_i m_i`` (step 2); then, with the yuan moved fixed at that minimum, the fund's
    own objective (step 3, a tie-break among allocations that move as few yuan). Both steps get
    ``params`` (its deterministic-time work limit each) and the best allocation as hint; the best
    allocation is itself an answer, so a search that finds nothing returns it (``feasible``).

    Parameters
    ----------
    problem
        The problem ``best`` solved.
    baseline_yuan
        The baseline amount of each county of ``problem`` (0 for a county new since then).
    best
        Step 1: :func:`solve_funding` on ``problem``, with an allocation.
    max_loss
        Largest relative loss of the objective accepted (0.005 = 0.5 %).
    absent_yuan
        Baseline yuan of counties missing from ``problem``: moved whatever the allocation.
    params
        Solver options, as for :func:`solve_funding`.
    """
    start = time.perf_counter()
    params = params or SolveParams()
    if not best.has_allocation:
        raise LnplanError(f"no best allocation to stay near: {best.status} ({best.message})")
    if not 0 <= max_loss < 1:
        raise InputError(f"max_loss must be in [0, 1), got {max_loss!r}")
    objective = best.objective_name
    prep = _prepare(problem, objective)
    n = len(prep.names)
    unit = prep.unit
    b = np.asarray(baseline_yuan, dtype=np.int64)
    if b.shape != (n,) or (b < 0).any():
        raise InputError(f"{n} counties need {n} baseline amounts >= 0, got {b.tolist()}")
    best_u = best.allocations_yuan // unit
    lo = prep.lo.copy()
    best_floor = lo
    if objective == "maxmin":
        # float noise never cuts the best allocation off (hence the clamp to it)
        t_best = best.objective * (1 - 1e-12)
        best_floor = np.minimum(np.ceil(t_best * prep.w / unit).astype(np.int64), best_u)
        raised = np.ceil(t_best * (1 - max_loss) * prep.w / unit).astype(np.int64)
        lo = np.maximum(lo, np.minimum(raised, best_u))
    terms_kind = "proportional" if objective == "maxmin" else objective

    def model(
        moved_cap: int | None, hint: npt.NDArray[np.int64], lo: npt.NDArray[np.int64] = lo
    ) -> tuple[cp_model.CpModel, list[Any], list[Any], list[Any]]:
        m = cp_model.CpModel()
        u = [m.new_int_var(int(lo[i]), int(prep.hi[i]), f"u{i}") for i in range(n)]
        m.add(sum(u) == prep.n_units)
        terms, _, slack = _objective_terms(m, problem, prep, terms_kind, u, lo, hint)
        if objective == "proportional":
            at_best = _model_deviation(prep, best_u)
            allowed = math.floor(max_loss * best.objective * SCALE / unit) - math.ceil(2 * slack)
            m.add(sum(terms) <= at_best + max(0, allowed))
        elif objective == "jobs":
            assert problem.effect_curves is not None
            at_best = sum(
                _hull_value(*_hull_nodes(c, unit, int(lo[i]), int(prep.hi[i])), int(best_u[i]))
                for i, c in enumerate(problem.effect_curves)
            )
            need = math.ceil((1 - max_loss) * best.objective * JOBS_SCALE + slack)
            m.add(sum(terms) >= min(at_best, need))
        moved = []
        for i, x in enumerate(u):
            mi = m.new_int_var(0, max(int(prep.hi[i]) * unit, int(b[i])), f"m{i}")
            m.add(mi >= unit * x - int(b[i]))
            m.add(mi >= int(b[i]) - unit * x)
            m.add_hint(x, int(hint[i]))
            m.add_hint(mi, abs(unit * int(hint[i]) - int(b[i])))
            moved.append(mi)
        if moved_cap is not None:
            m.add(sum(moved) <= moved_cap)
        return m, u, moved, terms

    def solve(m: cp_model.CpModel) -> tuple[cp_model.CpSolver, int]:
        solver = _cp_solver(params)
        return solver, solver.Solve(m)

    m2, u2, moved2, _ = model(None, best_u)
    m2.minimize(sum(moved2))
    solver, code = solve(m2)
    work = _work(solver, params, proven=code == cp_model.OPTIMAL)
    messages: list[str] = []
    alloc = best.allocations_yuan.copy()
    moved_bound = float(absent_yuan)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        alloc = np.array([solver.Value(x) for x in u2], dtype=np.int64) * unit
        moved_bound += max(0.0, float(solver.BestObjectiveBound()))
        if code == cp_model.OPTIMAL:  # step 3: the best fund objective among the closest
            cap = round(solver.ObjectiveValue())
            # max-min: first with the best worst ratio itself, if so few yuan can keep it
            floors = [np.maximum(prep.lo, best_floor), lo] if objective == "maxmin" else [lo]
            for floor in floors:
                hint = np.maximum(alloc // unit, floor)
                if hint.sum() != prep.n_units:
                    hint = alloc // unit  # an invalid hint is only a bad start
                m3, u3, _, terms = model(cap, hint, floor)
                if terms_kind == "jobs":
                    m3.maximize(sum(terms))
                else:
                    m3.minimize(sum(terms))
                solver3, code3 = solve(m3)
                if (
                    _work(solver3, params, proven=code3 == cp_model.OPTIMAL)["limit"]
                    == "wall clock"
                ):
                    work["limit"] = "wall clock"  # step 3 met the safety cap: said below
                if code3 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                    alloc = np.array([solver3.Value(x) for x in u3], dtype=np.int64) * unit
                    break
    else:
        messages.append(
            f"no allocation closer to the baseline found within {params.deterministic_time_name}"
            f" = {params.deterministic_time_s:g}; the best allocation is kept: raise "
            f"{params.deterministic_time_name}"
        )
    if work["limit"] == "wall clock":
        messages.append(
            f"the search near the baseline was stopped by the wall-clock limit "
            f"{params.time_limit_name} = {params.time_limit_s:g} s: raise {params.time_limit_name}"
        )
    value = objective_value(problem, alloc, objective)
    loss = relative_loss(value, best.objective, objective)
    if allocation_problems(problem, alloc) or loss > max_loss + best.rel_gap:
        # a defect of the model above, never an answer: keep the best allocation
        logger.error("funding near baseline: allocation rejected (loss %.3g); best kept", loss)
        messages.append("the allocation near the baseline broke a rule; the best one is kept")
        alloc = best.allocations_yuan.copy()
        value, loss = best.objective, 0.0
    moved_yuan = float(np.abs(alloc - b).sum() + absent_yuan)
    moved_bound = min(moved_bound, moved_yuan)
    gap = proven_gap(moved_yuan, moved_bound)
    fund_gap = proven_gap(value, best.bound)
    kept = replace(
        best,
        status=status_of(has_answer=True, gap=fund_gap, rel_gap=best.rel_gap),
        objective=value,
        gap=fund_gap,
        allocations_yuan=alloc,
        deviation_yuan=deviation_yuan(problem, alloc),
        message="; ".join(x for x in (best.message, *messages) if x),
        runtime_s=time.perf_counter() - start + best.runtime_s,
    )
    message = "; ".join(messages)
    if message:
        logger.warning("funding near baseline: %s", message)
    return NearFundingResult(
        status=status_of(has_answer=True, gap=gap),
        objective=moved_yuan,
        bound=moved_bound,
        gap=gap,
        allocation=kept,
        best_objective=best.objective,
        loss=loss,
        max_loss=max_loss,
        counties_changed=int((alloc != b).sum()),
        rules_checked=True,
        proof=PROOF_SEARCH if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else "",
        runtime_s=time.perf_counter() - start,
        work=work,
        message=message,
    )


def _model_deviation(prep: _Prepared, units: npt.NDArray[np.int64]) -> int:
    """``sum_i |S u_i - T_i|``: the proportional model's objective at whole units ``u``."""
    total_w = float(prep.w.sum())
    out = 0
    for i, x in enumerate(units):
        target = round(SCALE * prep.n_units * prep.w[i] / total_w)
        out += abs(SCALE * int(x) - target)
    return out


def _cp_solver(params: SolveParams) -> cp_model.CpSolver:
    """A CP-SAT solver with the fund's workers, seed, work limit (deterministic time) and
    wall-clock safety cap."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = params.num_workers
    solver.parameters.random_seed = params.seed
    solver.parameters.max_deterministic_time = params.deterministic_time_s
    solver.parameters.max_time_in_seconds = params.time_limit_s
    return solver


def _work(
    solver: cp_model.CpSolver, params: SolveParams, *, proven: bool
) -> dict[str, float | int | str]:
    """CP-SAT's effort, and which limit (if any) stopped it."""
    response = solver.ResponseProto()
    dtime = float(response.deterministic_time)
    wall = float(response.wall_time)
    limit = ""
    if not proven:
        if dtime >= params.deterministic_time_s * 0.999:
            limit = "work"
        elif wall >= params.time_limit_s * 0.99:
            limit = "wall clock"
    return {
        "branches": int(response.num_branches),
        "conflicts": int(response.num_conflicts),
        "deterministic_time": dtime,
        "wall_time_s": wall,
        "limit": limit,
    }


def allocation_problems(problem: FundingProblem, allocations_yuan: npt.ArrayLike) -> list[str]:
    """Every rule of ``problem`` that an allocation breaks (empty when it keeps them all).

    Checked from the problem as given, independently of the model: the allocation sums to the
    budget, every amount is a whole multiple of the unit, at or above the floor (yuan and share of
    the budget) and the committed amount, at or below the cap (yuan and share). Share bounds
    allow a relative ``1e-12`` for their floating-point product with the budget.
    """
    a = np.asarray(allocations_yuan)
    names = problem.names
    out: list[str] = []
    if a.shape != (len(names),):
        return [f"{a.size} amounts for {len(names)} counties"]
    total = int(a.sum())
    if total != problem.budget_yuan:
        out.append(
            f"the amounts sum to {_yuan(total)}, not the budget {_yuan(problem.budget_yuan)}"
        )
    budget = float(problem.budget_yuan)
    tol = 1e-12 * max(budget, 1.0)
    lower = [
        ("floor", problem.floor_yuan, 0.0),
        ("committed amount", problem.committed_yuan, 0.0),
        (
            "floor share",
            None if problem.floor_share is None else np.asarray(problem.floor_share) * budget,
            tol,
        ),
    ]
    upper = [
        ("cap", problem.cap_yuan, 0.0),
        (
            "cap share",
            None if problem.cap_share is None else np.asarray(problem.cap_share) * budget,
            tol,
        ),
    ]
    for i, name in enumerate(names):
        x = int(a[i])
        if x % problem.unit_yuan:
            out.append(f"county {name!r}: {_yuan(x)} is not a multiple of the unit")
        if x < 0:
            out.append(f"county {name!r}: negative amount {_yuan(x)}")
        for what, values, t in lower:
            if values is not None and x < float(np.asarray(values)[i]) - t:
                out.append(f"county {name!r}: {_yuan(x)} is below its {what}")
        for what, values, t in upper:
            if values is not None and x > float(np.asarray(values)[i]) + t:
                out.append(f"county {name!r}: {_yuan(x)} is above its {what}")
    return out


def _build(
    problem: FundingProblem,
    prep: _Prepared,
    objective: str,
    lo: npt.NDArray[np.int64],
    hint: npt.NDArray[np.int64] | None,
) -> tuple[cp_model.CpModel, list[cp_model.IntVar], str, float]:
    """The CP-SAT model, its unit variables, its kind and its rounding slack (model units).

    The slack bounds how far the model's objective can be from the true one on any allocation:
    ``sum_i |T_i - S N w_i / W|`` for the proportional targets, :data:`JOBS_ROUNDING` per county
    for jobs. Its size does not depend on ``B / U``: one variable and a few constraints per
    county (jobs: one chord per breakpoint).
    """
    m = cp_model.CpModel()
    n_units = prep.n_units
    u = [m.new_int_var(int(lo[i]), int(prep.hi[i]), f"u{i}") for i in range(len(prep.names))]
    m.add(sum(u) == n_units)
    if hint is not None:
        for x, h in zip(u, hint, strict=True):
            m.add_hint(x, int(h))
    terms, kind, slack = _objective_terms(m, problem, prep, objective, u, lo, hint)
    if kind == "jobs":
        m.maximize(sum(terms))
    else:
        m.minimize(sum(terms))
    return m, u, kind, slack


def _objective_terms(
    m: cp_model.CpModel,
    problem: FundingProblem,
    prep: _Prepared,
    objective: str,
    u: Sequence[cp_model.IntVar],
    lo: npt.NDArray[np.int64],
    hint: npt.NDArray[np.int64] | None,
) -> tuple[list[cp_model.IntVar], str, float]:
    """The per-county objective variables of the model (milli-jobs to maximise, or deviations
    in ``1/SCALE`` units to minimise), their kind and their rounding slack (see :func:`_build`)."""
    n_units = prep.n_units
    if objective == "jobs":
        assert problem.effect_curves is not None
        z = []
        for i, curve in enumerate(problem.effect_curves):
            h = None if hint is None else int(hint[i])
            zi = _jobs_hypograph(m, u[i], curve, prep.unit, int(lo[i]), int(prep.hi[i]), i, h)
            z.append(zi)
        return z, "jobs", JOBS_ROUNDING * JOBS_SCALE * len(u)
    # proportional deviation (also stage 2 of maxmin)
    total_w = float(prep.w.sum())
    d = []
    slack = 0.0
    for i, x in enumerate(u):
        exact = SCALE * n_units * prep.w[i] / total_w
        target = round(exact)
        slack += abs(target - exact) + abs(exact) * 2.0**-50
        f, r = divmod(target, SCALE)
        di = m.new_int_var(0, SCALE * n_units + target, f"d{i}")
        m.add(di >= SCALE * x - target)
        m.add(di >= target - SCALE * x)
        m.add(di >= r + (SCALE - 2 * r) * (x - f))
        if hint is not None:
            m.add_hint(di, abs(SCALE * int(hint[i]) - target))
        d.append(di)
    return d, "proportional", slack


def _upper_hull(xs: Sequence[int], ys: Sequence[int]) -> tuple[list[int], list[int]]:
    """The vertices of the upper concave hull of points sorted by strictly increasing x."""
    hx: list[int] = []
    hy: list[int] = []
    for x, y in zip(xs, ys, strict=True):
        # drop the last vertex while it lies on or below the segment from its predecessor to (x, y)
        while len(hx) >= 2 and (hy[-1] - hy[-2]) * (x - hx[-2]) <= (y - hy[-2]) * (hx[-1] - hx[-2]):
            hx.pop()
            hy.pop()
        hx.append(x)
        hy.append(y)
    return hx, hy


def _jobs_hypograph(
    m: cp_model.CpModel,
    x: cp_model.IntVar,
    curve: EffectCurve,
    unit: int,
    lo: int,
    hi: int,
    i: int,
    hint: int | None,
) -> cp_model.IntVar:
    """``z <= g(U x)`` in milli-jobs, by the chords between consecutive integer nodes."""
    pts, vals = _hull_nodes(curve, unit, lo, hi)
    z = m.new_int_var(0, max(vals), f"z{i}")
    if len(pts) == 1:
        m.add(z <= vals[0])
        return z
    chords = list(zip(pts, vals, pts[1:], vals[1:], strict=False))
    for p, fp, q, fq in chords:
        # (q - p) z <= (q - p) fp + (fq - fp)(x - p)
        m.add((q - p) * z <= (q - p) * fp + (fq - fp) * (x - p))
    if hint is not None:
        m.add_hint(z, _hull_value(pts, vals, hint))
    return z


def _hull_value(pts: Sequence[int], vals: Sequence[int], x: int) -> int:
    """The largest whole ``z`` the chords of :func:`_jobs_hypograph` allow at ``x`` units."""
    if len(pts) == 1:
        return int(vals[0])
    chords = zip(pts, vals, pts[1:], vals[1:], strict=False)
    return min(((q - p) * fp + (fq - fp) * (x - p)) // (q - p) for p, fp, q, fq in chords)


def _hull_nodes(curve: EffectCurve, unit: int, lo: int, hi: int) -> tuple[list[int], list[int]]:
    """The integer nodes (units) and milli-job values of the model's concave curve."""
    nodes = {lo, hi}
    for b in curve.breakpoints_yuan:
        k = b / unit
        for v in (math.floor(k), math.ceil(k)):
            if lo <= v <= hi:
                nodes.add(int(v))
    pts = sorted(nodes)
    vals = [round(JOBS_SCALE * float(curve.jobs_at(p * unit))) for p in pts]
    # Rounding to milli-jobs can make the node values slightly non-concave; the extended chords
    # would then cut below the curve elsewhere (even below 0 at x = 0, making the model wrongly
    # infeasible there). Keep only the upper concave hull of the rounded nodes: each hull value is
    # within the rounding of the curve, and every chord of a concave hull lies above it.
    return _upper_hull(pts, vals)


def _greedy_hint(
    problem: FundingProblem, prep: _Prepared, objective: str, lo: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Warm start: marginal analysis (give the spare units to the largest marginal gains).

    For a separable concave objective under one sum constraint this is itself optimal up to
    floating-point ties; CP-SAT then only has to prove it (or improve it).

    Each county's value is piecewise linear in its units with few nodes (its bounds, the unit
    points around its need-proportional target or around each effect-curve breakpoint), so its
    marginal gains come in runs of equal gain between consecutive nodes. The runs are sorted
    and taken whole until the spare units run out: time and memory grow with the number of
    counties and breakpoints, not with ``B / U``.
    """
    n = len(prep.names)
    spare = prep.n_units - int(lo.sum())
    if spare <= 0:
        return lo.copy()
    unit = prep.unit
    target = prep.n_units * prep.w / prep.w.sum()  # need-proportional units (float)
    runs: list[tuple[float, int, int, int]] = []  # (-gain, county, first unit, length)
    for i in range(n):
        a, b = int(lo[i]), int(prep.hi[i])
        if b <= a:
            continue
        nodes = {a, b}
        if objective == "jobs":
            assert problem.effect_curves is not None
            curve = problem.effect_curves[i]
            points = [x / unit for x in curve.breakpoints_yuan]
        else:
            points = [float(target[i])]
        for k in points:
            for v in (math.floor(k), math.ceil(k)):
                if a < v < b:
                    nodes.add(int(v))
        pts = np.array(sorted(nodes), dtype=np.int64)
        if objective == "jobs":
            value = curve.jobs_at(pts.astype(np.float64) * unit)
        else:
            value = -np.abs(pts - target[i])
        gains = np.diff(value) / np.diff(pts)
        for p, length, g in zip(pts[:-1], np.diff(pts), gains, strict=True):
            runs.append((-float(g), i, int(p), int(length)))
    runs.sort()
    extra = np.zeros(n, dtype=np.int64)
    for _, i, _, length in runs:
        take = min(length, spare)
        extra[i] += take
        spare -= take
        if spare == 0:
            break
    return lo + extra


# --- maxmin stage 1: exact threshold ------------------------------------------------------------


def _ceil_ratio(t: Fraction, w: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    return np.array([math.ceil(t * Fraction(float(x))) for x in w], dtype=np.int64)


def _maxmin_threshold(prep: _Prepared) -> Fraction:
    """Exact ``t* = max min_i u_i / w_i`` (units per unit of need) over feasible allocations."""
    fw = [Fraction(float(x)) for x in prep.w]
    lo = [int(v) for v in prep.lo]
    hi = [int(v) for v in prep.hi]
    n = len(fw)
    t_cap = min(Fraction(hi[i]) / fw[i] for i in range(n))
    spare = prep.n_units - sum(lo)  # the (spare+1)-th smallest jump point bounds t*

    def count_lt(t: Fraction) -> int:  # jump points k / w_i < t with k >= lo_i
        return sum(max(0, math.ceil(t * fw[i]) - lo[i]) for i in range(n))

    def count_le(t: Fraction) -> int:
        return sum(max(0, math.floor(t * fw[i]) - lo[i] + 1) for i in range(n))

    def is_answer(t: Fraction) -> bool:
        return count_lt(t) <= spare < count_le(t)

    # float estimate of the (spare+1)-th smallest jump point
    w = prep.w
    lo_a = prep.lo.astype(np.float64)

    def fcount(t: float) -> float:
        return float(np.maximum(0.0, np.ceil(t * w) - lo_a).sum())

    a, b = 0.0, float((lo_a.max() + spare + 1) / w.min()) + 1.0
    for _ in range(100):
        mid = 0.5 * (a + b)
        if fcount(mid) <= spare:
            a = mid
        else:
            b = mid
    cands: set[Fraction] = set()
    for i in range(n):
        base = math.floor(b * float(fw[i]))
        for k in range(max(lo[i], base - 2), max(lo[i], base + 3)):
            cands.add(Fraction(k) / fw[i])
    found = None
    ordered = sorted(cands)
    left, right = 0, len(ordered) - 1
    while left <= right:  # smallest candidate with count_le > spare
        mid_i = (left + right) // 2
        if count_le(ordered[mid_i]) > spare:
            found = ordered[mid_i]
            right = mid_i - 1
        else:
            left = mid_i + 1
    if found is None or not is_answer(found):
        logger.warning("maxmin: float estimate not certified; exact merge of jump points")
        found = _kth_jump_point(fw, lo, spare + 1)
    return min(found, t_cap)


def _kth_jump_point(fw: Sequence[Fraction], lo: Sequence[int], k: int) -> Fraction:
    """The ``k``-th smallest of the points ``j / w_i`` (``j >= lo_i``), exactly.

    It is the smallest point ``t`` with at least ``k`` points ``<= t``; each county's candidate is
    found by bisection over ``j``, so the cost grows with ``log k``, not ``k``.
    """
    n = len(fw)

    def count_le(t: Fraction) -> int:
        return sum(max(0, math.floor(t * fw[i]) - lo[i] + 1) for i in range(n))

    best: Fraction | None = None
    for i in range(n):
        left, right = lo[i], lo[i] + k  # count_le(right / w_i) >= k: j - lo_i + 1 points of i
        while left < right:
            mid = (left + right) // 2
            if count_le(Fraction(mid) / fw[i]) >= k:
                right = mid
            else:
                left = mid + 1
        cand = Fraction(left) / fw[i]
        if best is None or cand < best:
            best = cand
    assert best is not None
    return best


# --- explanation and sensitivity ----------------------------------------------------------------


@dataclass(frozen=True)
class FundingExplanation:
    """Why each county gets what it gets.

    Attributes
    ----------
    names
        County names.
    amount_yuan
        Allocation per county.
    share_of_budget, share_of_need
        ``a_i / B`` and ``w_i / W``.
    ideal_yuan
        The need-proportional amount ``B w_i / W``.
    floor_yuan, cap_yuan
        The effective bounds (floor or committed amount rounded up to the unit, cap rounded down).
    binding
        ``floor``, ``committed`` or ``cap`` when the allocation sits at that bound; for the
        proportional and maxmin objectives otherwise ``unit`` when it is within one unit of its
        ideal (only the unit keeps it off), ``budget`` when it is a unit or more off because other
        counties' bounds move money, ``none`` when it is exactly at the ideal. For ``jobs``:
        the bound or ``none``.
    next_unit_delta
        Change of the objective if the budget grew by one unit and that unit went to this county,
        everything else unchanged (NaN at the cap). Negative is better for ``proportional``.
    gains_in_resolve_yuan
        Change of each county's amount when the model is re-solved at ``B + U``.
    marginal_up, marginal_down
        Objective at ``B + U`` minus at ``B``, and at ``B`` minus at ``B - U``, by re-solving
        (NaN when that budget is infeasible or its search found nothing within the limits).
        Integer models have no duals; these are exact when both solves are ``optimal``.
    """

    names: tuple[str, ...]
    objective_name: Objective
    amount_yuan: npt.NDArray[np.int64]
    share_of_budget: npt.NDArray[np.float64]
    share_of_need: npt.NDArray[np.float64]
    ideal_yuan: npt.NDArray[np.float64]
    floor_yuan: npt.NDArray[np.int64]
    cap_yuan: npt.NDArray[np.int64]
    binding: tuple[str, ...]
    next_unit_delta: npt.NDArray[np.float64]
    gains_in_resolve_yuan: npt.NDArray[np.int64]
    marginal_up: float
    marginal_down: float

    def rows(self) -> list[dict[str, object]]:
        """One dict per county, for tables."""
        return [
            {
                "county": self.names[i],
                "amount_yuan": int(self.amount_yuan[i]),
                "share_of_budget": float(self.share_of_budget[i]),
                "share_of_need": float(self.share_of_need[i]),
                "ideal_yuan": float(self.ideal_yuan[i]),
                "floor_yuan": int(self.floor_yuan[i]),
                "cap_yuan": int(self.cap_yuan[i]),
                "binding": self.binding[i],
                "next_unit_delta": float(self.next_unit_delta[i]),
                "gain_at_budget_plus_unit_yuan": int(self.gains_in_resolve_yuan[i]),
            }
            for i in range(len(self.names))
        ]


def explain_funding(
    problem: FundingProblem,
    result: FundingResult,
    params: SolveParams | None = None,
) -> FundingExplanation:
    """Explain an allocation county by county (see :class:`FundingExplanation`).

    Parameters
    ----------
    problem
        The problem that was solved.
    result
        Its result.
    params
        Solver options for the two re-solves at ``B +- U``.

    Returns
    -------
    FundingExplanation
    """
    objective = result.objective_name
    if not result.has_allocation:
        raise LnplanError(f"nothing to explain: {result.status} ({result.message})")
    prep = _prepare(problem, objective)
    unit = prep.unit
    a = result.allocations_yuan
    w = prep.w
    budget = problem.budget_yuan
    ideal = budget * w / w.sum()
    lo_y, hi_y = prep.lo * unit, prep.hi * unit
    binding = []
    for i in range(len(a)):
        if a[i] == lo_y[i] and lo_y[i] > 0:
            binding.append(prep.lo_from[i])
        elif a[i] == hi_y[i] and hi_y[i] < budget:
            binding.append("cap")
        elif objective == "jobs" or a[i] == ideal[i]:
            binding.append("none")
        else:
            binding.append("unit" if abs(a[i] - ideal[i]) < unit else "budget")
    up = replace(problem, budget_yuan=budget + unit)
    next_delta = np.full(len(a), np.nan)
    for i in range(len(a)):
        if a[i] + unit <= hi_y[i] or (problem.cap_yuan is None):
            b = a.copy()
            b[i] += unit
            next_delta[i] = objective_value(up, b, objective) - result.objective
    marginal_up, gains = math.nan, np.zeros(len(a), dtype=np.int64)
    try:
        r_up = solve_funding(up, objective, params)
        if r_up.has_allocation:
            marginal_up = r_up.objective - result.objective
            gains = r_up.allocations_yuan - a
    except InfeasibleError:
        pass
    marginal_down = math.nan
    if budget - unit >= 0:
        try:
            down = replace(problem, budget_yuan=budget - unit)
            r_down = solve_funding(down, objective, params)
            if r_down.has_allocation:
                marginal_down = result.objective - r_down.objective
        except InfeasibleError:
            pass
    return FundingExplanation(
        names=prep.names,
        objective_name=objective,
        amount_yuan=a,
        share_of_budget=a / budget if budget else np.zeros(len(a)),
        share_of_need=w / w.sum(),
        ideal_yuan=ideal,
        floor_yuan=lo_y,
        cap_yuan=hi_y,
        binding=tuple(binding),
        next_unit_delta=next_delta,
        gains_in_resolve_yuan=gains,
        marginal_up=marginal_up,
        marginal_down=marginal_down,
    )


@dataclass(frozen=True)
class SensitivityTable:
    """Objective and allocation at each budget of a sweep.

    ``status[k]`` is a status of :mod:`lnplan.optimize.result`: ``optimal`` or ``feasible``
    (``bound[k]`` and ``gap[k]`` are the proven ones, the allocation's rules were checked),
    ``infeasible`` (the data proves that budget impossible; ``message[k]`` names the rule and the
    amount) or ``no_solution_in_limit`` (``message[k]`` names the setting to raise). Without an
    allocation the objective and bound are NaN and the allocation row is -1.
    """

    names: tuple[str, ...]
    objective_name: Objective
    budgets_yuan: npt.NDArray[np.int64]
    status: tuple[str, ...]
    objective: npt.NDArray[np.float64]
    allocations_yuan: npt.NDArray[np.int64]
    message: tuple[str, ...]
    runtime_s: float
    bound: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    gap: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def rows(self) -> list[dict[str, object]]:
        """One dict per budget: budget, status, objective, bound, gap, then one per county."""
        out: list[dict[str, object]] = []
        for k, b in enumerate(self.budgets_yuan):
            row: dict[str, object] = {
                "budget_yuan": int(b),
                "status": self.status[k],
                "objective": float(self.objective[k]),
                "bound": float(self.bound[k]),
                "gap": float(self.gap[k]),
            }
            row.update(
                {n: int(v) for n, v in zip(self.names, self.allocations_yuan[k], strict=True)}
            )
            out.append(row)
        return out


def budget_range(start_yuan: int, stop_yuan: int, step_yuan: int) -> npt.NDArray[np.int64]:
    """Budgets from ``start_yuan`` to ``stop_yuan`` inclusive in steps of ``step_yuan``."""
    if step_yuan <= 0 or stop_yuan < start_yuan:
        raise InputError(
            f"budget range needs start <= stop and a step > 0, got {start_yuan}, {stop_yuan}, "
            f"{step_yuan}"
        )
    return np.arange(start_yuan, stop_yuan + 1, step_yuan, dtype=np.int64)


def budget_sensitivity(
    problem: FundingProblem,
    budgets_yuan: npt.ArrayLike,
    objective: str = "proportional",
    params: SolveParams | None = None,
) -> SensitivityTable:
    """Solve the same problem at each budget (each solve is warm-started, see module docstring).

    Budgets where the bounds cannot hold are recorded as ``infeasible`` with the reason, not
    raised. Floors and caps stay absolute (yuan), as in the problem.
    """
    start = time.perf_counter()
    budgets = np.asarray(budgets_yuan, dtype=np.int64)
    n = len(problem.names)
    status: list[str] = []
    message: list[str] = []
    objs = np.full(budgets.size, np.nan)
    bounds = np.full(budgets.size, np.nan)
    gaps = np.full(budgets.size, np.inf)
    allocs = np.full((budgets.size, n), -1, dtype=np.int64)
    for k, b in enumerate(budgets):
        p = replace(problem, budget_yuan=int(b))
        try:
            r = solve_funding(p, objective, params)
        except InfeasibleError as e:
            status.append("infeasible")
            message.append(str(e))
            continue
        status.append(r.status)
        message.append(r.message)
        bounds[k] = r.bound
        gaps[k] = r.gap
        if r.has_allocation:
            objs[k] = r.objective
            allocs[k] = r.allocations_yuan
    return SensitivityTable(
        names=tuple(problem.names),
        objective_name=objective,  # type: ignore[arg-type]
        budgets_yuan=budgets,
        status=tuple(status),
        objective=objs,
        allocations_yuan=allocs,
        message=tuple(message),
        runtime_s=time.perf_counter() - start,
        bound=bounds,
        gap=gaps,
    )
