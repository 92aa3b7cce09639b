"""Solve a routing problem with an engine, check the plan independently, build the result."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from lnplan.errors import InputError, NoSolutionInLimitError
from lnplan.optimize.routing.assemble import build_result
from lnplan.optimize.routing.check import SolutionCheckError, check_trips
from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem, RoutingResult, SolveParams
from lnplan.optimize.routing.repair import greedy_plan, time_and_repair
from lnplan.optimize.routing.ruin import ruin_and_recreate
from lnplan.optimize.routing.validate import validate_problem

__all__ = ["ENGINES", "solve_routing"]

log = logging.getLogger(__name__)

_FLAGS = ("time_limit_hit", "local_search_cut", "ruin_cut")  # said in warnings, not in work
ENGINES = ("auto", "pyvrp", "ortools", "ortools-default")


def solve_routing(
    problem: RoutingProblem, params: SolveParams | None = None, *, log_search: bool = False
) -> RoutingResult:
    """Plan the trips of every team.

    Parameters
    ----------
    problem
        The routing problem.
    params
        Time limit, seed, iteration limit and engine (see :class:`SolveParams`).
    log_search
        Let the engine log its search.

    Returns
    -------
    RoutingResult
        The plan after the independent check, with the engine that produced it.

    Raises
    ------
    InputError
        Malformed problem, unknown engine, or an engine that cannot express the problem.
    InfeasibleError
        Cheap pre-checks prove that no plan exists (from :mod:`~lnplan.optimize.routing.validate`).
    NoSolutionInLimitError
        The search ended (work limit or safety cap) without a plan that visits every stop that
        must be visited; not a proof that none exists.
    SolutionCheckError
        The engine's plan breaks a rule (a bug).
    """
    from lnplan.optimize.routing.pyvrp_engine import pyvrp_can_solve

    params = params or SolveParams()
    if params.engine not in ENGINES:
        raise InputError(f"unknown engine {params.engine!r}; choose one of {', '.join(ENGINES)}")
    if params.time_limit_s <= 0:
        raise InputError(f"time_limit_s is {params.time_limit_s}; it must be positive")
    validate_problem(problem)
    engine = params.engine
    why_not = pyvrp_can_solve(problem)
    if engine == "auto":
        engine = "pyvrp" if why_not is None else "ortools"
    if engine == "pyvrp" and why_not is not None:
        raise InputError(f"the pyvrp engine cannot solve this problem: {why_not}; use ortools")
    ruin_work: dict[str, float] = {}
    t0 = time.perf_counter()
    deadline = t0 + params.time_limit_s
    if engine == "pyvrp":
        from lnplan.optimize.routing.pyvrp_engine import solve_pyvrp

        sequences, found, work = solve_pyvrp(problem, params)
        planned, _, repair_cut = time_and_repair(problem, sequences, deadline=None)
    else:
        from lnplan.optimize.routing.ortools_engine import plan_with_ortools

        tuned = engine == "ortools"
        multi_day = problem.calendar.horizon_days > 1 and not problem.lodging
        initial = greedy_plan(problem) if tuned and multi_day and params.greedy_start else []
        ruin_cut = False
        if initial and params.ruin_iterations > 0:
            out = ruin_and_recreate(
                problem,
                initial,
                iterations=params.ruin_iterations,
                seed=params.seed,
                deadline=deadline,
            )
            initial, ruin_cut = list(out.trips), out.stopped_by == "deadline"
            ruin_work = {
                "ruin_iterations": float(out.iterations),
                "ruin_improvements": float(out.improvements),
            }
        found, planned, work, repair_cut = plan_with_ortools(
            problem, params, tuned=tuned, deadline=deadline, log_search=log_search, initial=initial
        )
        if ruin_work:
            work = {**work, **ruin_work, "ruin_cut": float(ruin_cut)}
    if not found:
        # Not a proof that no plan exists (that is InfeasibleError, raised by the checks before
        # the search): the search ended without one, on its work limit or at the safety cap.
        limit = (
            f"time_limit_s = {params.time_limit_s:g} s"
            if work.get("time_limit_hit", 0) or params.max_iterations is None
            else f"max_iterations = {params.max_iterations}"
        )
        raise NoSolutionInLimitError(
            f"the {engine} engine found no plan that visits every stop that must be visited "
            f"before its limit ({limit}); this does not prove that none exists: raise the limit, "
            "give stops a drop penalty, add teams or lengthen the horizon"
        )
    runtime = time.perf_counter() - t0
    warnings: list[str] = []
    problems = check_trips(problem, planned)
    if problems:
        planned, removed = _without_broken_trips(problem, planned)
        if removed is None:
            raise SolutionCheckError(
                f"the {engine} plan failed the independent check:\n  " + "\n  ".join(problems[:20])
            )
        # The engine's approximate clock (nights, lunch) let a trip break a rule that exact
        # timing catches; the trip is left out (its stops are optional) and the plan re-checked.
        warnings.append(
            f"{removed} trip(s) broke a rule once timed exactly and were left out (their stops "
            "count as not visited): " + "; ".join(problems[:3])
        )
    hit = bool(work.get("time_limit_hit", 0)) or repair_cut
    if work.get("time_limit_hit", 0):
        limit = (
            f"before max_iterations={params.max_iterations}"
            if params.max_iterations is not None
            else "(no max_iterations set, so the clock decided)"
        )
        warnings.append(
            f"search cut short: stopped by time_limit_s={params.time_limit_s} {limit}; the plan "
            "may improve with more time or a work limit"
        )
    if work.get("local_search_cut", 0):
        limit = (
            f"after {work['local_search_iterations']:.0f} iterations, before its work limit"
            if params.local_search_iterations is not None or params.max_iterations is not None
            else "(no local_search_iterations or max_iterations set, so the clock decided)"
        )
        warnings.append(
            f"search cut short: the local search was stopped by time_limit_s="
            f"{params.time_limit_s} {limit}"
        )
        hit = True
    if work.get("ruin_cut", 0):
        warnings.append(
            f"search cut short: the ruin-and-recreate step was stopped by time_limit_s="
            f"{params.time_limit_s} after {work['ruin_iterations']:.0f} of ruin_iterations="
            f"{params.ruin_iterations}"
        )
        hit = True
    if repair_cut:
        warnings.append(
            f"search cut short: the repair step reached time_limit_s={params.time_limit_s} "
            "before re-inserting every stop that did not fit"
        )
    return build_result(
        problem,
        planned,
        engine=engine,
        runtime_s=runtime,
        rules_checked=True,  # check_trips ran above and found no broken rule
        work={k: v for k, v in work.items() if k not in _FLAGS},
        time_limit_hit=hit,
        warnings=tuple(warnings),
    )


def _without_broken_trips(
    problem: RoutingProblem, planned: Sequence[PlannedTrip]
) -> tuple[list[PlannedTrip], int | None]:
    """``planned`` without the trips that break a rule on their own, and how many were left out.

    ``None`` when that does not give a valid plan: a left-out trip holds a stop that must be
    visited, or the remaining trips still break a rule (then the caller raises).
    """
    broken = {
        k
        for k, trip in enumerate(planned)
        if any(m.startswith("trip 0 ") for m in check_trips(problem, [trip]))  # its own rules
    }
    kept = [trip for k, trip in enumerate(planned) if k not in broken]
    lost = [i for k in broken for i in planned[k].stops if 0 <= i < len(problem.stops)]
    if not broken or any(problem.stops[i].drop_penalty is None for i in lost):
        return list(planned), None
    if check_trips(problem, kept):
        return list(planned), None
    return kept, len(broken)
