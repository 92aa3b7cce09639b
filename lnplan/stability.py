"""Keep plans stable across re-runs: ``lnplan run SCENARIO --baseline RUN_DIR``.

When a quota changes slightly (p from 80 to 82), officials expect the plan to change slightly.
With a baseline run folder, a programme is solved in two steps:

1. the best plan, as without a baseline (its objective is the reference);
2. the plan that keeps as much of the baseline as possible while its objective stays within
   ``stability.max_loss`` (relative) of the best.

Fitness sites (MCLP and the other siting objectives): step 2 re-solves with the baseline sites
forced open (``sites.keep_candidates``, which the siting models take as sites that stay open and
count towards p). If that loses more than ``max_loss``, the baseline sites are released in order
of least value (first those the best plan dropped, the ones with the fewest catchment households
first) by halving the forced list, at most :data:`MAX_ROUNDS` re-solves; the plan kept is the
one with the most baseline sites within the loss, else the best plan.

Employment fund: :func:`lnplan.programs.employment_fund.run_near`. Step 1 is the best
allocation; step 2 (:func:`lnplan.optimize.funding.solve_funding_near`, CP-SAT, the same work
limit ``funding.deterministic_time_s``) the allocation that moves the fewest yuan
``sum_c |a_c - b_c|`` (over the counties of either run) while keeping every rule of the fund
(budget, unit, floors, caps) and its objective within ``max_loss`` of the best (deviation from
need shares at most ``1 + max_loss`` times the best; the worst ratio or the expected jobs at least
``1 - max_loss`` times it); among those, the one best for the fund's own objective. Its status is
``optimal`` only when CP-SAT proved that no allocation within the loss moves fewer yuan. With the
default ``proportional`` objective the best deviation is small and nearly unique, so a budget
change moves the new money and little else with or without a baseline; the step matters when the
need changes or for objectives with many equally good answers (``maxmin``, ``jobs``).

Screening tours: the plan is solved once as without a baseline (the best), then once more with
every offered visit of a township the baseline visited held to that township's baseline team and
trip (:func:`baseline_trips`; ``RoutingProblem.keep_trip``: the OR-Tools engine may put it on
that vehicle or leave it out; townships new since the baseline are free). The held plan is kept
if its weighted children screened (the routing model's value of the visits, summary
``weighted_children_screened``) is within ``max_loss`` of the best plan's; else a second search
holds only the townships the best plan keeps anyway and the more valuable half of the others
(:data:`TOUR_ROUNDS` held searches at most); else the best plan is kept and the report says
so. The held search is a heuristic under the same work limit (``screening.max_iterations``), so
it can also score better than the best plan found; the cost is then negative. Re-timing after
the search may re-insert a dropped visit on another trip, so "held" is what the engine was told,
and the report counts what the tables show.

A programme whose inputs are the baseline run's own (same cache key) is reused from the cache as
without a baseline (its plan is the baseline's) and only reported; any other is solved as above.

Every programme's summary gets ``baseline_*`` entries: what stayed, what moved, and the cost in
objective; the run's manifest gets the same under ``baseline``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import Scenario
    from lnplan.world import World

logger = logging.getLogger(__name__)

#: Most re-solves spent on finding how many baseline sites can be kept.
MAX_ROUNDS = 4
#: Most held routing searches for the tours (every baseline township, then about half).
TOUR_ROUNDS = 2


@dataclass
class Baseline:
    """The decisions of a baseline run and what became of them in this run."""

    run_dir: Path
    sites: pd.DataFrame | None
    allocation: pd.DataFrame | None
    schedule: pd.DataFrame | None
    keys: dict[str, str] = field(default_factory=dict)
    report: dict[str, dict[str, Any]] = field(default_factory=dict)

    def fingerprint(self, scenario: Scenario) -> dict[str, Any]:
        """What a plan held to this baseline depends on besides its own inputs."""
        from lnplan.cache import file_sha256

        files = sorted(p for p in self.run_dir.rglob("*.csv") if p.is_file())
        return {
            "max_loss": scenario.stability.max_loss,
            "files": {str(p.relative_to(self.run_dir)): file_sha256(p) for p in files},
        }

    def describe(self) -> dict[str, Any]:
        """The manifest entry: the folder, per programme what stayed and moved, and lines."""
        lines = [str(r["line"]) for r in self.report.values() if "line" in r]
        return {"run_dir": str(self.run_dir), "programmes": self.report, "lines": lines}


def report_reused(module: ModuleType, base: Baseline, output: ProgrammeOutput) -> ProgrammeOutput:
    """The baseline report for a programme whose output was reused (its inputs did not change:
    nothing was re-solved, so nothing moved that had not moved already)."""
    if module.NAME == "fitness_sites" and base.sites is not None:
        return _report_sites(base, output)
    if module.NAME == "employment_fund" and base.allocation is not None:
        return _report_fund(base, output)
    if module.NAME == "screening_routes" and base.schedule is not None:
        return _report_tours(base, output)
    return output


def load_baseline(run_dir: str | Path) -> Baseline:
    """Read the decisions of a baseline run folder.

    Raises
    ------
    InputError
        The folder is not an lnplan run folder.
    """
    from lnplan.compare import run_tables

    tables = run_tables(Path(run_dir))
    try:
        manifest = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
        runs = manifest.get("programme_runs", {})
        keys = {str(k): str(v.get("key")) for k, v in runs.items() if isinstance(v, dict)}
    except (OSError, ValueError):
        keys = {}
    return Baseline(
        run_dir=Path(run_dir).resolve(),
        sites=tables.table("fitness_sites", "sites"),
        allocation=tables.table("employment_fund", "allocation"),
        schedule=tables.table("screening_routes", "schedule"),
        keys=keys,
    )


def run_stable(
    module: ModuleType, scenario: Scenario, world: World, folder: Path, base: Baseline
) -> ProgrammeOutput:
    """Run one programme against the baseline (see the module docstring)."""
    max_loss = scenario.stability.max_loss
    if module.NAME == "employment_fund" and base.allocation is not None:
        old = base.allocation
        codes, yuan = old["county_code"].astype(str), old["amount_yuan"].astype(int)
        amounts = dict(zip(codes, yuan, strict=True))
        held = module.run_near(scenario, world, folder, amounts, max_loss)
        return _report_fund(base, held)
    best = module.run(scenario, world, folder)
    if module.NAME == "fitness_sites" and base.sites is not None and scenario.sites is not None:
        return _stable_sites(module, scenario, world, folder, base, best)
    if module.NAME == "screening_routes" and base.schedule is not None:
        return _stable_tours(module, scenario, world, folder, base, best)
    return best


def _with_summary(output: ProgrammeOutput, extra: dict[str, Any]) -> ProgrammeOutput:
    return replace(output, summary={**dict(output.summary), **extra})


def _objective(output: ProgrammeOutput) -> float:
    return float(output.summary["objective_value"])


def _within(value: float, best: float, max_loss: float, maximize: bool) -> bool:
    scale = max(abs(best), 1e-12)
    loss = (best - value) / scale if maximize else (value - best) / scale
    return loss <= max_loss + 1e-12


def _stable_sites(
    module: ModuleType,
    scenario: Scenario,
    world: World,
    folder: Path,
    base: Baseline,
    best: ProgrammeOutput,
) -> ProgrammeOutput:
    sec = scenario.sites
    assert sec is not None and base.sites is not None
    maximize = sec.objective == "mclp"
    max_loss = scenario.stability.max_loss
    known = set(world.candidates["candidate_id"].astype(str)) - set(sec.exclude_candidates)
    old = base.sites
    if "status" in old.columns:
        old = old[old["status"].astype(str) == "new"]
    ids = old["candidate_id"].astype(str)
    best_ids = set(best.tables["sites"]["candidate_id"].astype(str))
    # Most valuable first: sites the best plan keeps anyway, then by catchment households.
    order = pd.DataFrame(
        {
            "id": ids.to_numpy(),
            "in_best": ids.isin(best_ids).to_numpy(),
            "households": old.get("catchment_households", pd.Series(0, index=old.index)).to_numpy(),
        }
    )
    order = order[order["id"].isin(known)].sort_values(
        ["in_best", "households", "id"], ascending=[False, False, True], kind="stable"
    )
    ranked = list(order["id"])[: sec.p]
    best_value = _objective(best)
    chosen, rounds = best, 0
    lo, hi = int(order["in_best"].sum()), len(ranked)  # keeping lo costs nothing
    n = hi
    while rounds < MAX_ROUNDS and n > lo:
        rounds += 1
        kept_sec = sec.model_copy(update={"keep_candidates": ranked[:n]})
        forced = scenario.model_copy(update={"sites": kept_sec})
        trial = module.run(forced, world, folder)
        if _within(_objective(trial), best_value, max_loss, maximize):
            chosen = trial
            break
        hi = n - 1
        n = (lo + hi + 1) // 2
    new_ids = set(chosen.tables["sites"]["candidate_id"].astype(str))
    kept = len(new_ids & set(ids))
    value = _objective(chosen)
    cost = (best_value - value) / max(abs(best_value), 1e-12)
    if not maximize:
        cost = -cost
    extra = {
        "baseline_sites": len(ids),
        "baseline_sites_kept": kept,
        "baseline_sites_kept_by_best_plan": len(best_ids & set(ids)),
        "baseline_sites_removed": len(set(ids) - new_ids),
        "sites_added_since_baseline": len(new_ids - set(ids)),
        "best_objective_value": best_value,
        "stability_cost": round(cost, 6),
        "stability_max_loss": max_loss,
        "stability_resolves": rounds,
    }
    than = (
        f"{cost:.3%} below the best plan found"
        if cost >= 0
        else f"{-cost:.3%} above the best plan found (its search stopped at a limit)"
    )
    line = (
        f"fitness_sites: kept {kept} of {len(ids)} baseline sites (the best plan alone keeps "
        f"{extra['baseline_sites_kept_by_best_plan']}), {extra['sites_added_since_baseline']} "
        f"added; objective {than} (allowed loss {max_loss:.2%})"
    )
    base.report["fitness_sites"] = {**extra, "line": line}
    logger.info("%s", line)
    return _with_summary(chosen, extra)


def _report_sites(base: Baseline, output: ProgrammeOutput) -> ProgrammeOutput:
    assert base.sites is not None
    old = base.sites
    if "status" in old.columns:
        old = old[old["status"].astype(str) == "new"]
    ids = set(old["candidate_id"].astype(str))
    new_ids = set(output.tables["sites"]["candidate_id"].astype(str))
    extra = {
        "baseline_sites": len(ids),
        "baseline_sites_kept": len(ids & new_ids),
        "baseline_sites_removed": len(ids - new_ids),
        "sites_added_since_baseline": len(new_ids - ids),
        "stability_cost": 0.0,
    }
    line = (
        f"fitness_sites: reused (inputs unchanged); {extra['baseline_sites_kept']} of {len(ids)} "
        f"baseline sites kept, {extra['sites_added_since_baseline']} added"
    )
    base.report["fitness_sites"] = {**extra, "line": line}
    return _with_summary(output, extra)


def _report_fund(base: Baseline, output: ProgrammeOutput) -> ProgrammeOutput:
    """What stayed and moved of the baseline allocation, counted on the tables.

    ``output`` is held to the baseline (:func:`lnplan.programs.employment_fund.run_near`: its
    summary carries ``stability_cost`` and the search's status) or reused unchanged.
    """
    assert base.allocation is not None
    old = base.allocation.set_index(base.allocation["county_code"].astype(str))["amount_yuan"]
    new_alloc = output.tables["allocation"]
    new = new_alloc.set_index(new_alloc["county_code"].astype(str))["amount_yuan"]
    change = new.sub(old, fill_value=0)
    held = "stability_status" in output.summary
    cost = float(output.summary.get("stability_cost", 0.0))
    added, removed = int(change.clip(lower=0).sum()), int(-change.clip(upper=0).sum())
    extra = {
        "baseline_counties": len(change),
        "baseline_counties_unchanged": int((change == 0).sum()),
        "baseline_counties_changed": int((change != 0).sum()),
        "baseline_yuan_added": added,
        "baseline_yuan_removed": removed,
        "baseline_yuan_moved": added + removed,
        "stability_cost": cost,
    }
    if held:
        proven = output.summary["stability_status"] == "optimal"
        how = (
            f"the fewest yuan within the allowed loss {output.summary['stability_max_loss']:.2%}"
            + (" (proven)" if proven else " found within the work limit (not proven)")
            + f"; objective {cost:.3%} worse than the best"
        )
    else:
        how = "reused: inputs unchanged"
    line = (
        f"employment_fund: {extra['baseline_counties_unchanged']} of {len(change)} counties "
        f"unchanged; {(added + removed) / 10_000:,.0f} 万元 moved ({added / 10_000:,.0f} added, "
        f"{removed / 10_000:,.0f} removed), {how}"
    )
    base.report["employment_fund"] = {**extra, "line": line}
    logger.info("%s", line)
    return _with_summary(output, extra)


def _stable_tours(
    module: ModuleType,
    scenario: Scenario,
    world: World,
    folder: Path,
    base: Baseline,
    best: ProgrammeOutput,
) -> ProgrammeOutput:
    """Re-plan with baseline townships held to their team and trip; keep it within the loss.

    Round 1 holds every baseline township; if that loses more than ``max_loss``, round 2 holds
    those the best plan keeps anyway and the more valuable half of the others (children the
    baseline screened there), at most :data:`TOUR_ROUNDS` held searches; else the best plan.
    """
    assert base.schedule is not None
    max_loss = scenario.stability.max_loss
    schedule = base.schedule
    best_value = float(best.summary["weighted_children_screened"])
    moved = set(_moved_townships(base, best))
    both = set(schedule["township_code"].astype(str)) & set(
        best.tables["schedule"]["township_code"].astype(str)
    )
    kept_by_best = len(both) - len(moved)  # as _township_counts counts, without comparing again
    children = schedule.groupby(schedule["township_code"].astype(str))["children_screened"].sum()
    order = pd.DataFrame({"code": children.index, "children": children.to_numpy()})
    order["kept"] = order["code"].isin(both - moved)
    order = order.sort_values(
        ["kept", "children", "code"], ascending=[False, False, True], kind="stable"
    )
    ranked = list(order["code"])
    lo, n = int(order["kept"].sum()), len(ranked)
    chosen, trial, value, rounds, held, held_towns = best, None, best_value, 0, 0, 0
    top = -float("inf")  # the best held search's weighted children
    while rounds < TOUR_ROUNDS and n > lo:
        rounds += 1
        only = set(ranked[:n])
        counted: list[int] = []

        def hold(plan: Any, only: set[str] = only, counted: list[int] = counted) -> Any:
            keep = baseline_trips(plan, schedule, only=only)
            counted.append(sum(k is not None for k in keep))
            return replace(plan, problem=replace(plan.problem, keep_trip=keep))

        trial = module.run(scenario, world, folder, hold=hold)
        value = float(trial.summary["weighted_children_screened"])
        held = counted[0] if counted else 0
        held_towns, top = len(only), max(top, value)
        if _within(value, best_value, max_loss, maximize=True):
            chosen = trial
            break
        n = lo + (n - lo) // 2
    within = chosen is not best
    cost = 1 - float(chosen.summary["weighted_children_screened"]) / max(best_value, 1e-12)
    extra = {
        "baseline_townships_kept_by_best_plan": kept_by_best,
        "baseline_townships_held": held_towns,
        "baseline_visits_held": held,
        "baseline_held_plan_used": within,
        "best_weighted_children_screened": best_value,
        "stability_cost": round(cost, 6),
        "stability_max_loss": max_loss,
        "stability_resolves": rounds,
    }
    if trial is not None:
        extra["baseline_townships_kept_by_held_plan"] = _township_counts(base, trial)[1]
    out = _with_summary(chosen, extra)
    other, other_name = (best, "tours_best") if within else (trial, "tours_held")
    if other is not None and "tours" in other.models:  # the manifest records both searches
        out = replace(out, models={**dict(out.models), other_name: other.models["tours"]})
    if rounds and not within:
        note = (
            f"held to the baseline ({rounds} searches) the tours screened at best "
            f"{1 - top / max(best_value, 1e-12):.2%} less weighted children than the best plan "
            f"(allowed {max_loss:.2%}): best plan kept"
        )
        return _report_tours(base, out, note)
    if not rounds:
        return _report_tours(base, out, "the best plan keeps every township visited in both")
    return _report_tours(
        base,
        out,
        f"{extra['baseline_townships_held']} of {len(ranked)} baseline townships held, within "
        f"the allowed loss {max_loss:.2%}",
    )


def baseline_trips(
    plan: Any, schedule: pd.DataFrame, *, only: set[str] | None = None
) -> tuple[tuple[int, int] | None, ...]:
    """Per stop of ``plan`` (:class:`lnplan.programs.screening_routes.Plan`), the ``(team,
    trip)`` its township had in the baseline ``schedule`` (its first visit), in the engine's terms
    (:attr:`lnplan.optimize.routing.RoutingProblem.keep_trip`), or None.

    Teams are matched by name. On fixed trip blocks a baseline trip is the block holding its
    first date in this campaign (None when the date is not one of its working days); on free-
    length trips the team's ``k``-th trip is its ``k``-th possible trip. ``only``: hold only
    these township codes.
    """
    from lnplan.compare import _first_visits

    if schedule.empty:
        return tuple(None for _ in plan.problem.stops)
    cal = plan.problem.calendar
    free = cal.free_length_trips
    team_of = {t.name: k for k, t in enumerate(plan.problem.teams)}
    day_of = {d.isoformat(): k for k, d in enumerate(plan.dates.dates)}
    slot_of_day = {d: k for k, (a, b) in enumerate(cal.trip_slots()) for d in range(a, b + 1)}
    first_date = schedule.groupby(["team", "trip"])["date"].min().astype(str)
    trips: dict[str, tuple[int, int] | None] = {}
    for row in _first_visits(schedule).itertuples(index=False):
        team = team_of.get(str(row.team))
        trip: int | None = int(str(row.trip)) - 1
        if not free:
            day = day_of.get(first_date.get((row.team, row.trip), ""))
            trip = None if day is None else slot_of_day.get(day)
        code = str(row.township_code)
        if only is not None and code not in only:
            continue
        trips[code] = None if team is None or trip is None else (team, trip)
    codes = plan.towns["code"].astype(str)
    return tuple(trips.get(str(codes.iloc[part.row])) for part in plan.part_of_stop)


def _moved_townships(base: Baseline, output: ProgrammeOutput) -> list[str]:
    """Codes of the townships visited in both runs on another team or trip."""
    from lnplan.compare import RunTables, _compare_townships

    assert base.schedule is not None
    moved = _compare_townships(
        RunTables("baseline", {"screening_routes": {"schedule": base.schedule}}),
        RunTables("new", {"screening_routes": {"schedule": output.tables["schedule"]}}),
    )
    return [str(c) for c in moved["township_code"]]


def _township_counts(base: Baseline, output: ProgrammeOutput) -> tuple[int, int, int]:
    """Townships visited in both runs, kept on their team and trip, moved."""
    assert base.schedule is not None
    new = output.tables["schedule"]
    moved = _moved_townships(base, output)
    both = len(
        set(base.schedule["township_code"].astype(str)) & set(new["township_code"].astype(str))
    )
    return both, both - len(moved), len(moved)


def _report_tours(base: Baseline, output: ProgrammeOutput, how: str = "") -> ProgrammeOutput:
    """What stayed and moved of the baseline tours, counted on the tables (as ``lnplan
    compare`` counts them: a township's first visit, its team and trip number)."""
    assert base.schedule is not None
    both, kept, moved = _township_counts(base, output)
    old = set(base.schedule["township_code"].astype(str))
    new = set(output.tables["schedule"]["township_code"].astype(str))
    extra = {
        "baseline_townships": len(old),
        "baseline_townships_visited_again": both,
        "baseline_townships_same_team_and_trip": kept,
        "baseline_townships_moved": moved,
        "baseline_townships_not_visited": len(old - new),
        "townships_added_since_baseline": len(new - old),
        "stability_cost": float(output.summary.get("stability_cost", 0.0)),
    }
    line = (
        f"screening_routes: {kept} of {both} townships visited in both runs keep their team and "
        f"trip, {moved} moved; {len(old - new)} of the baseline's {len(old)} not visited, "
        f"{len(new - old)} added; " + (how or "reused: inputs unchanged")
    )
    if "best_weighted_children_screened" in output.summary:
        cost = extra["stability_cost"]
        line += (
            f" (weighted children screened {cost:.3%} below the best plan found)"
            if cost >= 0
            else f" (weighted children screened {-cost:.3%} above the best plan found: the "
            "searches stop at work limits, and the held one searched a smaller space)"
        )
        line += (
            f"; the best plan alone keeps {output.summary['baseline_townships_kept_by_best_plan']}"
        )
    base.report["screening_routes"] = {**extra, "line": line}
    logger.info("%s", line)
    return _with_summary(output, extra)
