"""Ruin and recreate on exactly timed trips in fixed trip blocks (no lodging places).

The greedy plan (:func:`~lnplan.optimize.routing.repair.greedy_plan`) inserts the most valuable
stops first and never undoes a choice. This step does: each iteration *ruins* the plan by taking a
few visited stops out (the stops nearest to a random visited stop, or stops drawn at random), re-
times the trips they left (:class:`~lnplan.optimize.routing.schedule.TripTimer`), then *recreates*
it by inserting, most valuable first, the removed stops together with the left-out stops nearest
to them (:func:`~lnplan.optimize.routing.repair.insert_stops`, which keeps every trip exactly
timed, holds stops to their ``keep_trip`` and keeps teams off their blocked days). The new plan
replaces the current one when its objective
(:func:`~lnplan.optimize.routing.check.plan_objective`) is not worse, so the answer is never worse
than the start.

It stops after ``iterations`` ruins (the work limit; the same ``seed`` gives the same answer) or at
``deadline`` (a wall-clock safety cap, reported by the caller as a search cut short).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from lnplan.optimize.routing.check import plan_objective
from lnplan.optimize.routing.model import ImprovementOutcome, PlannedTrip, RoutingProblem
from lnplan.optimize.routing.repair import Key, insert_stops, insertion_key
from lnplan.optimize.routing.schedule import TripTimer

__all__ = ["ruin_and_recreate"]

log = logging.getLogger(__name__)

MAX_REMOVED = 8  # stops taken out per ruin, at most
NEARBY_LEFT_OUT = 2  # left-out stops offered per removed stop (the nearest ones)
SWAP_SHARE = 0.1  # share of recreates that insert the left-out stops before the removed ones


def ruin_and_recreate(
    problem: RoutingProblem,
    trips: list[PlannedTrip],
    *,
    iterations: int,
    seed: int = 0,
    deadline: float | None = None,
) -> ImprovementOutcome:
    """Improve timed trips of fixed trip blocks by ruin and recreate (see the module docstring).

    Parameters
    ----------
    trips
        An exactly timed plan whose trips lie in the teams' trip windows (e.g. the greedy plan).
    iterations
        Number of ruins (the work limit); ``0`` returns the start.
    seed
        Seed of ``np.random.default_rng``: which stops are taken out.
    deadline
        ``time.perf_counter()`` moment after which no more ruins are tried.
    """
    rng = np.random.default_rng(seed)
    timer = TripTimer(problem)
    tt = problem.travel_time_s
    n = len(problem.stops)
    nodes = np.array([s.node for s in problem.stops], dtype=np.int64)
    cur: dict[Key, PlannedTrip] = {(t.team, t.first_day, t.last_day): t for t in trips}
    before = cur_obj = plan_objective(problem, trips)
    improvements = 0
    stopped_by = "iterations"
    done = 0
    for _ in range(iterations):
        if deadline is not None and time.perf_counter() > deadline:
            stopped_by = "deadline"
            break
        visited = np.array(sorted(i for t in cur.values() for i in t.stops), dtype=np.int64)
        if len(visited) == 0:
            break
        done += 1
        k = int(rng.integers(1, min(MAX_REMOVED, len(visited)) + 1))
        if rng.random() < 0.5:  # a neighbourhood: the visited stops nearest to one of them
            centre = nodes[visited[rng.integers(len(visited))]]
            near = tt[centre, nodes[visited]] + tt[nodes[visited], centre]
            removed = {int(i) for i in visited[np.argsort(near, kind="stable")[:k]]}
        else:
            removed = {int(i) for i in rng.choice(visited, size=k, replace=False)}
        new = dict(cur)
        for key, trip in cur.items():
            if removed.isdisjoint(trip.stops):
                continue
            kept = [j for j in trip.stops if j not in removed]
            new[key], untimed = timer.time(key[0], key[1], key[2], kept)
            removed.update(untimed)  # (a shorter order times again; kept for safety)
        seen = {i for t in new.values() for i in t.stops}
        left = np.array([i for i in range(n) if i not in seen and i not in removed], dtype=np.int64)
        offer = set(removed)
        if len(left):
            rem = nodes[sorted(removed)]
            dist = np.min(tt[np.ix_(rem, nodes[left])] + tt[np.ix_(nodes[left], rem)].T, axis=0)
            m = NEARBY_LEFT_OUT * len(removed)
            offer.update(int(i) for i in left[np.argsort(dist, kind="stable")[:m]])
        order = sorted(offer, key=lambda i: insertion_key(problem, i))
        if rng.random() < SWAP_SHARE:  # left-out stops first: they may take the removed ones
            order = [i for i in order if i not in removed] + [i for i in order if i in removed]
        _, cut = insert_stops(problem, new, order, open_trips=True, deadline=deadline)
        plan = [t for t in new.values() if t.stops]
        obj = plan_objective(problem, plan)
        if obj <= cur_obj:
            improvements += obj < cur_obj
            cur = {(t.team, t.first_day, t.last_day): t for t in plan}
            cur_obj = obj
        if cut:
            stopped_by = "deadline"
            break
    best = tuple(cur[k] for k in sorted(cur))
    log.info(
        "ruin and recreate: objective %s -> %s in %d iterations (%d improvements), stopped by %s",
        before,
        cur_obj,
        done,
        improvements,
        stopped_by,
    )
    return ImprovementOutcome(best, before, cur_obj, done, improvements, stopped_by)
