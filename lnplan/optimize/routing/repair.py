"""Time the engine's stop orders exactly and re-insert, greedily, the stops that no longer fit.

The OR-Tools model approximates the night rule (see :mod:`~lnplan.optimize.routing.ortools_engine`),
so its orders are re-timed by :mod:`~lnplan.optimize.routing.schedule`; a stop that no longer fits
its trip is tried at every position of every trip slot, cheapest extra drive first. The repair
keeps a deadline: when it passes, the remaining stops stay out and the caller says the search was
cut short.
"""

from __future__ import annotations

import logging
import time

from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem, StopOrder
from lnplan.optimize.routing.schedule import TripTimer, time_lodging_trip, time_trip

__all__ = ["time_and_repair"]

log = logging.getLogger(__name__)


def _time_order(problem: RoutingProblem, o: StopOrder) -> tuple[PlannedTrip, list[int]]:
    if problem.lodging:
        n_days = o.last_day - o.first_day + 1
        days: list[list[int]] = [[] for _ in range(n_days)]
        for i, d in zip(o.stops, o.days, strict=True):
            days[d - o.first_day].append(i)
        return time_lodging_trip(problem, o.team, o.first_day, o.last_day, days, list(o.nights))
    return time_trip(problem, o.team, o.first_day, o.last_day, list(o.stops))


def time_and_repair(
    problem: RoutingProblem, orders: list[StopOrder], *, deadline: float | None
) -> tuple[list[PlannedTrip], list[int], bool]:
    """Time every engine trip; re-insert stops that no longer fit where it is cheapest.

    Parameters
    ----------
    deadline
        ``time.perf_counter()`` moment after which no more re-insertions are tried (``None``: no
        deadline).

    Returns
    -------
    trips, left, cut_short
        The timed trips, the stops that did not fit their engine trip (before repair), and whether
        the deadline stopped the repair before every such stop was tried.
    """
    trips: dict[tuple[int, int, int], PlannedTrip] = {}
    left: list[int] = []
    for o in orders:
        trip, out = _time_order(problem, o)
        trips[(o.team, o.first_day, o.last_day)] = trip
        left.extend(out)
    cut_short = False
    if left and not problem.lodging:
        log.info("%d stop(s) did not fit after exact timing; re-inserting", len(left))
        tt = problem.travel_time_s
        cal = problem.calendar
        # fixed blocks: every block of every team; free-length trips: the trips made so far
        free = not cal.fixed_trip_blocks and cal.horizon_days > 1 and cal.trip_max_days > 1
        slots = [] if free else cal.trip_slots()
        timer = TripTimer(problem)
        w = cal.work_per_day_s
        for i in sorted(left, key=lambda i: -problem.stops[i].demand):
            if deadline is not None and time.perf_counter() > deadline:
                cut_short = True
                log.info("repair reached the time limit; stop %d and later ones stay out", i)
                break
            node = problem.stops[i].node
            # every position of every trip, cheapest extra drive first (ties: in this order);
            # the first one where the whole trip still times is the best
            tried: list[tuple[int, int, tuple[int, int, int], int]] = []
            for team in range(len(problem.teams)):
                base, end = problem.teams[team].base, problem.teams[team].end_node
                spans = slots or [(f, la) for (t, f, la) in trips if t == team]
                for first, last in spans:
                    key = (team, first, last)
                    cur = trips[key].stops if key in trips else ()
                    nodes = [base] + [problem.stops[j].node for j in cur] + [end]
                    for pos in range(len(cur) + 1):
                        a, b = nodes[pos], nodes[pos + 1]
                        extra = int(tt[a, node] + tt[node, b] - tt[a, b])
                        tried.append((extra, len(tried), key, pos))
            tried.sort()
            best: tuple[tuple[int, int, int], PlannedTrip] | None = None
            prefix: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
            for _, _, key, pos in tried:
                team, first, last = key
                cur = trips[key].stops if key in trips else ()
                if key not in prefix:
                    prefix[key] = _prefix_states(timer, problem, key, cur)
                if _fits(timer, problem, team, (last + 1) * w, prefix[key][pos], [i, *cur[pos:]]):
                    trip, out = timer.time(team, first, last, [*cur[:pos], i, *cur[pos:]])
                    if not out:  # always so: the same rule timed the same order
                        best = (key, trip)
                        break
            if best is not None:
                trips[best[0]] = best[1]
            else:
                log.info("stop %d (%s) could not be re-inserted: dropped", i, problem.stop_name(i))
    kept = [
        t
        for t in trips.values()
        if t.stops or problem.teams[t.team].end_node != problem.teams[t.team].base
    ]  # a team that ends elsewhere makes its trip even without stops
    return kept, left, cut_short


def _prefix_states(
    timer: TripTimer, problem: RoutingProblem, key: tuple[int, int, int], stops: tuple[int, ...]
) -> list[tuple[int, int]]:
    """Where the team is and from when it is free after each prefix of a timed trip's stops."""
    team, first_day, last_day = key
    here, ready = problem.teams[team].base, first_day * timer.w
    trip_end = (last_day + 1) * timer.w
    states = [(here, ready)]
    for i in stops:
        s = timer.advance(here, ready, i, trip_end)
        assert s is not None, "a timed trip's stops time again"
        here, ready = problem.stops[i].node, s + problem.stops[i].service_s
        states.append((here, ready))
    return states


def _fits(
    timer: TripTimer,
    problem: RoutingProblem,
    team: int,
    trip_end: int,
    state: tuple[int, int],
    rest: list[int],
) -> bool:
    """Whether ``rest`` times from ``state`` inside the trip, the team back in time."""
    here, ready = state
    for j in rest:
        s = timer.advance(here, ready, j, trip_end)
        if s is None:
            return False
        here, ready = problem.stops[j].node, s + problem.stops[j].service_s
    return timer.back(here, ready, team, trip_end) is not None
