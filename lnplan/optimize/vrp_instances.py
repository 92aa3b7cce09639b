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
from lnplan.optimize.routing.model import Calendar, RoutingProblem, Stop, Team

__all__ = [
    "VrpInstance",
    "VrpSolution",
    "evaluate_routes",
    "read_solomon",
    "read_solution",
    "read_vrplib",
    "to_routing_problem",
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
