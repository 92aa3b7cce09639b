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
