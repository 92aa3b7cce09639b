"""Problem, option and result types shared by the siting models, and the checks before solving."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.errors import InfeasibleError, InputError
from lnplan.optimize.result import Status, proven_gap, status_of

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Relative tolerance of every rule check on an answer (``amount <= limit + RULE_TOL * max(1,
#: |limit|)``): HiGHS accepts rows violated by about 1e-7 absolute on its scaled model, so an
#: answer it returns must not be refused by a stricter check.
RULE_TOL = 1e-6


def within(amount: float, limit: float) -> bool:
    """``amount <= limit`` up to :data:`RULE_TOL` relative."""
    return amount <= limit + RULE_TOL * max(1.0, abs(limit))


@dataclass(frozen=True)
class SolveParams:
    """How long and how the solver may search.

    Parameters
    ----------
    time_limit_s
        Wall-clock safety cap for the whole solve, heuristics and MIP together. The searches
        stop on the work limits below first; a stop here may differ with the machine's load.
    seed
        Seed for randomised steps and the MIP solver.
    workers
        Solver threads.
    rel_gap
        Relative gap at which a solution counts as optimal (``1e-9`` means proven optimal).
    log
        Print the MIP solver's log to stdout.
    max_nodes
        Work limit of every HiGHS MIP: branch-and-bound nodes (``None``: no limit, the search
        runs to its proof or the safety cap). ``0`` skips the MIP of the MCLP: the answer is the
        greedy-and-swap (or Lagrangian) one, bounded by the Lagrangian bound; the other models
        then search the root node only.
    max_iterations
        Work limit of the MCLP's Lagrangian bound: subgradient iterations.
    """

    time_limit_s: float = 60.0
    seed: int = 0
    workers: int = 1
    rel_gap: float = 1e-9
    log: bool = False
    max_nodes: int | None = None
    max_iterations: int = 600


@dataclass(frozen=True)
class SiteRules:
    """Options that combine with every siting model.

    Candidate-indexed arrays have one entry per candidate site (the columns of the cover or cost
    matrix).

    Parameters
    ----------
    existing
        Candidates that are open already and stay open; they count towards ``n_sites``.
    excluded
        Candidates that may not be chosen.
    capacity
        Demand (in the units of the weights, e.g. households) each candidate can serve. With
        capacities the assignment is capacity-respecting and may split a demand point.
    candidate_group
        Group code of each candidate (e.g. its city), used by ``group_min`` and ``group_max``.
    group_min, group_max
        Fewest and most sites per group code (open existing sites count).
    site_cost_yuan
        Cost of opening each candidate; with ``budget_yuan`` the total may not exceed the budget
        (existing sites count with their cost, so give them cost 0 if they are paid for).
    budget_yuan
        Budget for the chosen sites.
    group_names
        Name of each group code (e.g. city code -> "沈阳市"), used in every message about a group.
    """

    existing: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    excluded: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    capacity: FloatArray | None = None
    candidate_group: IntArray | None = None
    group_min: Mapping[int, int] = field(default_factory=dict)
    group_max: Mapping[int, int] = field(default_factory=dict)
    site_cost_yuan: FloatArray | None = None
    budget_yuan: float | None = None
    group_names: Mapping[int, str] = field(default_factory=dict)

    @property
    def is_plain(self) -> bool:
        """True without capacities, group bounds or a budget (existing/excluded are plain)."""
        return (
            self.capacity is None
            and not self.group_min
            and not self.group_max
            and self.budget_yuan is None
        )


@dataclass(frozen=True)
class Equity:
    """A fairness requirement over groups of demand (e.g. cities).

    Parameters
    ----------
    groups
        Group code of each demand point.
    mode
        ``"max_min"``: maximise the lowest coverage rate among the groups (then, at that rate,
        the total coverage). ``"floor"``: maximise total coverage with each group's rate at least
        ``floor``.
    floor
        Lowest coverage rate (0-1) per group in ``"floor"`` mode: one number for all groups or a
        mapping group code -> rate.
    """

    groups: IntArray
    mode: Literal["max_min", "floor"] = "max_min"
    floor: float | Mapping[Any, float] = 0.0


@dataclass(frozen=True)
class GroupCoverage:
    """Demand and covered demand of one group."""

    demand: float
    covered: float

    @property
    def rate(self) -> float:
        """Covered share of the group's demand (1.0 for a group without demand)."""
        return self.covered / self.demand if self.demand > 0 else 1.0


@dataclass(frozen=True)
class SitingResult:
    """The outcome of a siting model.

    Attributes
    ----------
    status
        The contract of :mod:`lnplan.optimize.result`: ``"optimal"`` (proven within
        ``rel_gap``), ``"feasible"`` (an answer whose rules were checked, not proven) or
        ``"no_solution_in_limit"`` (the time limit ran out before any answer: ``chosen`` is empty
        and ``objective`` is ``nan``). Data-proven infeasibility raises ``InfeasibleError``.
    objective, bound, gap
        Objective recomputed from ``chosen`` (and ``assignment_share``) by
        :mod:`._verify`, independent of the model; the proven bound; :func:`proven_gap`.
    rules_checked, proof, work
        True when every rule was verified on the answer; what proves the bound; the work done
        (iterations, nodes, rounds) for the run manifest.
    runtime_s
        Wall-clock time of the whole solve.
    engine
        Solver and formulation used.
    chosen
        Indices of the open candidate sites (existing ones included), sorted.
    assignment
        Per demand point, the site that serves it (the largest share when split), -1 if none.
    coverage
        Per grouping name (e.g. ``"city"``), per group code: demand and covered demand.
    covered_demand, total_demand
        Demand served by an open site (within reach for covering models), and all demand.
    assignment_share
        With capacities: sparse demand x candidate matrix of the share of each demand point
        served by each site.
    unconstrained_objective, price_of_equity
        With an equity requirement: the covered demand without it, and how much total coverage
        the requirement costs (``unconstrained_objective - covered_demand``).
    details
        Model-specific numbers (e.g. reductions, iterations).
    """

    status: Status
    objective: float
    bound: float
    gap: float
    runtime_s: float
    engine: str
    chosen: IntArray
    assignment: IntArray
    coverage: Mapping[str, Mapping[object, GroupCoverage]]
    covered_demand: float
    total_demand: float
    assignment_share: sparse.csr_array | None = None
    unconstrained_objective: float | None = None
    price_of_equity: float | None = None
    details: Mapping[str, float] = field(default_factory=dict)
    rules_checked: bool = False
    proof: str = ""
    work: Mapping[str, float] = field(default_factory=dict)

    @property
    def coverage_rate(self) -> float:
        """Covered share of all demand."""
        return self.covered_demand / self.total_demand if self.total_demand > 0 else 1.0


def main_sites(share: sparse.csr_array) -> IntArray:
    """Per row of a split-assignment matrix, the column with the largest share (-1 if none)."""
    out = np.full(share.shape[0], -1, np.int64)
    if share.nnz:
        am = np.asarray(share.argmax(axis=1)).ravel()
        has = np.asarray(share.max(axis=1).toarray()).ravel() > 1e-9
        out[has] = am[has]
    return out


def group_label(code: object, names: Mapping[int, str] | None) -> str:
    """A group's name for messages (the city name when known, else ``group <code>``)."""
    if names:
        try:
            name = names.get(int(code))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            name = None
        if name:
            return str(name)
    return f"group {code}"


class SolutionCheckError(RuntimeError):
    """An answer broke a rule or its objective disagrees with its recomputation: a bug, never
    returned silently."""


def siting_result(
    *,
    status: str,
    objective: float,
    bound: float,
    start: float,
    engine: str,
    chosen: IntArray,
    assignment: IntArray,
    weights: FloatArray,
    served: FloatArray,
    groups: Mapping[str, npt.ArrayLike] | None,
    details: Mapping[str, float],
    verdict: Any,
    maximize: bool,
    rel_gap: float,
    integral: bool = False,
    proof: str = "",
    assignment_share: sparse.csr_array | None = None,
    unconstrained: float | None = None,
    price_proven: bool = False,
    covered_is_objective: bool = False,
    can_be_optimal: bool = True,
) -> SitingResult:
    """The :class:`SitingResult` of an answer, under the contract of :mod:`lnplan.optimize.result`.

    ``status`` is the search's word: ``"optimal"``, ``"feasible"`` or ``"time_limit"`` with an
    answer, ``"no_solution"`` without. ``verdict`` (a :class:`._verify.Verdict`) holds the
    objective recomputed from ``chosen`` by code independent of the model and the rules the
    answer breaks: a broken rule, or a model objective that disagrees with the recomputation, is a
    bug and raises :class:`SolutionCheckError`. The status word follows from the proven gap:
    ``optimal`` only when ``bound`` meets the objective within ``rel_gap``. ``integral``: every
    feasible objective is a whole number, so the bound rounds towards the objective.
    ``price_proven``: the unconstrained optimum and the equity answer are both proven, so the price
    of equity is reported. ``can_be_optimal=False``: the bound does not prove this answer (e.g. an
    equity stage 2 over an unproven lowest rate), so the status is at best ``feasible``.
    """
    covered = float((weights * served).sum())
    has_answer = status != "no_solution" and verdict is not None
    checked = False
    if has_answer:
        if verdict.broken:
            raise SolutionCheckError(
                f"{engine}: the answer breaks a rule ({'; '.join(verdict.broken)})"
            )
        value = float(verdict.objective)
        scale = max(1.0, abs(value))
        if math.isfinite(objective) and abs(objective - value) > 1e-6 * scale:
            raise SolutionCheckError(
                f"{engine}: the search's objective {objective!r} disagrees with the one "
                f"recomputed from the chosen sites, {value!r}"
            )
        if covered_is_objective and abs(covered - value) > 1e-6 * scale:
            raise SolutionCheckError(
                f"{engine}: covered demand {covered!r} disagrees with the objective {value!r}"
            )
        objective = value
        checked = True
        bound = float(bound)
        if math.isfinite(bound):
            tol = 1e-6 * max(1.0, abs(bound))
            if integral:
                bound = math.floor(bound + tol) if maximize else math.ceil(bound - tol)
            beyond = (objective - bound) if maximize else (bound - objective)
            if beyond > 1e-6 * scale:
                raise SolutionCheckError(
                    f"{engine}: the bound {bound!r} is on the wrong side of the objective "
                    f"{objective!r}"
                )
            if beyond > 0:
                bound = objective  # solver round-off: the answer itself attains the bound
        gap = proven_gap(objective, bound)
        word: Status = status_of(has_answer=True, gap=gap, rel_gap=rel_gap)
        if not can_be_optimal:
            word = "feasible"
    else:
        objective = math.nan
        gap = math.inf
        word = "no_solution_in_limit"
        unconstrained = None
    if not proof:
        proof = engine  # the search that produced the bound (blank below without a bound)
    work = {
        k: float(v)
        for k, v in details.items()
        if any(t in k for t in ("iterations", "nodes", "rounds", "steps", "cuts", "mips"))
    }
    return SitingResult(
        status=word,
        objective=float(objective),
        bound=float(bound),
        gap=float(gap),
        runtime_s=time.perf_counter() - start,
        engine=engine,
        chosen=np.sort(chosen).astype(np.int64),
        assignment=assignment,
        coverage=coverage_by_group(weights, served, groups),
        covered_demand=covered,
        total_demand=float(weights.sum()),
        assignment_share=assignment_share,
        unconstrained_objective=unconstrained,
        price_of_equity=(
            None
            if unconstrained is None or not price_proven or word != "optimal"
            else unconstrained - covered
        ),
        details=dict(details),
        rules_checked=checked,
        proof=proof if math.isfinite(bound) else "",
        work=work,
    )


# --- validation -------------------------------------------------------------------------------


def as_index_array(values: object, n: int, what: str) -> IntArray:
    """Validate an array of candidate indices in ``0..n-1``."""
    arr = np.asarray(values, dtype=np.int64).ravel()
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = arr[(arr < 0) | (arr >= n)][0]
        raise InputError(f"{what}: index {bad} is outside 0..{n - 1} (there are {n} candidates)")
    return np.unique(arr)


def check_weights(weights: FloatArray) -> FloatArray:
    """Validate demand weights: a 1-d array of finite non-negative numbers."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise InputError(f"weights must be one number per demand point, got shape {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"weights[{i}] = {w[i]!r}: weights must be finite and >= 0")
    return w


@dataclass(frozen=True)
class PreparedRules:
    """Rules checked against one problem, with index arrays ready for a model."""

    n_candidates: int
    allowed: npt.NDArray[np.bool_]
    existing: IntArray
    capacity: FloatArray | None
    group_of: IntArray | None
    group_min: dict[int, int]
    group_max: dict[int, int]
    cost: FloatArray | None
    budget: float | None
    group_names: Mapping[int, str] = field(default_factory=dict)

    @property
    def is_plain(self) -> bool:
        """True without capacities, group bounds or a budget."""
        return (
            self.capacity is None
            and not self.group_min
            and not self.group_max
            and self.budget is None
        )


def prepare_rules(
    rules: SiteRules, n_candidates: int, n_sites: int | None, *, total_demand: float | None = None
) -> PreparedRules:
    """Validate ``rules`` for ``n_candidates`` candidates and check what can be checked cheaply.

    Raises
    ------
    InputError
        When an array has the wrong length or holds impossible values.
    InfeasibleError
        When the rules contradict each other or ``n_sites``; the message says which and by how much.
    """
    m = n_candidates
    existing = as_index_array(rules.existing, m, "existing")
    excluded = as_index_array(rules.excluded, m, "excluded")
    both = np.intersect1d(existing, excluded)
    if both.size:
        raise InfeasibleError(
            f"{both.size} existing site(s) are also excluded (first: candidate {both[0]})"
        )
    allowed = np.ones(m, dtype=np.bool_)
    allowed[excluded] = False

    def per_candidate(arr: object, what: str) -> FloatArray:
        a = np.asarray(arr, dtype=np.float64)
        if a.shape != (m,):
            raise InputError(f"{what} must have one value per candidate ({m}), got shape {a.shape}")
        bad = ~np.isfinite(a) | (a < 0)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise InputError(f"{what}[{j}] = {a[j]!r}: must be finite and >= 0")
        return a

    capacity = None if rules.capacity is None else per_candidate(rules.capacity, "capacity")
    cost = (
        None if rules.site_cost_yuan is None else per_candidate(rules.site_cost_yuan, "site cost")
    )
    budget = rules.budget_yuan
    if budget is not None and cost is None:
        raise InputError("budget_yuan needs site_cost_yuan (the cost of each candidate)")
    if budget is not None and (not math.isfinite(budget) or budget < 0):
        raise InputError(f"budget_yuan = {budget!r}: must be a finite number >= 0")

    group_of: IntArray | None = None
    gmin = {int(k): int(v) for k, v in rules.group_min.items()}
    gmax = {int(k): int(v) for k, v in rules.group_max.items()}
    names = {int(k): str(v) for k, v in rules.group_names.items()}
    if (gmin or gmax) and rules.candidate_group is None:
        raise InputError("group_min/group_max need candidate_group (the group of each candidate)")
    if rules.candidate_group is not None:
        group_of = np.asarray(rules.candidate_group, dtype=np.int64)
        if group_of.shape != (m,):
            raise InputError(
                f"candidate_group must have one code per candidate ({m}), got {group_of.shape}"
            )
    for g, lo in gmin.items():
        hi = gmax.get(g)
        if lo < 0 or (hi is not None and hi < 0):
            raise InputError(f"{group_label(g, names)}: bounds must be >= 0 (min {lo}, max {hi})")
        if hi is not None and lo > hi:
            raise InfeasibleError(
                f"{group_label(g, names)}: minimum {lo} sites is above its maximum {hi}"
            )

    n_exist = int(existing.size)
    if n_sites is not None:
        if n_sites < 0:
            raise InputError(f"number of sites must be >= 0, got {n_sites}")
        if n_exist > n_sites:
            raise InfeasibleError(
                f"{n_exist} existing sites must stay open but only {n_sites} sites are allowed "
                f"({n_exist - n_sites} too many)"
            )
        n_allowed = int(allowed.sum())
        if n_sites > n_allowed:
            raise InfeasibleError(
                f"{n_sites} sites requested but only {n_allowed} candidates are allowed "
                f"({n_sites - n_allowed} short)"
            )
        if gmin and sum(gmin.values()) > n_sites:
            total = sum(gmin.values())
            raise InfeasibleError(
                f"the per-group minimums sum to {total} sites, above the {n_sites} sites allowed "
                f"(over by {total - n_sites})"
            )
        if gmax and group_of is not None:
            groups_all = np.unique(group_of[allowed])
            cap_total = sum(
                gmax.get(int(g), int((group_of[allowed] == g).sum())) for g in groups_all
            )
            if cap_total < n_sites:
                raise InfeasibleError(
                    f"the per-group maximums allow at most {cap_total} sites, below the "
                    f"{n_sites} required (short by {n_sites - cap_total})"
                )
    if group_of is not None:
        for g, lo in gmin.items():
            avail = int((allowed & (group_of == g)).sum())
            if lo > avail:
                raise InfeasibleError(
                    f"{group_label(g, names)} needs at least {lo} sites but has {avail} allowed "
                    f"candidates (short by {lo - avail})"
                )
        for g, hi in gmax.items():
            ex = int((group_of[existing] == g).sum())
            if ex > hi:
                raise InfeasibleError(
                    f"{group_label(g, names)} has {ex} existing sites, above its maximum of {hi} "
                    f"(over by {ex - hi})"
                )
    if budget is not None and cost is not None:
        need = _cheapest_cost(cost, allowed, existing, group_of, gmin, n_sites)
        if need > budget * (1 + 1e-12) + 1e-9:
            raise InfeasibleError(
                f"the cheapest choice of sites that meets the rules costs {need:,.2f} yuan, "
                f"above the budget of {budget:,.2f} yuan (over by {need - budget:,.2f})"
            )
    if capacity is not None and total_demand is not None and n_sites is not None:
        best = _largest_capacity(capacity, allowed, existing, n_sites)
        if best < total_demand * (1 - 1e-12) - 1e-9:
            raise InfeasibleError(
                f"the {n_sites} sites can serve at most {best:,.2f} demand in total, below the "
                f"total demand of {total_demand:,.2f} (short by {total_demand - best:,.2f})"
            )
    return PreparedRules(m, allowed, existing, capacity, group_of, gmin, gmax, cost, budget, names)


def _cheapest_cost(
    cost: FloatArray,
    allowed: npt.NDArray[np.bool_],
    existing: IntArray,
    group_of: IntArray | None,
    gmin: dict[int, int],
    n_sites: int | None,
) -> float:
    """A lower bound on the cost of a choice keeping existing sites and group minimums."""
    taken = np.zeros(len(cost), dtype=np.bool_)
    taken[existing] = True
    if group_of is not None:
        for g, lo in gmin.items():
            have = int((taken & (group_of == g)).sum())
            if lo > have:
                pool = np.flatnonzero(allowed & ~taken & (group_of == g))
                pick = pool[np.argsort(cost[pool], kind="stable")[: lo - have]]
                taken[pick] = True
    if n_sites is not None and taken.sum() < n_sites:
        pool = np.flatnonzero(allowed & ~taken)
        pick = pool[np.argsort(cost[pool], kind="stable")[: n_sites - int(taken.sum())]]
        taken[pick] = True
    return float(cost[taken].sum())


def _largest_capacity(
    capacity: FloatArray, allowed: npt.NDArray[np.bool_], existing: IntArray, n_sites: int
) -> float:
    """Capacity of the existing sites plus the largest others, ``n_sites`` in all."""
    taken = np.zeros(len(capacity), dtype=np.bool_)
    taken[existing] = True
    pool = np.flatnonzero(allowed & ~taken)
    rest = max(n_sites - int(existing.size), 0)
    top = np.sort(capacity[pool])[::-1][:rest]
    return float(capacity[existing].sum() + top.sum())


def _plain(value: object) -> object:
    """A numpy scalar as the Python value (labels may be numbers or strings)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def coverage_by_group(
    weights: FloatArray,
    covered_share: FloatArray,
    groups: Mapping[str, npt.ArrayLike] | None,
) -> dict[str, dict[object, GroupCoverage]]:
    """Aggregate demand and covered demand per group code, for each named grouping."""
    out: dict[str, dict[object, GroupCoverage]] = {}
    for name, labels in (groups or {}).items():
        lab = np.asarray(labels)
        if lab.shape != weights.shape:
            raise InputError(
                f"group labels {name!r} must have one code per demand point ({weights.size}), "
                f"got shape {lab.shape}"
            )
        codes, inv = np.unique(lab, return_inverse=True)
        dem = np.bincount(inv, weights=weights, minlength=codes.size)
        cov = np.bincount(inv, weights=weights * covered_share, minlength=codes.size)
        out[name] = {
            _plain(c): GroupCoverage(float(d), float(v))
            for c, d, v in zip(codes, dem, cov, strict=True)
        }
    return out
