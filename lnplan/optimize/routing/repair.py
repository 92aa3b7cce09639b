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

from lnplan.optimize.routing.calendar import team_trip_windows
from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem, StopOrder
from lnplan.optimize.routing.schedule import time_lodging_trip, time_trip

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
        slots = (
            {}
            if free
            else {k: team_trip_windows(cal, t.blocked_days) for k, t in enumerate(problem.teams)}
        )
        for i in sorted(left, key=lambda i: -problem.stops[i].demand):
            if deadline is not None and time.perf_counter() > deadline:
                cut_short = True
                log.info("repair reached the time limit; stop %d and later ones stay out", i)
                break
            node = problem.stops[i].node
            best: tuple[int, tuple[int, int, int], PlannedTrip] | None = None
            for team in range(len(problem.teams)):
                base, end = problem.teams[team].base, problem.teams[team].end_node
                spans = slots[team] if slots else [(f, la) for (t, f, la) in trips if t == team]
                for first, last in spans:
                    key = (team, first, last)
                    cur = list(trips[key].stops) if key in trips else []
                    nodes = [base] + [problem.stops[j].node for j in cur] + [end]
                    for pos in range(len(cur) + 1):
                        a, b = nodes[pos], nodes[pos + 1]
                        extra = int(tt[a, node] + tt[node, b] - tt[a, b])
                        if best is not None and extra >= best[0]:
                            continue
                        trip, out = time_trip(
                            problem, team, first, last, [*cur[:pos], i, *cur[pos:]]
                        )
                        if not out:
                            best = (extra, key, trip)
            if best is not None:
                trips[best[1]] = best[2]
            else:
                log.info("stop %d (%s) could not be re-inserted: dropped", i, problem.stop_name(i))
    kept = [
        t
        for t in trips.values()
        if t.stops or problem.teams[t.team].end_node != problem.teams[t.team].base
    ]  # a team that ends elsewhere makes its trip even without stops
    return kept, left, cut_short
