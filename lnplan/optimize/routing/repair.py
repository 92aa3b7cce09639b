"""Time the engine's stop orders exactly and re-insert, greedily, the stops that no longer fit.

The OR-Tools model approximates the night rule (see :mod:`~lnplan.optimize.routing.ortools_engine`),
so its orders are re-timed by :mod:`~lnplan.optimize.routing.schedule`; a stop that no longer fits
its trip is tried at every position of every trip slot, cheapest extra drive first
(:func:`insert_stops`). The repair keeps a deadline: when it passes, the remaining stops stay out
and the caller says the search was cut short.

The same insertion, from empty trips and the most valuable stops first, builds a whole plan that
is exactly timed from the start (:func:`greedy_plan`): the multi-day search starts from it.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence

from lnplan.optimize.routing.calendar import team_trip_windows
from lnplan.optimize.routing.model import PlannedTrip, RoutingProblem, StopOrder, Team
from lnplan.optimize.routing.schedule import TripTimer, time_lodging_trip, time_trip

__all__ = ["greedy_plan", "insert_stops", "insertion_key", "time_and_repair"]

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
        cal = problem.calendar
        # fixed blocks: every block of every team; free-length trips: the trips made so far
        free = cal.free_length_trips
        order = sorted(left, key=lambda i: -problem.stops[i].demand)
        out, cut_short = insert_stops(problem, trips, order, open_trips=not free, deadline=deadline)
        if out:
            log.info("%d stop(s) could not be re-inserted: dropped", len(out))
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


Key = tuple[int, int, int]  # (team, first day, last day) of a trip


def _trip_load(
    problem: RoutingProblem, member: Team, stops: tuple[int, ...]
) -> tuple[int, int, list[int]]:
    """A trip's demand, its drives plus services (seconds) and its places in order."""
    tt = problem.travel_time_s
    nodes = [member.base] + [problem.stops[j].node for j in stops] + [member.end_node]
    busy = sum(int(tt[a, b]) for a, b in itertools.pairwise(nodes))
    busy += sum(problem.stops[j].service_s for j in stops)
    return sum(problem.stops[j].demand for j in stops), busy, nodes


def insert_stops(
    problem: RoutingProblem,
    trips: dict[Key, PlannedTrip],
    stops: Sequence[int],
    *,
    open_trips: bool = False,
    deadline: float | None = None,
) -> tuple[list[int], bool]:
    """Insert ``stops`` one by one, each where its extra drive is smallest and its trip still
    times exactly (:class:`~lnplan.optimize.routing.schedule.TripTimer`) within the team's
    capacity; ties go to the first team, trip and position.

    A stop may go into any trip of ``trips`` (updated in place) and, with ``open_trips``, into
    the not yet used fixed trip windows of every team (:func:`team_trip_windows`: the calendar's
    blocks cut at the team's blocked days). A stop held to a trip (``problem.keep_trip``) goes
    only into that team's trips inside that block. Returns the stops that fit nowhere, and
    whether ``deadline`` (a ``time.perf_counter()`` moment) stopped the insertions (the stops not
    tried are among those returned).
    """
    tt = problem.travel_time_s
    w = problem.calendar.work_per_day_s
    timer = TripTimer(problem)
    cal = problem.calendar
    windows = {
        k: team_trip_windows(cal, member.blocked_days) if open_trips else []
        for k, member in enumerate(problem.teams)
    }
    # keep_trip names a block on fixed trip blocks (on free-length trips only its team holds here)
    blocks = [] if cal.free_length_trips else cal.trip_slots()
    out: list[int] = []
    # per trip, as long as its stops are these: load, drives plus services, places in order
    made_of: dict[Key, tuple[tuple[int, ...], int, int, list[int]]] = {}
    prefix: dict[Key, tuple[tuple[int, ...], list[tuple[int, int]]]] = {}  # states after each
    for n, i in enumerate(stops):
        if deadline is not None and time.perf_counter() > deadline:
            log.info("repair reached the time limit; stop %d and later ones stay out", i)
            return [*out, *stops[n:]], True
        node, demand = problem.stops[i].node, problem.stops[i].demand
        # every position of every trip, cheapest extra drive first (ties: in this order);
        # the first one where the whole trip still times is the best
        tried: list[tuple[int, int, Key, int]] = []
        held = problem.keep_trip[i] if problem.keep_trip else None
        for team, member in enumerate(problem.teams):
            if held is not None and held[0] != team:
                continue
            made = [(f, la) for (t, f, la) in trips if t == team]
            spans = dict.fromkeys([*windows[team], *made])
            for first, last in spans:
                if held is not None and 0 <= held[1] < len(blocks):
                    a, b = blocks[held[1]]
                    if first > b or last < a:
                        continue
                key = (team, first, last)
                cur = trips[key].stops if key in trips else ()
                if key not in made_of or made_of[key][0] is not cur:
                    made_of[key] = (cur, *_trip_load(problem, member, cur))
                _, load, busy, nodes = made_of[key]
                if member.capacity is not None and demand + load > member.capacity:
                    continue
                # the drives and services of the trip with the stop must fit its working time:
                # a cheap necessary test that spares the exact one where a trip is full
                room = (last - first + 1) * w - busy - problem.stops[i].service_s
                for pos in range(len(cur) + 1):
                    a, b = nodes[pos], nodes[pos + 1]
                    extra = int(tt[a, node] + tt[node, b] - tt[a, b])
                    if extra <= room:
                        tried.append((extra, len(tried), key, pos))
        tried.sort()
        for _, _, key, pos in tried:
            team, first, last = key
            cur = trips[key].stops if key in trips else ()
            if key not in prefix or prefix[key][0] is not cur:
                prefix[key] = (cur, _prefix_states(timer, problem, key, cur))
            if _fits(timer, problem, team, (last + 1) * w, prefix[key][1][pos], [i, *cur[pos:]]):
                trip, left = timer.time(team, first, last, [*cur[:pos], i, *cur[pos:]])
                if not left:  # always so: the same rule timed the same order
                    trips[key] = trip
                    break
        else:
            out.append(i)
            log.debug("stop %d (%s) fits in no trip", i, problem.stop_name(i))
    return out, False


def insertion_key(problem: RoutingProblem, i: int) -> tuple[int, float, int]:
    """Order of insertion: the stops that must be visited first, then by drop penalty per second
    on site (the most valuable visits first), ties by stop index."""
    stop = problem.stops[i]
    if stop.drop_penalty is None:
        return (0, 0.0, i)
    return (1, -stop.drop_penalty / max(stop.service_s, 1), i)


def greedy_plan(problem: RoutingProblem) -> list[PlannedTrip]:
    """A plan built by :func:`insert_stops` alone, exactly timed: the stops that must be visited
    first, then by drop penalty per second on site (the most valuable visits first).

    Trips are the calendar's fixed trip slots. Stops that fit nowhere are left out. Free-length
    trips and lodging places are not covered (an empty plan): a trip's days there depend on the
    trips before it, which one pass of insertions cannot choose well.
    """
    if problem.lodging or problem.calendar.free_length_trips:
        return []
    trips: dict[Key, PlannedTrip] = {}
    order = sorted(range(len(problem.stops)), key=lambda i: insertion_key(problem, i))
    insert_stops(problem, trips, order, open_trips=True)
    return [trips[k] for k in sorted(trips) if trips[k].stops]
