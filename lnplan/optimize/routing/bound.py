"""A cheap proven lower bound on the routing objective (travel time plus drop penalties).

Every visited stop costs at least the shortest drive into it (from any other place of the problem)
and takes its service time; every stop left out costs its drop penalty. Relaxing the routes away,
the plan is a choice of stops to serve under two resources that no plan can exceed:

- working time: every team works at most ``horizon_days`` working days (the last day's limit
  included), each visit uses its service time plus its cheapest drive in;
- load: a team with a capacity carries at most ``capacity`` per trip slot.

The best choice of the relaxation (a fractional knapsack, solved greedily by penalty per unit of
the resource) gives a lower bound: ``sum(min drive in of required stops) + (total penalty - the
largest penalty the resource allows to serve)``. It proves the objective optimal when every stop
fits (the penalty part is 0) and the drives in are all that is driven, which happens only on
tiny instances; otherwise it still bounds how many children (prize) could be served at all.
"""

from __future__ import annotations

import math

import numpy as np

from lnplan.optimize.routing.model import RoutingProblem

__all__ = ["PROOF", "objective_bound"]

PROOF = "working-time and load relaxation (fractional knapsack)"


def _fractional(values: list[float], weights: list[float], room: float) -> float:
    """Largest total value of items (fractions allowed) whose weight fits in ``room``."""
    if room <= 0:
        return sum(v for v, w in zip(values, weights, strict=True) if w <= 0)
    got = 0.0
    order = sorted(
        range(len(values)),
        key=lambda k: -(math.inf if weights[k] <= 0 else values[k] / weights[k]),
    )
    for k in order:
        if weights[k] <= room:
            got += values[k]
            room -= max(weights[k], 0.0)
        else:
            got += values[k] * room / weights[k]
            break
    return got


def objective_bound(problem: RoutingProblem) -> float:
    """A proven lower bound on the objective of any feasible plan of ``problem``."""
    tt = problem.travel_time_s.astype(np.float64)
    n = len(problem.stops)
    if n == 0:
        return 0.0
    sources = {t.base for t in problem.teams} | set(problem.lodging)
    sources |= {s.node for s in problem.stops}
    count: dict[int, int] = {}
    for s in problem.stops:
        count[s.node] = count.get(s.node, 0) + 1
    min_in = []
    for s in problem.stops:
        if count[s.node] > 1 or s.node in {t.base for t in problem.teams} | set(problem.lodging):
            min_in.append(0.0)  # another visit (or a base) at the same place: no drive needed
            continue
        rows = [p for p in sources if p != s.node]
        min_in.append(float(tt[rows, s.node].min()) if rows else 0.0)
    cal = problem.calendar
    day_work = [cal.work_on_day_s(d) for d in range(cal.horizon_days)]
    time_room = float(len(problem.teams) * sum(day_work))
    required = [k for k, s in enumerate(problem.stops) if s.drop_penalty is None]
    optional = [k for k, s in enumerate(problem.stops) if s.drop_penalty is not None]
    base_cost = sum(min_in[k] for k in required)
    if not optional:
        return base_cost
    time_room -= sum(problem.stops[k].service_s + min_in[k] for k in required)
    values = [float(problem.stops[k].drop_penalty or 0) for k in optional]
    served = _fractional(
        values, [problem.stops[k].service_s + min_in[k] for k in optional], time_room
    )
    caps = [t.capacity for t in problem.teams]
    if all(c is not None for c in caps):
        slots = cal.max_trips()
        load_room = float(slots * sum(c for c in caps if c is not None))
        load_room -= sum(problem.stops[k].demand for k in required)
        served = min(
            served,
            _fractional(values, [float(problem.stops[k].demand) for k in optional], load_room),
        )
    return base_cost + max(0.0, sum(values) - served)
