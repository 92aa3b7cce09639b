"""Build the routing problem of a screening campaign, splitting large sites into visits.

A site with ``c`` children needs ``setup_s + c * per_child_s`` on site. One visit must fit, together
with the drive into it, in one working day (``Calendar.work_per_day_s``: the day without lunch;
lunch pauses the screening). The drive counted is the shortest one into the site from any place a
team can sleep (a base, or another site on multi-day trips; for one-day trips, the round trip from
the nearest base). A site with more children than one visit-day holds is split here, in the
model-building step, into ``k = ceil(c / max_per_visit)`` visit-days of near-equal size (sizes
differ by at most one child) at the same place; each visit-day pays the set-up time. The visit-days
of one site are separate stops (the team typically stays overnight on site between them).

Every visit may be dropped at a penalty of ``penalty_per_child_s`` seconds per child, so when the
horizon is too short the plan screens as many children as it can and reports who is left. The
default penalty is ``2 * max(travel_time_s) + 1`` per child, more than any detour a visit can cause,
so a visit is dropped only when it cannot be fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lnplan.errors import InfeasibleError, InputError
from lnplan.optimize.routing.model import Calendar, RoutingProblem, Stop, Team
from lnplan.optimize.routing.validate import reach_s, unreachable_message, validate_calendar

__all__ = ["ScreeningSite", "build_screening_problem", "split_children"]


@dataclass(frozen=True)
class ScreeningSite:
    """A township or county hospital where children are screened."""

    node: int
    children: int
    name: str = ""
    time_windows_s: tuple[tuple[int, int], ...] = ()
    blocked_days: tuple[int, ...] = ()


def split_children(children: int, max_per_visit: int) -> list[int]:
    """Split ``children`` into the fewest near-equal visits of at most ``max_per_visit``."""
    if children <= 0:
        return []
    k = math.ceil(children / max_per_visit)
    q, r = divmod(children, k)
    return [q + 1] * r + [q] * (k - r)


def build_screening_problem(
    travel_time_s: npt.NDArray[np.int64],
    distance_km: npt.NDArray[np.float64],
    sites: Sequence[ScreeningSite],
    team_bases: Sequence[int],
    *,
    calendar: Calendar | None = None,
    setup_s: int = 1800,
    per_child_s: int = 300,
    penalty_per_child_s: int | None = None,
    team_names: Sequence[str] = (),
    node_names: Sequence[str] = (),
    balance_weight: float = 0.0,
) -> RoutingProblem:
    """Make the routing problem of a screening campaign.

    Parameters
    ----------
    travel_time_s, distance_km
        Matrices over all places (bases and sites).
    sites
        The sites with their children; sites with no children get no visit.
    team_bases
        One base node per team.
    calendar
        Working days, lunch, trip length and horizon.
    setup_s, per_child_s
        Set-up time per visit and screening time per child.
    penalty_per_child_s
        Drop penalty per child not screened; default ``2 * max(travel_time_s) + 1``.
    team_names, node_names
        Labels.
    balance_weight
        Weight of the busiest trip's working time in the objective (0: no balancing).

    Raises
    ------
    InputError
        Zero teams, negative numbers, bad node indices.
    InfeasibleError
        A site that cannot be reached within one working day from any place a team can sleep.
    """
    cal = calendar or Calendar()
    validate_calendar(cal)
    tt = np.asarray(travel_time_s)
    n = tt.shape[0] if tt.ndim == 2 else 0
    if len(team_bases) == 0:
        raise InputError("there are zero teams; give at least one team with a base")
    if setup_s < 0 or per_child_s <= 0:
        raise InputError(f"setup_s must be >= 0 and per_child_s > 0, got {setup_s}, {per_child_s}")
    for k, b in enumerate(team_bases):
        if not 0 <= b < n:
            raise InputError(f"team {k}: base node {b} is not in 0..{n - 1}")
    for site in sites:
        if not 0 <= site.node < n:
            raise InputError(f"site {site.name or site.node}: node {site.node} not in 0..{n - 1}")
        if site.children < 0:
            raise InputError(f"site {site.name or site.node}: children {site.children} < 0")
    if penalty_per_child_s is None:
        penalty_per_child_s = 2 * int(tt.max(initial=0)) + 1
    bases = sorted(set(team_bases))
    block = cal.work_per_day_s
    stops: list[Stop] = []
    for site in sites:
        if site.children == 0:
            continue
        label = site.name or (node_names[site.node] if site.node < len(node_names) else "")
        label = label or f"node {site.node}"
        others = [s.node for s in sites if s.node != site.node and s.children]
        day_trips = cal.trip_max_days == 1
        reach, origin = reach_s(tt, site.node, bases, others, day_trips=day_trips)
        room = block - reach - setup_s
        max_children = room // per_child_s
        if max_children < 1:
            raise InfeasibleError(
                unreachable_message(
                    label, reach, node_names[origin] if origin < len(node_names) else
                    f"node {origin}", setup_s + per_child_s, block, day_trips=day_trips,
                )
                + f" (set-up {setup_s / 60:.0f} min plus one child's {per_child_s / 60:.0f} min)"
            )  # fmt: skip
        parts = split_children(site.children, max_children)
        for j, c in enumerate(parts):
            stops.append(
                Stop(
                    node=site.node,
                    demand=c,
                    service_s=setup_s + c * per_child_s,
                    time_windows_s=site.time_windows_s,
                    blocked_days=site.blocked_days,
                    drop_penalty=c * penalty_per_child_s,
                    name=label if len(parts) == 1 else f"{label} ({j + 1}/{len(parts)})",
                    site=label,
                )
            )
    teams = tuple(
        Team(base=int(b), name=team_names[k] if k < len(team_names) else f"team {k + 1}")
        for k, b in enumerate(team_bases)
    )
    return RoutingProblem(
        travel_time_s=tt.astype(np.int64),
        distance_km=np.asarray(distance_km, dtype=np.float64),
        stops=tuple(stops),
        teams=teams,
        calendar=cal,
        balance_weight=balance_weight,
        node_names=tuple(node_names),
    )
