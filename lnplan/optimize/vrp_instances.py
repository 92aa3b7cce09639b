"""Readers for classic vehicle-routing instances and their solutions.

- Solomon / Gehring-Homberger VRPTW text files. Objective convention (CVRPLIB/DIMACS): total
  distance with Euclidean distances truncated to one decimal, vehicles unrestricted; travel time
  equals distance. Internally every distance and time is multiplied by 10 so that it is an exact
  integer (``floor(10 * d)`` computed with integer square roots).
- VRPLIB ``.vrp`` CVRP files with ``EDGE_WEIGHT_TYPE: EUC_2D``, distances rounded to the nearest
  integer (TSPLIB ``nint``), scale 1.
- ``.sol`` files (``Route #k: i j ...`` and ``Cost c``) where ``i`` numbers customers 1..n in file
  order after the depot, for both formats.

:func:`to_routing_problem` turns an instance into the one-day special case of
:class:`lnplan.optimize.routing.RoutingProblem`, so the benchmarks run the same code as the
planners.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lnplan.errors import InputError
from lnplan.optimize.routing.model import (
    Calendar,
    RoutingProblem,
    RoutingResult,
    SolveParams,
    Stop,
    Team,
    TeamDay,
)

__all__ = [
    "OPHS_SCALE",
    "OPHS_TOLERANCE",
    "OphsInstance",
    "ToptwInstance",
    "VrpInstance",
    "VrpSolution",
    "check_ophs_tour",
    "check_toptw_routes",
    "evaluate_routes",
    "ophs_days_of",
    "ophs_to_routing_problem",
    "read_ophs",
    "read_solomon",
    "read_solution",
    "read_toptw",
    "read_vrplib",
    "solve_orienteering",
    "to_routing_problem",
    "toptw_routes_of",
    "toptw_to_routing_problem",
]


@dataclass(frozen=True)
class VrpInstance:
    """A classic instance; node 0 is the depot, times and costs are integers in ``1/scale`` units.

    ``ready``, ``due`` and ``service`` are ``None`` for CVRP.
    """

    name: str
    kind: str  # "vrptw" or "cvrp"
    coords: npt.NDArray[np.float64]
    demand: npt.NDArray[np.int64]
    capacity: int
    n_vehicles: int
    cost: npt.NDArray[np.int64]
    scale: int
    ready: npt.NDArray[np.int64] | None = None
    due: npt.NDArray[np.int64] | None = None
    service: npt.NDArray[np.int64] | None = None

    @property
    def n_customers(self) -> int:
        """Customers (nodes other than the depot)."""
        return int(self.cost.shape[0]) - 1


@dataclass(frozen=True)
class VrpSolution:
    """Routes of customer numbers (1..n) and the stated cost, if any."""

    routes: tuple[tuple[int, ...], ...]
    cost: float | None


def _squared(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    diff = coords[:, None, :] - coords[None, :, :]
    return np.asarray((diff**2).sum(axis=2), dtype=np.float64)


def read_solomon(path: str | Path) -> VrpInstance:
    """Read a Solomon or Gehring-Homberger VRPTW file.

    Raises
    ------
    InputError
        The file is missing or does not follow the format (names the line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    lines = path.read_text().splitlines()
    name = lines[0].strip() if lines else path.stem
    n_vehicles = capacity = None
    rows: list[list[float]] = []
    for lineno, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if parts[0].upper() == "NUMBER" and lineno < len(lines):
            nums = lines[lineno].split()
            try:
                n_vehicles, capacity = int(nums[0]), int(nums[1])
            except (IndexError, ValueError):
                raise InputError(
                    f"{path}, line {lineno + 1}: expected 'vehicles capacity', got {nums}"
                ) from None
            continue
        if len(parts) == 7 and all(re.fullmatch(r"-?\d+(\.\d+)?", p) for p in parts):
            rows.append([float(p) for p in parts])
    if n_vehicles is None or capacity is None:
        raise InputError(f"{path}: no 'VEHICLE / NUMBER CAPACITY' block; not a Solomon file")
    if len(rows) < 2:
        raise InputError(f"{path}: fewer than two customer rows (depot and one customer)")
    data = np.array(rows)
    if int(data[0, 0]) != 0:
        raise InputError(f"{path}: the first customer row must be the depot 0")
    coords = data[:, 1:3]
    sq = _squared(coords)
    # floor(10 * sqrt(sq)) exactly, for integer coordinates: isqrt(100 * sq)
    if np.all(coords == np.round(coords)):
        cost = np.vectorize(lambda v: math.isqrt(round(100 * v)), otypes=[np.int64])(sq)
    else:
        cost = np.floor(10 * np.sqrt(sq) + 1e-9).astype(np.int64)
    return VrpInstance(
        name=name,
        kind="vrptw",
        coords=coords,
        demand=data[:, 3].astype(np.int64),
        capacity=capacity,
        n_vehicles=n_vehicles,
        cost=cost,
        scale=10,
        ready=np.round(data[:, 4] * 10).astype(np.int64),
        due=np.round(data[:, 5] * 10).astype(np.int64),
        service=np.round(data[:, 6] * 10).astype(np.int64),
    )


def read_vrplib(path: str | Path) -> VrpInstance:
    """Read a VRPLIB CVRP file with EUC_2D coordinates (one depot).

    Raises
    ------
    InputError
        Missing file, missing sections, or an edge weight type other than EUC_2D.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    specs: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        s = line.strip()
        if not s or s == "EOF":
            continue
        if ":" in s and not s[0].isdigit() and not s.startswith("-"):
            key, value = s.split(":", 1)
            specs[key.strip().upper()] = value.strip()
            current = None
        elif s.upper().endswith("_SECTION"):
            current = s.upper()
            sections[current] = []
        elif current is not None:
            sections[current].append(s.split())
    ewt = specs.get("EDGE_WEIGHT_TYPE", "")
    if ewt != "EUC_2D":
        raise InputError(f"{path}: EDGE_WEIGHT_TYPE {ewt!r} is not supported; accepted: EUC_2D")
    for sec in ("NODE_COORD_SECTION", "DEMAND_SECTION"):
        if sec not in sections:
            raise InputError(f"{path}: missing {sec}")
    try:
        capacity = int(specs["CAPACITY"])
    except (KeyError, ValueError):
        raise InputError(f"{path}: missing or non-integer CAPACITY") from None
    coords = np.array([[float(r[1]), float(r[2])] for r in sections["NODE_COORD_SECTION"]])
    demand = np.array([int(r[1]) for r in sections["DEMAND_SECTION"]], dtype=np.int64)
    depots = [int(r[0]) for r in sections.get("DEPOT_SECTION", [["1"]]) if int(r[0]) > 0]
    if depots != [1]:
        raise InputError(f"{path}: only one depot, node 1, is supported; got {depots}")
    cost = np.floor(np.sqrt(_squared(coords)) + 0.5).astype(np.int64)
    k_min = math.ceil(int(demand.sum()) / capacity)
    n = len(demand) - 1
    return VrpInstance(
        name=specs.get("NAME", path.stem),
        kind="cvrp",
        coords=coords,
        demand=demand,
        capacity=capacity,
        n_vehicles=min(n, k_min + max(3, k_min // 4)),
        cost=cost,
        scale=1,
    )


def read_solution(path: str | Path) -> VrpSolution:
    """Read a ``.sol`` file of routes (customer numbers 1..n) and its ``Cost`` line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    routes: list[tuple[int, ...]] = []
    cost: float | None = None
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        s = line.strip()
        if s.lower().startswith("route"):
            _, _, rest = s.partition(":")
            try:
                routes.append(tuple(int(x) for x in rest.split()))
            except ValueError:
                raise InputError(f"{path}, line {lineno}: non-integer customer in {s!r}") from None
        elif s.lower().startswith("cost"):
            cost = float(s.split()[1])
    return VrpSolution(routes=tuple(routes), cost=cost)


def evaluate_routes(instance: VrpInstance, routes: list[list[int]] | tuple[tuple[int, ...], ...]):
    """Objective of routes (customer numbers) under the instance's convention.

    Returns
    -------
    float
        Total cost in the instance's unit (rounded to one decimal for Solomon).
    """
    total = 0
    for r in routes:
        nodes = [0, *r, 0]
        total += int(sum(instance.cost[a, b] for a, b in itertools.pairwise(nodes)))
    return round(total / instance.scale, 1)


def to_routing_problem(instance: VrpInstance) -> RoutingProblem:
    """The instance as the one-day special case of the routing model.

    Stop ``k`` is customer ``k + 1``; every stop must be visited; the fleet is
    ``instance.n_vehicles`` vehicles of the instance's capacity at node 0. For VRPTW the working day
    is the depot's window and each customer has its single service-start window.
    """
    n = instance.n_customers
    if instance.kind == "vrptw":
        assert instance.ready is not None and instance.due is not None
        assert instance.service is not None
        open_s, close_s = int(instance.ready[0]), int(instance.due[0])
        stops = tuple(
            Stop(
                node=k,
                demand=int(instance.demand[k]),
                service_s=int(instance.service[k]),
                time_windows_s=((int(instance.ready[k]), int(instance.due[k])),),
                name=str(k),
            )
            for k in range(1, n + 1)
        )
    else:
        span = int(instance.cost.max()) * (n + 1) + 1
        open_s, close_s = 0, span
        stops = tuple(
            Stop(node=k, demand=int(instance.demand[k]), name=str(k)) for k in range(1, n + 1)
        )
    cal = Calendar(
        horizon_days=1,
        trip_max_days=1,
        day_start_s=open_s,
        day_end_s=close_s,
        lunch_start_s=open_s,
        lunch_s=0,
        day_length_s=close_s + 1,
    )
    return RoutingProblem(
        travel_time_s=instance.cost.astype(np.int64),
        distance_km=instance.cost.astype(np.float64) / instance.scale,
        stops=stops,
        teams=tuple(
            Team(base=0, name=f"vehicle {v + 1}", capacity=instance.capacity)
            for v in range(instance.n_vehicles)
        ),
        calendar=cal,
    )


# --- multi-day and prize-collecting benchmarks: OPHS and TOPTW -----------------------------------

#: OPHS distances are real Euclidean numbers; the model uses integers of 1/OPHS_SCALE units,
#: rounded up, so that a day that fits in the model fits in exact arithmetic too.
OPHS_SCALE = 10_000

#: Day-length tolerance of the OPHS reference values (their solver accepted ``Td + 0.01``).
OPHS_TOLERANCE = 0.01


@dataclass(frozen=True)
class OphsInstance:
    """An Orienteering Problem with Hotel Selection instance.

    Row 0 of ``coords`` is the start hotel, row 1 the end hotel, rows ``2..n_hotels-1`` the extra
    hotels and the rest the customers with ``scores``. A tour has ``len(day_limits)`` days; day
    ``d`` starts at the hotel where day ``d - 1`` ended, ends at a hotel, and is at most
    ``day_limits[d]`` long; the whole tour at most ``tmax``.
    """

    name: str
    coords: npt.NDArray[np.float64]
    scores: npt.NDArray[np.int64]
    n_hotels: int
    tmax: float
    day_limits: tuple[float, ...]

    @property
    def n_days(self) -> int:
        """Days (trips) of the tour."""
        return len(self.day_limits)

    def distance(self, a: int, b: int) -> float:
        """Exact Euclidean distance between two rows."""
        return float(math.dist(self.coords[a], self.coords[b]))


def read_ophs(path: str | Path) -> OphsInstance:
    """Read an OPHS instance (``N H D``, ``Tmax``, ``T1 .. TD``, then ``x y score`` rows).

    Raises
    ------
    InputError
        Missing file or a file that does not follow the format (names what is wrong).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    tokens = [t for t in path.read_text().split() if not set(t) <= {"-"}]
    try:
        n, h, d = int(tokens[0]), int(tokens[1]), int(tokens[2])
        tmax = float(tokens[3])
        limits = tuple(float(x) for x in tokens[4 : 4 + d])
        rows = np.array([float(x) for x in tokens[4 + d :]], dtype=np.float64)
    except (IndexError, ValueError):
        raise InputError(
            f"{path}: expected 'N H D', 'Tmax', D day lengths and 'x y score' rows (OPHS format)"
        ) from None
    if d < 1 or len(limits) != d:
        raise InputError(f"{path}: {len(limits)} day lengths for D = {d} days")
    if rows.size != 3 * (n + h):
        raise InputError(
            f"{path}: expected {n + h} rows of 'x y score' (N + H = {n} + {h}), "
            f"got {rows.size / 3:g}"
        )
    table = rows.reshape(-1, 3)
    return OphsInstance(
        name=path.stem,
        coords=table[:, :2].copy(),
        scores=np.round(table[:, 2]).astype(np.int64),
        n_hotels=h + 2,
        tmax=tmax,
        day_limits=limits,
    )


def ophs_to_routing_problem(
    instance: OphsInstance, *, tolerance: float = OPHS_TOLERANCE
) -> RoutingProblem:
    """The OPHS instance as a multi-day routing problem with lodging places.

    One team based at the start hotel that ends at the end hotel; one trip of ``D`` days
    (``trip_max_days = horizon_days = D``); every hotel is a lodging place; the day limits are
    ``Td + tolerance`` (the reference convention); every customer is an optional stop whose drop
    penalty is its score times a factor larger than any tour's length, so the model maximises the
    score first and shortens the tour second. Stop ``k`` is row ``n_hotels + k``.
    """
    coords = instance.coords
    dist = np.sqrt(_squared(coords))
    travel = np.ceil(dist * OPHS_SCALE - 1e-9).astype(np.int64)
    limits = tuple(math.floor((t + tolerance) * OPHS_SCALE) for t in instance.day_limits)
    w = max(max(limits), 1)
    factor = sum(limits) + 1
    stops = tuple(
        Stop(node=k, drop_penalty=int(instance.scores[k]) * factor, name=str(k))
        for k in range(instance.n_hotels, len(coords))
    )
    cal = Calendar(
        horizon_days=instance.n_days,
        trip_max_days=instance.n_days,
        day_start_s=0,
        day_end_s=w,
        lunch_start_s=0,
        lunch_s=0,
        day_length_s=w + 1,
        day_limits_s=limits,
    )
    return RoutingProblem(
        travel_time_s=travel,
        distance_km=dist,
        stops=stops,
        teams=(Team(base=0, name="tour", end=1),),
        calendar=cal,
        node_names=tuple(
            f"hotel {k}" if k < instance.n_hotels else str(k) for k in range(len(coords))
        ),
        lodging=tuple(range(instance.n_hotels)),
    )


def check_ophs_tour(
    instance: OphsInstance, days: list[list[int]], *, tolerance: float = OPHS_TOLERANCE
) -> tuple[int, list[str]]:
    """Score of an OPHS tour and every broken rule, from the instance's rows alone.

    ``days[d]`` is the path of day ``d`` as rows, from its first hotel to its last. Rules: ``D``
    days; day 1 starts at the start hotel, the last day ends at the end hotel, every day ends at a
    hotel where the next begins; no customer twice; each day at most ``Td + tolerance`` long and
    the tour at most ``Tmax + tolerance`` (exact Euclidean lengths).
    """
    bad: list[str] = []
    if len(days) != instance.n_days:
        return 0, [f"{len(days)} days, expected {instance.n_days}"]
    seen: set[int] = set()
    total = 0.0
    score = 0
    for d, path in enumerate(days):
        if len(path) < 2:
            bad.append(f"day {d + 1}: a path needs a start and an end hotel")
            continue
        if path[0] >= instance.n_hotels or path[-1] >= instance.n_hotels:
            bad.append(f"day {d + 1}: starts or ends at a customer")
        want = 0 if d == 0 else days[d - 1][-1]
        if path[0] != want:
            bad.append(f"day {d + 1}: starts at {path[0]}, not where the last day ended ({want})")
        if d == instance.n_days - 1 and path[-1] != 1:
            bad.append(f"the last day ends at {path[-1]}, not at the end hotel 1")
        for node in path[1:-1]:
            if not instance.n_hotels <= node < len(instance.coords):
                bad.append(f"day {d + 1}: {node} is not a customer")
                continue
            if node in seen:
                bad.append(f"customer {node} visited twice")
            seen.add(node)
            score += int(instance.scores[node])
        length = sum(instance.distance(a, b) for a, b in itertools.pairwise(path))
        total += length
        if length > instance.day_limits[d] + tolerance:
            bad.append(f"day {d + 1}: length {length:.4f} > {instance.day_limits[d]} + {tolerance}")
    if total > instance.tmax + tolerance:
        bad.append(f"tour length {total:.4f} > Tmax {instance.tmax}")
    return score, bad


@dataclass(frozen=True)
class ToptwInstance:
    """A team orienteering instance with time windows (node 0 is the depot).

    Times and distances are integers in tenths (Euclidean truncated to one decimal); ``open`` and
    ``close`` are the service-start windows, ``close[0]`` the time budget of every route.
    """

    name: str
    coords: npt.NDArray[np.float64]
    cost: npt.NDArray[np.int64]
    service: npt.NDArray[np.int64]
    profit: npt.NDArray[np.int64]
    open: npt.NDArray[np.int64]
    close: npt.NDArray[np.int64]


def read_toptw(path: str | Path) -> ToptwInstance:
    """Read a TOPTW file (Montemanni & Gambardella format: ``i x y d S f a list O C`` rows).

    Raises
    ------
    InputError
        Missing file or a row that does not follow the format (names the line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    rows: list[list[float]] = []
    for lineno, line in enumerate(lines[2:], start=3):
        parts = line.split()
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise InputError(
                f"{path}, line {lineno}: non-numeric value in {line.strip()!r}"
            ) from None
        if len(values) < 9 or int(values[0]) != len(rows):
            raise InputError(
                f"{path}, line {lineno}: expected 'i x y d S f a list O C' for vertex {len(rows)}"
            )
        rows.append([values[1], values[2], values[3], values[4], values[-2], values[-1]])
    if len(rows) < 2:
        raise InputError(f"{path}: fewer than two vertices (depot and one customer)")
    data = np.array(rows)
    coords = data[:, :2]
    sq = _squared(coords)
    if np.all(coords == np.round(coords)):
        cost = np.vectorize(lambda v: math.isqrt(round(100 * v)), otypes=[np.int64])(sq)
    else:
        cost = np.floor(10 * np.sqrt(sq) + 1e-9).astype(np.int64)
    return ToptwInstance(
        name=path.stem,
        coords=coords,
        cost=cost,
        service=np.round(data[:, 2] * 10).astype(np.int64),
        profit=np.round(data[:, 3]).astype(np.int64),
        open=np.round(data[:, 4] * 10).astype(np.int64),
        close=np.round(data[:, 5] * 10).astype(np.int64),
    )


def toptw_to_routing_problem(instance: ToptwInstance, routes: int = 1) -> RoutingProblem:
    """The TOPTW instance as the one-day special case with optional stops.

    ``routes`` teams at the depot; the working day is the depot's window; every customer is an
    optional stop with its service time and its service-start window, whose drop penalty is its
    profit times a factor larger than any route's length (profit first, then shorter routes).
    """
    open_s, close_s = int(instance.open[0]), int(instance.close[0])
    factor = routes * (close_s - open_s) + 1
    stops = tuple(
        Stop(
            node=k,
            service_s=int(instance.service[k]),
            time_windows_s=((int(instance.open[k]), int(instance.close[k])),),
            drop_penalty=int(instance.profit[k]) * factor,
            name=str(k),
        )
        for k in range(1, len(instance.cost))
        if instance.open[k] <= instance.close[k]
    )
    cal = Calendar(
        horizon_days=1,
        trip_max_days=1,
        day_start_s=open_s,
        day_end_s=close_s,
        lunch_start_s=open_s,
        lunch_s=0,
        day_length_s=close_s + 1,
    )
    return RoutingProblem(
        travel_time_s=instance.cost.astype(np.int64),
        distance_km=instance.cost.astype(np.float64) / 10,
        stops=stops,
        teams=tuple(Team(base=0, name=f"route {v + 1}") for v in range(routes)),
        calendar=cal,
    )


def check_toptw_routes(
    instance: ToptwInstance, routes: list[list[int]], n_routes: int
) -> tuple[int, list[str]]:
    """Profit of TOPTW routes (customer numbers) and every broken rule, from the instance alone.

    Each route leaves the depot at its opening, serves customers in order (waiting for a window's
    opening is allowed; service starts by the window's close) and is back by the depot's close; at
    most ``n_routes`` routes; no customer twice.
    """
    bad: list[str] = []
    if len(routes) > n_routes:
        bad.append(f"{len(routes)} routes, at most {n_routes} allowed")
    seen: set[int] = set()
    profit = 0
    for r, route in enumerate(routes):
        t, here = int(instance.open[0]), 0
        for c in route:
            if not 1 <= c < len(instance.cost):
                bad.append(f"route {r + 1}: {c} is not a customer")
                continue
            if c in seen:
                bad.append(f"customer {c} visited twice")
            seen.add(c)
            start = max(t + int(instance.cost[here, c]), int(instance.open[c]))
            if start > instance.close[c]:
                bad.append(
                    f"route {r + 1}: customer {c} starts at {start / 10} > {instance.close[c] / 10}"
                )
            t, here = start + int(instance.service[c]), c
            profit += int(instance.profit[c])
        back = t + int(instance.cost[here, 0])
        if back > instance.close[0]:
            bad.append(f"route {r + 1}: back at {back / 10} > {instance.close[0] / 10}")
    return profit, bad


def ophs_days_of(instance: OphsInstance, result: RoutingResult) -> list[list[int]]:
    """The tour of a routing result as OPHS day paths (rows), hotel to hotel."""
    by_day: dict[int, TeamDay] = {d.day: d for t in result.trips for d in t.days}
    days: list[list[int]] = []
    here = 0
    for d in range(instance.n_days):
        if d in by_day:
            path = [here] + [v.node for v in by_day[d].visits] + [by_day[d].overnight_node]
        else:  # the team waits at its hotel, or has already reached the end hotel
            after = any(t.days and t.days[-1].day < d for t in result.trips)
            path = [here, 1 if after or d == instance.n_days - 1 else here]
        days.append(path)
        here = path[-1]
    return days


def toptw_routes_of(result: RoutingResult) -> list[list[int]]:
    """The routes of a routing result as TOPTW customer numbers."""
    return [[v.node for v in t.visits] for t in result.trips]


def solve_orienteering(
    path: str | Path, fmt: str, *, routes: int = 1, params: SolveParams | None = None
) -> dict[str, object]:
    """Solve an OPHS or TOPTW benchmark file with :func:`solve_routing` and re-check the answer.

    The answer is converted back to the benchmark's own terms and checked by
    :func:`check_ophs_tour` / :func:`check_toptw_routes`, which read only the instance. Returns
    the keys ``instance``, ``format``, ``objective`` (total score), ``status``, ``time_s``,
    ``engine``, ``rules_checked`` (the model's checker), ``benchmark_checked`` (the instance's
    checker found no broken rule), ``problems``, ``bound`` (score upper bound), ``work``,
    ``time_limit_hit`` and ``warnings``.
    """
    from lnplan.optimize.routing import solve_routing

    params = params or SolveParams()
    if fmt == "ophs":
        ophs = read_ophs(path)
        problem = ophs_to_routing_problem(ophs)
        name = ophs.name
        factor = sum(problem.calendar.day_limits_s) + 1
    elif fmt == "toptw":
        toptw = read_toptw(path)
        problem = toptw_to_routing_problem(toptw, routes)
        name = toptw.name
        factor = routes * (int(toptw.close[0]) - int(toptw.open[0])) + 1
    else:
        raise InputError(f"format {fmt!r} is not known; accepted: ophs, toptw")
    result = solve_routing(problem, params)
    if fmt == "ophs":
        score, problems = check_ophs_tour(ophs, ophs_days_of(ophs, result))
    else:
        score, problems = check_toptw_routes(toptw, toptw_routes_of(result), routes)
    total_prize = sum(int(s.drop_penalty or 0) for s in problem.stops)
    # objective = travel + factor * (total score - score): the score bound follows from the bound
    score_bound = (total_prize - max(result.bound, 0.0)) / factor
    return {
        "instance": name,
        "format": fmt,
        "routes": routes,
        "objective": score,
        "status": result.status,
        "time_s": round(result.runtime_s, 3),
        "engine": result.engine,
        "rules_checked": result.rules_checked,
        "benchmark_checked": not problems,
        "problems": problems,
        "bound": math.floor(score_bound + 1e-9),
        "work": dict(result.work),
        "time_limit_hit": result.time_limit_hit,
        "warnings": list(result.warnings),
    }
