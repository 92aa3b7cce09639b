"""The routing problem and its result, as frozen dataclasses (engine-agnostic).

Time is one integer axis in seconds since 00:00 of working day 0 of the campaign; working day ``d``
covers ``[d * day_length_s + day_start_s, d * day_length_s + day_end_s]``. Working days are
consecutive on this axis (weekends and holidays are simply not days of the horizon).

A *team* (vehicle) is based at a node. The horizon is cut into consecutive *trip slots* of
``trip_max_days`` working days; in each slot a team may make one trip that leaves its base, visits
stops, sleeps where each day ends (at the last stop of the day, in the field) and is back at base by
the end of the slot's last day. A trip may be shorter than its slot.

The engines work on the *work clock* (see :class:`Calendar`), where lunch and nights vanish.

The classic benchmark problems are the same model with one working day: CVRP (capacity, no time
windows) and VRPTW (capacity and one service-start window per stop); see
:mod:`lnplan.optimize.vrp_instances`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lnplan.optimize.routing.calendar import DAY_S, Calendar, allowed_start_intervals

__all__ = [
    "DAY_S",
    "Calendar",
    "ImprovementOutcome",
    "PlannedTrip",
    "RoutingProblem",
    "RoutingResult",
    "SolveParams",
    "Stop",
    "StopOrder",
    "Team",
    "TeamDay",
    "Trip",
    "Visit",
    "allowed_start_intervals",
]


@dataclass(frozen=True)
class Stop:
    """One visit to make: a place, its demand, its service time and when it may happen.

    Parameters
    ----------
    node
        Row/column of the place in the travel-time and distance matrices.
    demand
        Units delivered or screened (children); counts against a team's trip capacity.
    service_s
        Time on site (set-up plus screening), seconds; must fit inside one working day.
    time_windows_s
        Allowed service-start windows ``(earliest, latest)`` on the absolute time axis. Empty:
        any working time.
    blocked_days
        Working days on which the stop cannot be visited.
    drop_penalty
        Cost of leaving the stop out (same unit as travel time: seconds); ``None``: it must be
        visited.
    name
        Label for tables.
    site
        The place this visit belongs to; visits made by splitting one large stop share it.
    """

    node: int
    demand: int = 0
    service_s: int = 0
    time_windows_s: tuple[tuple[int, int], ...] = ()
    blocked_days: tuple[int, ...] = ()
    drop_penalty: int | None = None
    name: str = ""
    site: str = ""


@dataclass(frozen=True)
class Team:
    """A team (vehicle) with its base node and an optional capacity per trip.

    ``end`` is the place where each of its trips ends (``None``: back at its base), e.g. a team
    that assembles at one hospital and finishes at another. ``blocked_days`` are working days of
    the horizon on which the team does not work (leave, another duty): none of its trips
    includes them (it is back at base before and leaves after), and they count as days off the
    road between two trips (see :func:`~lnplan.optimize.routing.calendar.team_trip_windows`).
    """

    base: int
    name: str = ""
    capacity: int | None = None
    end: int | None = None
    blocked_days: tuple[int, ...] = ()

    @property
    def end_node(self) -> int:
        """Where the team's trips end."""
        return self.base if self.end is None else self.end


@dataclass(frozen=True)
class RoutingProblem:
    """A routing problem: places, stops, teams and the calendar.

    The objective is the total travel time (seconds) plus the drop penalties of stops left out,
    plus ``balance_weight`` times the longest trip's working time (driving plus service) when
    ``balance_weight > 0``.

    ``lodging`` lists the places where a team may spend a night (hotels, guest houses). Empty (the
    screening default): a team sleeps where its day ends, at its last stop of the day. Given: each
    day of a trip ends with a drive to a lodging place (or the team's base or end), where the next
    day begins; the trips then carry these places in ``PlannedTrip.nights``.

    ``keep_trip`` (optional, one entry per stop or empty): ``(team, trip)`` holds the stop to
    that team's trip or leaves it out (used to keep a baseline plan, :mod:`lnplan.stability`);
    ``trip`` is the index of the trip slot (:meth:`Calendar.trip_slots`), or on free-length
    calendars the team's ``trip``-th possible trip. ``None``: any team and trip. Only the
    OR-Tools engine holds stops to trips.
    """

    travel_time_s: npt.NDArray[np.int64]
    distance_km: npt.NDArray[np.float64]
    stops: tuple[Stop, ...]
    teams: tuple[Team, ...]
    calendar: Calendar = field(default_factory=Calendar)
    balance_weight: float = 0.0
    node_names: tuple[str, ...] = ()
    lodging: tuple[int, ...] = ()
    keep_trip: tuple[tuple[int, int] | None, ...] = ()

    @property
    def n_nodes(self) -> int:
        """Number of places in the matrices."""
        return int(self.travel_time_s.shape[0])

    def node_name(self, node: int) -> str:
        """Label of a node."""
        if node < len(self.node_names):
            return self.node_names[node]
        return f"node {node}"

    def stop_name(self, stop: int) -> str:
        """Label of a stop."""
        s = self.stops[stop]
        return s.name or self.node_name(s.node)

    @property
    def is_single_day(self) -> bool:
        """True for the classic special case: one working day."""
        return self.calendar.horizon_days == 1


RUIN_ITERATIONS = 1000  # default work limit of the ruin-and-recreate step (see SolveParams)


@dataclass(frozen=True)
class SolveParams:
    """How to solve.

    Parameters
    ----------
    time_limit_s
        Wall-clock limit of the search.
    seed
        Random seed (PyVRP); OR-Tools' search is deterministic for a given ``max_iterations``.
    max_iterations
        Stop after this many iterations (PyVRP) or accepted solutions (OR-Tools) instead of at the
        time limit, for reproducible runs. ``None``: run until ``time_limit_s``.
    engine
        ``"auto"`` (PyVRP for one-day problems it can express, else OR-Tools), ``"pyvrp"``,
        ``"ortools"`` (tuned: parallel cheapest insertion and guided local search) or
        ``"ortools-default"`` (OR-Tools' default search parameters, for comparison).
    greedy_start
        Multi-day problems in fixed trip blocks without lodging places, tuned OR-Tools: first
        build an exactly timed plan by cheapest insertion
        (:func:`~lnplan.optimize.routing.repair.greedy_plan`), which competes as a plan and from
        which the search starts (instead of OR-Tools' own first solution, the slow part of the
        search on large problems).
    local_search_iterations
        Problems with lodging places (stops without time windows): perturbations of the
        prize-collecting local search (:mod:`lnplan.optimize.routing.local_search`) run on the
        OR-Tools answer, a work limit (repeatable for a ``seed``). ``None``: 2,000 when
        ``max_iterations`` is set, else until ``time_limit_s``; ``0``: no local search.
    ruin_iterations
        Multi-day problems in fixed trip blocks without lodging places, tuned OR-Tools with
        ``greedy_start``: ruins of the ruin-and-recreate step
        (:func:`~lnplan.optimize.routing.ruin.ruin_and_recreate`) run on the greedy plan before
        the OR-Tools rounds, a work limit (repeatable for a ``seed``; default 1,000, about 12 s on
        the demo's 931 townships and 8 teams); ``0``: no such step.
    """

    time_limit_s: float = 10.0
    seed: int = 0
    max_iterations: int | None = None
    engine: str = "auto"
    greedy_start: bool = True
    local_search_iterations: int | None = None
    ruin_iterations: int = RUIN_ITERATIONS


@dataclass(frozen=True)
class StopOrder:
    """The order of the stops of one trip, as an engine returns it (times are set afterwards).

    On problems with ``lodging`` the engine also says where each night is spent (``nights``) and
    on which day each stop is served (``days``, one per stop).
    """

    team: int
    first_day: int
    last_day: int
    stops: tuple[int, ...]
    nights: tuple[int, ...] = ()
    days: tuple[int, ...] = ()


@dataclass(frozen=True)
class PlannedTrip:
    """One timed trip before checking: the ordered stops, their service starts and the return to
    base, all on the wall clock (seconds since day 0, 00:00).

    ``nights`` (problems with ``lodging`` only): the place of each night of the trip, one per day
    from ``first_day`` to ``last_day - 1``; each day ends with the drive there.
    """

    team: int
    first_day: int
    last_day: int
    stops: tuple[int, ...]
    start_s: tuple[int, ...]
    return_s: int
    nights: tuple[int, ...] = ()


@dataclass(frozen=True)
class Visit:
    """One visit of a trip, with times on the absolute axis (seconds since day 0, 00:00)."""

    stop: int
    name: str
    node: int
    arrival_s: int
    start_s: int
    end_s: int
    departure_s: int
    demand: int


@dataclass(frozen=True)
class TeamDay:
    """What a team does on one working day of a trip."""

    team: int
    day: int
    visits: tuple[Visit, ...]
    children: int
    driving_s: int
    driving_km: float
    overnight_node: int
    overnight_name: str

    @property
    def driving_h(self) -> float:
        """Hours driven that day."""
        return self.driving_s / 3600.0


@dataclass(frozen=True)
class Trip:
    """One checked trip: base, visits in order, per-day breakdown and totals."""

    team: int
    team_name: str
    base_node: int
    depart_s: int
    return_s: int
    visits: tuple[Visit, ...]
    days: tuple[TeamDay, ...]
    demand: int
    travel_time_s: int
    distance_km: float


@dataclass(frozen=True)
class RoutingResult:
    """A checked solution, following the result contract of :mod:`lnplan.optimize.result`.

    ``objective`` is in the model's unit: seconds of travel plus the penalties of dropped stops
    (the balance term, if any, is not included), recomputed from the returned trips by
    :func:`~lnplan.optimize.routing.check.plan_objective`, which shares no code with the engines.
    ``bound`` is a proven lower bound on that objective (``-inf`` or ``0`` when nothing cheap is
    known; see :func:`~lnplan.optimize.routing.bound.objective_bound`) and ``gap`` the proven gap
    of the two; ``proof`` names the bound. ``status`` is ``"optimal"`` only when the bound meets
    the objective, else ``"feasible"`` (heuristic engines prove no optimality).
    ``rules_checked`` is true only after :func:`~lnplan.optimize.routing.check.check_trips` ran
    and passed on the trips. ``travel_time_s`` and ``distance_km`` are the totals over all trips.

    ``work`` records the search effort (solutions or iterations, rounds); ``time_limit_hit`` is
    true when the wall-clock safety cap (``SolveParams.time_limit_s``) stopped a search or the
    repair before its work limit, and ``warnings`` then says so ("search cut short: ...").
    """

    engine: str
    status: str
    objective: float
    travel_time_s: int
    distance_km: float
    runtime_s: float
    trips: tuple[Trip, ...]
    dropped: tuple[int, ...]
    demand_served: int
    demand_dropped: int
    rules_checked: bool
    bound: float = -math.inf
    gap: float = math.inf
    proof: str = ""
    work: Mapping[str, float] = field(default_factory=dict)
    time_limit_hit: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def checked(self) -> bool:
        """Alias of ``rules_checked`` (the name used before the result contract)."""
        return self.rules_checked

    @property
    def n_routes(self) -> int:
        """Number of non-empty trips."""
        return len(self.trips)


@dataclass(frozen=True)
class ImprovementOutcome:
    """What an improvement step on a plan returns (the lodging local search, ruin-and-recreate):
    the trips (timed), the objective before and after, and its work.

    ``stopped_by`` is ``"iterations"`` (the work limit), ``"deadline"`` (the wall-clock cap) or
    ``"not applicable"`` (the step cannot work on the problem; the trips are returned as given).
    """

    trips: tuple[PlannedTrip, ...]
    objective_before: float
    objective_after: float
    iterations: int
    improvements: int
    stopped_by: str
