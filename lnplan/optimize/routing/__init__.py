"""Team routing: multi-day screening tours with overnight stays, and the classic CVRP/VRPTW.

One engine-agnostic model (:class:`RoutingProblem`), solved by OR-Tools routing (everything,
including multi-day trips) or by PyVRP (the one-day special cases it can express, CVRP and VRPTW,
where its hybrid genetic search is much stronger). Engines choose the order of the stops; the times
are set by an exact scheduler (:mod:`~lnplan.optimize.routing.schedule`), and every plan passes an
independent feasibility check (:func:`check_trips`) before it is returned. Every result names its
engine.

Model, in short (details in :mod:`~lnplan.optimize.routing.model` and the engine modules):

- variables: for each team and trip slot of ``trip_max_days`` working days, an ordered list of
  stops with service-start times (seconds on one time axis since 00:00 of working day 0);
- objective: total travel time (s) + drop penalties of stops left out (+ ``balance_weight`` times
  the busiest trip's working time);
- constraints: service and driving inside working days (``day_start_s``..``day_end_s``; the fixed
  lunch break pauses whatever is going on), no night driving, the team sleeps where its day ends
  and is back at base by the end of the trip, service-start windows, blocked days, trip capacity,
  every stop without a drop penalty visited.

Optional extensions of the same model: a team may end its trips at another place than its base
(``Team.end``); ``RoutingProblem.lodging`` lists the only places where teams may spend nights
(each day then ends with the drive there; the OR-Tools engine models this exactly); and
``Calendar.day_limits_s`` shortens given days. The Orienteering Problem with Hotel Selection is
this model with lodging places (see :mod:`lnplan.optimize.vrp_instances`).

Where to look:

- ``model.py`` the problem and result dataclasses; ``calendar.py`` the three clocks and when a
  visit may start; ``validate.py`` input checks and the reach rule;
- ``solve.py`` orchestration only: choose the engine, run it, check, build the result;
- ``ortools_engine.py`` the OR-Tools model, its rounds (night leads, night places);
  ``pyvrp_engine.py`` the one-day PyVRP path;
- ``schedule.py`` exact timing of an order; ``repair.py`` re-insertion with a deadline, and the
  greedy plan multi-day searches start from;
- ``check.py`` the independent checker and the objective recomputed from the trips;
  ``bound.py`` the proven lower bound; ``assemble.py`` the result with the contract's fields.

Large screening sites are split into visits in :func:`build_screening_problem`.
"""

from lnplan.optimize.routing.build import (
    ScreeningSite,
    build_screening_problem,
    split_children,
)
from lnplan.optimize.routing.check import SolutionCheckError, check_trips
from lnplan.optimize.routing.model import (
    Calendar,
    PlannedTrip,
    RoutingProblem,
    RoutingResult,
    SolveParams,
    Stop,
    Team,
    TeamDay,
    Trip,
    Visit,
)
from lnplan.optimize.routing.solve import ENGINES, solve_routing
from lnplan.optimize.routing.validate import validate_problem

__all__ = [
    "ENGINES",
    "Calendar",
    "PlannedTrip",
    "RoutingProblem",
    "RoutingResult",
    "ScreeningSite",
    "SolutionCheckError",
    "SolveParams",
    "Stop",
    "Team",
    "TeamDay",
    "Trip",
    "Visit",
    "build_screening_problem",
    "check_trips",
    "solve_routing",
    "split_children",
    "validate_problem",
]
