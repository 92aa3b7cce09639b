"""Prize-collecting local search on trips with lodging places (an iterated local search).

It works on the engine's model (:class:`~lnplan.optimize.routing.model.RoutingProblem` with
``lodging``) and improves timed trips (for instance the OR-Tools answer) for the model's
objective: travel time plus the drop penalties of the stops left out. A trip is a list of days;
day ``k`` starts where night ``k - 1`` was spent (the team's base on the first day) and ends with
the drive to night ``k``'s place (the team's end on the last day). A day fits when its drives and
services fit its working time (``Calendar.work_on_day_s``), and a trip when its demand fits the
team's capacity.

Neighbourhoods (each applied until none improves, the *local search*):

- 2-opt and or-opt (move one stop) inside a day;
- relocate a stop to another day (of any trip) where it costs less;
- insert a stop left out, cheapest position first, when its penalty outweighs the extra drive;
- replace a visited stop by one left out with a larger penalty;
- change the place of a night (the hotel between two consecutive days), dropping the stops that
  no longer fit and re-inserting stops greedily.

The *perturbation* removes a few consecutive stops of every day (and sometimes moves a night);
the search then continues from the new local optimum if it is better than the current one and
restarts from the best after a while. It stops after ``max_iterations`` perturbations (the work
limit) or at ``deadline`` (a wall-clock safety cap), is deterministic for a ``seed``, and applies
to stops without time windows or blocked days only (:func:`local_search_applies`); the caller
re-times and re-checks its answer.
"""

from __future__ import annotations

import random
import sys
import time

import numpy as np
import numpy.typing as npt

from lnplan.optimize.routing.model import ImprovementOutcome, PlannedTrip, RoutingProblem
from lnplan.optimize.routing.schedule import time_lodging_trip

__all__ = ["improve_lodging_trips", "local_search_applies"]


def local_search_applies(problem: RoutingProblem) -> bool:
    """Whether the local search can work on this problem: lodging places, stops without time
    windows or blocked days (a day then fits when its drives and services fit its length), and
    teams without blocked days (the search widens a trip to its calendar slot)."""
    return (
        bool(problem.lodging)
        and all(not s.time_windows_s and not s.blocked_days for s in problem.stops)
        and not any(t.blocked_days for t in problem.teams)
    )


class _Tours:
    """The mutable state: days of every trip, their night places, which stops are visited."""

    def __init__(
        self, problem: RoutingProblem, trips: list[PlannedTrip], slots: list[tuple[int, int]]
    ):
        cal = problem.calendar
        self.problem = problem
        self.tt: list[list[int]] = problem.travel_time_s.tolist()
        self.node = [s.node for s in problem.stops]
        self.service = [s.service_s for s in problem.stops]
        self.prize = [float(s.drop_penalty) if s.drop_penalty is not None else 1e18
                      for s in problem.stops]  # fmt: skip
        self.demand = [s.demand for s in problem.stops]
        self.tt_a = problem.travel_time_s.astype(np.int64)
        self.node_a = np.array(self.node, dtype=np.int64)
        self.prize_a = np.array(self.prize, dtype=np.float64)
        self.service_a = np.array(self.service, dtype=np.int64)
        self.demand_a = np.array(self.demand, dtype=np.int64)
        self.trips = trips
        # global day list
        self.days: list[list[int]] = []
        self.end_place: list[int] = []
        self.limit: list[int] = []
        self.trip_of: list[int] = []
        self.first_of_trip: list[bool] = []
        self.last_of_trip: list[bool] = []
        self.base_of: list[int] = []
        self.day_no: list[int] = []
        self.capacity: list[int | None] = []
        w = cal.work_per_day_s
        for t, (trip, (first, last)) in enumerate(zip(trips, slots, strict=True)):
            team = problem.teams[trip.team]
            self.capacity.append(team.capacity)
            per_day: dict[int, list[int]] = {}
            for i, s in zip(trip.stops, trip.start_s, strict=True):
                per_day.setdefault(cal.work_of(s, up=True) // w, []).append(i)
            for d in range(first, last + 1):
                self.days.append(list(per_day.get(d, [])))
                if d == last:
                    place = team.end_node
                elif d < trip.first_day:
                    place = team.base
                elif d < trip.last_day:
                    place = trip.nights[d - trip.first_day]
                else:
                    place = team.end_node
                self.end_place.append(place)
                self.limit.append(cal.work_on_day_s(d))
                self.trip_of.append(t)
                self.first_of_trip.append(d == first)
                self.last_of_trip.append(d == last)
                self.base_of.append(team.base)
                self.day_no.append(d)
        self.places = [
            sorted(set(problem.lodging) | {problem.teams[tr.team].base,
                                           problem.teams[tr.team].end_node})
            for tr in trips
        ]  # fmt: skip
        self.visited = [False] * len(problem.stops)
        for day in self.days:
            for i in day:
                self.visited[i] = True
        self.travel = [self.day_travel(g, self.days[g]) for g in range(len(self.days))]
        self.busy = [sum(self.service[i] for i in day) for day in self.days]
        self.load = [0] * len(trips)
        for g, day in enumerate(self.days):
            self.load[self.trip_of[g]] += sum(self.demand[i] for i in day)

    # --- evaluation ---------------------------------------------------------------------------
    def start_of(self, g: int) -> int:
        return self.base_of[g] if self.first_of_trip[g] else self.end_place[g - 1]

    def day_travel(self, g: int, seq: list[int], start: int = -1, end: int = -1) -> int:
        tt, node = self.tt, self.node
        here = self.start_of(g) if start < 0 else start
        total = 0
        for i in seq:
            total += tt[here][node[i]]
            here = node[i]
        return total + tt[here][self.end_place[g] if end < 0 else end]

    def objective(self) -> float:
        return float(sum(self.travel)) + sum(
            p for i, p in enumerate(self.prize) if not self.visited[i]
        )

    def slack(self, g: int) -> int:
        return self.limit[g] - self.travel[g] - self.busy[g]

    def fits_load(self, t: int, extra: int) -> bool:
        cap = self.capacity[t]
        return cap is None or self.load[t] + extra <= cap

    def snapshot(self) -> tuple[list[list[int]], list[int]]:
        return [list(d) for d in self.days], list(self.end_place)

    def restore(self, snap: tuple[list[list[int]], list[int]]) -> None:
        days, ends = snap
        self.days = [list(d) for d in days]
        self.end_place = list(ends)
        self.visited = [False] * len(self.prize)
        for day in self.days:
            for i in day:
                self.visited[i] = True
        self.travel = [self.day_travel(g, self.days[g]) for g in range(len(self.days))]
        self.busy = [sum(self.service[i] for i in day) for day in self.days]
        self.load = [0] * len(self.trips)
        for g, day in enumerate(self.days):
            self.load[self.trip_of[g]] += sum(self.demand[i] for i in day)

    def set_day(self, g: int, seq: list[int]) -> None:
        self.days[g] = seq
        self.travel[g] = self.day_travel(g, seq)
        self.busy[g] = sum(self.service[i] for i in seq)

    # --- moves ---------------------------------------------------------------------------------
    def best_insertion(self, i: int, g: int) -> tuple[int, int] | None:
        """Cheapest feasible (extra drive, position) of stop ``i`` in day ``g``."""
        tt, node = self.tt, self.node
        x = node[i]
        room = self.slack(g) - self.service[i]
        if room < 0:
            return None
        seq = self.days[g]
        prev = self.start_of(g)
        best: tuple[int, int] | None = None
        for p in range(len(seq) + 1):
            nxt = node[seq[p]] if p < len(seq) else self.end_place[g]
            delta = tt[prev][x] + tt[x][nxt] - tt[prev][nxt]
            if delta <= room and (best is None or delta < best[0]):
                best = (delta, p)
            prev = nxt
        return best

    def insert(self, i: int, g: int, p: int) -> None:
        seq = self.days[g]
        seq.insert(p, i)
        self.set_day(g, seq)
        self.visited[i] = True
        self.load[self.trip_of[g]] += self.demand[i]

    def remove(self, g: int, p: int) -> int:
        seq = self.days[g]
        i = seq.pop(p)
        self.set_day(g, seq)
        self.visited[i] = False
        self.load[self.trip_of[g]] -= self.demand[i]
        return i

    def two_opt(self, g: int) -> bool:
        """2-opt and or-opt inside day ``g`` until no drive gets shorter."""
        _tt, node = self.tt, self.node
        improved_any = False
        improved = True
        while improved:
            improved = False
            seq = self.days[g]
            pts = [self.start_of(g)] + [node[i] for i in seq] + [self.end_place[g]]
            n = len(seq)
            if n >= 2:  # best 2-opt move (reverse seq[a..b]), vectorised
                pa = np.array(pts, dtype=np.int64)
                m = self.tt_a[pa[:, None], pa[None, :]]
                idx = np.arange(n)
                d = (m[idx[:, None], idx[None, :] + 1] + m[idx[:, None] + 1, idx[None, :] + 2]
                     - m[idx, idx + 1][:, None] - m[idx + 1, idx + 2][None, :])  # fmt: skip
                d[np.tril_indices(n)] = 0
                a, b = np.unravel_index(int(d.argmin()), d.shape)
                if d[a, b] < 0:
                    new = seq[:a] + seq[a : b + 1][::-1] + seq[b + 1 :]
                    if self.day_travel(g, new) < self.travel[g]:  # exact also when asymmetric
                        self.set_day(g, new)
                        improved = improved_any = True
                        continue
            if n >= 2:  # best or-opt move (one stop elsewhere in the day), vectorised
                pa = np.array(pts, dtype=np.int64)
                m = self.tt_a[pa[:, None], pa[None, :]]
                x = np.arange(1, n + 1)  # the stops' rows in pts
                c = np.arange(n + 1)  # the edges c -> c + 1
                saving = m[x - 1, x] + m[x, x + 1] - m[x - 1, x + 1]
                ins = (
                    m[c[:, None], x[None, :]].T
                    + m[x[:, None], (c + 1)[None, :]]
                    - m[c, c + 1][None, :]
                )
                d = (ins - saving[:, None]).astype(np.float64)
                d[np.arange(n), np.arange(n)] = np.inf  # edges next to the stop itself
                d[np.arange(n), np.arange(1, n + 1)] = np.inf
                a, e = np.unravel_index(int(d.argmin()), d.shape)
                if d[a, e] < 0:
                    rest = seq[:a] + seq[a + 1 :]
                    at = e if e < a else e - 1
                    self.set_day(g, [*rest[:at], seq[a], *rest[at:]])
                    improved = improved_any = True
        return improved_any

    def relocate(self) -> bool:
        """Move a stop to another day where the total drive gets shorter."""
        improved = False
        moved = True
        while moved:
            moved = False
            cand = np.array([i for day in self.days for i in day], dtype=np.int64)
            if cand.size == 0:
                return improved
            day_of = np.array([g for g, day in enumerate(self.days) for _ in day], dtype=np.int64)
            saving = np.array(
                [self.removal_saving(g, p) for g, day in enumerate(self.days)
                 for p in range(len(day))],
                dtype=np.float64,
            )  # fmt: skip
            rows = [self.insertion_row(h, cand) for h in range(len(self.days))]
            cost = np.stack([r[0] for r in rows])
            cost[day_of, np.arange(len(cand))] = np.inf
            gain = saving[None, :] - cost
            h, k = np.unravel_index(int(gain.argmax()), gain.shape)
            if gain[h, k] > 0:
                i, g = int(cand[k]), int(day_of[k])
                if self.trip_of[h] != self.trip_of[g] and not self.fits_load(
                    self.trip_of[int(h)], self.demand[i]
                ):
                    return improved
                self.remove(g, self.days[g].index(i))
                q = self.best_insertion(i, int(h))
                if q is None:  # cannot happen: the row said it fits
                    self.insert(i, g, 0)
                    self.set_day(g, self.days[g])
                    return improved
                self.insert(i, int(h), q[1])
                improved = moved = True
        return improved

    def insertion_row(
        self, g: int, cand: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Cheapest feasible extra drive (``inf`` if none) and position of each candidate stop
        in day ``g`` (vectorised)."""
        pts = np.array(
            [self.start_of(g)] + [self.node[i] for i in self.days[g]] + [self.end_place[g]],
            dtype=np.int64,
        )
        x = self.node_a[cand]
        tm = self.tt_a
        delta = (
            tm[pts[:-1][:, None], x[None, :]]
            + tm[x[:, None], pts[1:][None, :]].T
            - tm[pts[:-1], pts[1:]][:, None]
        )
        pos = delta.argmin(axis=0)
        best = delta[pos, np.arange(len(cand))].astype(np.float64)
        room = self.slack(g) - self.service_a[cand]
        best[best > room] = np.inf
        cap = self.capacity[self.trip_of[g]]
        if cap is not None:
            best[self.load[self.trip_of[g]] + self.demand_a[cand] > cap] = np.inf
        return best, pos

    def insert_unvisited(self, order: list[int]) -> bool:
        """Insert stops left out (in ``order``) where cheapest, when it pays."""
        cand = np.array([i for i in order if not self.visited[i]], dtype=np.int64)
        if cand.size == 0 or not self.days:
            return False
        rows = [self.insertion_row(g, cand) for g in range(len(self.days))]
        cost = np.stack([r[0] for r in rows])
        pos = np.stack([r[1] for r in rows])
        improved = False
        for k, i in enumerate(cand.tolist()):
            g = int(cost[:, k].argmin())
            if not cost[g, k] < self.prize[i]:
                continue
            self.insert(i, g, int(pos[g, k]))
            improved = True
            cost[:, k] = np.inf
            if k + 1 < len(cand):
                c, p = self.insertion_row(g, cand)
                c[: k + 1] = np.inf
                cost[g], pos[g] = c, p
                t = self.trip_of[g]
                if self.capacity[t] is not None:  # the trip's other days lost room too
                    for h in range(len(self.days)):
                        if h != g and self.trip_of[h] == t:
                            c, p = self.insertion_row(h, cand)
                            c[: k + 1] = np.inf
                            cost[h], pos[h] = c, p
        return improved

    def removal_saving(self, g: int, p: int) -> int:
        """Drive saved by taking the stop at position ``p`` out of day ``g``."""
        tt, node, seq = self.tt, self.node, self.days[g]
        prev = self.start_of(g) if p == 0 else node[seq[p - 1]]
        nxt = self.end_place[g] if p == len(seq) - 1 else node[seq[p + 1]]
        x = node[seq[p]]
        return tt[prev][x] + tt[x][nxt] - tt[prev][nxt]

    def replace(self, order: list[int]) -> bool:
        """Swap a visited stop for a left-out one with more penalty (net of the drives).

        The new stop takes the old one's place or its own cheapest place in the same day; the
        best swap of all days is made, again until none pays (vectorised).
        """
        improved = False
        while True:
            lowest = min((self.prize[i] for day in self.days for i in day), default=None)
            if lowest is None:
                return improved
            cand = np.array(
                [j for j in order if not self.visited[j] and self.prize[j] > lowest], dtype=np.int64
            )
            if cand.size == 0:
                return improved
            prize_j = self.prize_a[cand]
            best: tuple[float, int, int, int, int] | None = None  # gain, day, p, j, edge/-1
            for g in range(len(self.days)):
                seq = self.days[g]
                n = len(seq)
                if n == 0:
                    continue
                pa = np.array(
                    [self.start_of(g)] + [self.node[i] for i in seq] + [self.end_place[g]],
                    dtype=np.int64,
                )
                m = self.tt_a
                xj = self.node_a[cand]
                p = np.arange(1, n + 1)
                old = m[pa[p - 1], pa[p]] + m[pa[p], pa[p + 1]]
                # (A) j in the place of the stop at p
                swap = (
                    m[pa[p - 1][:, None], xj[None, :]]
                    + m[xj[:, None], pa[p + 1][None, :]].T
                    - old[:, None]
                )
                # (B) the stop at p out, j on edge c (not next to p)
                c = np.arange(n + 1)
                ins = (
                    m[pa[c][:, None], xj[None, :]]
                    + m[xj[:, None], pa[c + 1][None, :]].T
                    - m[pa[c], pa[c + 1]][:, None]
                )
                saving = old - m[pa[p - 1], pa[p + 1]]
                tens = ins[None, :, :] - saving[:, None, None]  # (p, c, j)
                tens = tens.astype(np.float64)
                tens[np.arange(n), np.arange(n), :] = np.inf
                tens[np.arange(n), np.arange(1, n + 1), :] = np.inf
                edge = tens.argmin(axis=1)  # (p, j)
                moved = np.take_along_axis(tens, edge[:, None, :], axis=1)[:, 0, :]
                use_swap = swap <= moved
                extra = np.where(use_swap, swap, moved)  # drive added, (p, j)
                seq_a = np.array(seq, dtype=np.int64)
                busy = (self.busy[g] - self.service_a[seq_a])[:, None] + self.service_a[cand][
                    None, :
                ]
                ok = self.travel[g] + extra + busy <= self.limit[g]
                cap = self.capacity[self.trip_of[g]]
                if cap is not None:
                    load = self.load[self.trip_of[g]] - self.demand_a[seq_a][:, None]
                    ok &= load + self.demand_a[cand][None, :] <= cap
                gain = prize_j[None, :] - self.prize_a[seq_a][:, None] - extra
                gain[~ok] = -np.inf
                k = int(gain.argmax())
                pi, ji = np.unravel_index(k, gain.shape)
                if gain[pi, ji] > 1e-9 and (best is None or gain[pi, ji] > best[0]):
                    e = -1 if use_swap[pi, ji] else int(edge[pi, ji])
                    best = (float(gain[pi, ji]), g, int(pi), int(cand[ji]), e)
            if best is None:
                return improved
            _, g, at, j, e = best
            self.remove(g, at)
            if e < 0:
                self.insert(j, g, at)
            else:
                self.insert(j, g, e if e < at else e - 1)
            improved = True

    def fit_day(self, g: int) -> None:
        """Drop the stops of day ``g`` with the least penalty per saved drive until it fits."""
        while self.slack(g) < 0 and self.days[g]:
            seq = self.days[g]
            worst, worst_p = None, 0
            for p, i in enumerate(seq):
                saved = self.removal_saving(g, p)
                ratio = self.prize[i] / (saved + self.service[i] + 1)
                if worst is None or ratio < worst:
                    worst, worst_p = ratio, p
            self.remove(g, worst_p)

    def change_nights(self, order: list[int]) -> bool:
        """Try every place for every night; keep a change that improves the objective."""
        improved = False
        for g in range(len(self.days)):
            if self.last_of_trip[g]:
                continue
            current = self.objective()
            for place in self.places[self.trip_of[g]]:
                if place == self.end_place[g]:
                    continue
                snap = self.snapshot()
                self.end_place[g] = place
                self.set_day(g, self.days[g])
                self.set_day(g + 1, self.days[g + 1])
                self.two_opt(g)
                self.two_opt(g + 1)
                self.fit_day(g)
                self.fit_day(g + 1)
                if self.slack(g) < 0 or self.slack(g + 1) < 0:  # the place is out of reach
                    self.restore(snap)
                    continue
                self.insert_unvisited(order)
                if self.objective() < current - 1e-9:
                    improved = True
                    current = self.objective()
                else:
                    self.restore(snap)
        return improved

    def local_search(self, order: list[int], *, nights: bool) -> None:
        while True:
            changed = False
            for g in range(len(self.days)):
                self.two_opt(g)
            changed |= self.relocate()
            changed |= self.insert_unvisited(order)
            changed |= self.replace(order)
            if nights and not changed:
                changed |= self.change_nights(order)
            if not changed:
                return

    def perturb(self, rng: random.Random, strength: int) -> None:
        for g in range(len(self.days)):
            seq = self.days[g]
            if not seq:
                continue
            k = min(len(seq), rng.randint(1, strength))
            p = rng.randrange(len(seq) - k + 1)
            for _ in range(k):
                self.remove(g, p)
        if rng.random() < 0.3:
            inner = [g for g in range(len(self.days)) if not self.last_of_trip[g]]
            if inner:
                g = rng.choice(inner)
                tt, here, after = self.tt, self.start_of(g), self.end_place[g + 1]
                reachable = [
                    h
                    for h in self.places[self.trip_of[g]]
                    if tt[here][h] <= self.limit[g] and tt[h][after] <= self.limit[g + 1]
                ]
                self.end_place[g] = rng.choice(reachable or [self.end_place[g]])
                self.set_day(g, self.days[g])
                self.set_day(g + 1, self.days[g + 1])
                self.fit_day(g)
                self.fit_day(g + 1)

    def planned(self) -> list[PlannedTrip]:
        out: list[PlannedTrip] = []
        problem = self.problem
        for t, trip in enumerate(self.trips):
            gs = [g for g in range(len(self.days)) if self.trip_of[g] == t]
            first, last = self.day_no[gs[0]], self.day_no[gs[-1]]
            timed, _left = time_lodging_trip(
                problem,
                trip.team,
                first,
                last,
                [list(self.days[g]) for g in gs],
                [self.end_place[g] for g in gs[:-1]],
            )
            out.append(timed)
        return out


def _slot_of(problem: RoutingProblem, trip: PlannedTrip) -> tuple[int, int]:
    for first, last in problem.calendar.trip_slots():
        if first <= trip.first_day and trip.last_day <= last:
            return first, last
    return trip.first_day, trip.last_day


def improve_lodging_trips(
    problem: RoutingProblem,
    trips: list[PlannedTrip],
    *,
    max_iterations: int | None,
    seed: int = 0,
    deadline: float | None = None,
) -> ImprovementOutcome:
    """Improve timed lodging trips with the iterated local search described in the module.

    Each trip is first widened to its whole trip slot (empty days at the base before it, at the
    team's end after it), so that the search may use every day of the slot. The returned trips
    are re-timed by :func:`~lnplan.optimize.routing.schedule.time_lodging_trip`; the caller
    checks them and keeps the better of the two plans.
    """
    from lnplan.optimize.routing.check import plan_objective

    before = plan_objective(problem, trips)
    if not local_search_applies(problem) or not trips:
        return ImprovementOutcome(tuple(trips), before, before, 0, 0, "not applicable")
    slots = [_slot_of(problem, t) for t in trips]
    state = _Tours(problem, list(trips), slots)
    rng = random.Random(seed)
    n = len(problem.stops)
    # stops left out, most penalty per distance to the nearest visited place first
    order = sorted(range(n), key=lambda i: -state.prize[i])
    state.local_search(order, nights=True)
    best_obj, best = state.objective(), state.snapshot()
    current_obj = best_obj
    improvements = 0
    stale = 0
    strength = 1
    stopped_by = "iterations"
    it = 0
    if max_iterations is None and deadline is None:
        raise ValueError("give max_iterations or a deadline")
    limit = max_iterations if max_iterations is not None else sys.maxsize
    for it in range(1, limit + 1):
        if deadline is not None and time.perf_counter() > deadline:
            stopped_by = "deadline"
            it -= 1
            break
        snap = state.snapshot()
        state.perturb(rng, strength)
        rng.shuffle(order)
        order.sort(key=lambda i: -state.prize[i])  # stable: ties in a random order
        state.local_search(order, nights=it % 5 == 0)
        obj = state.objective()
        if obj < best_obj - 1e-9:
            best_obj, best = obj, state.snapshot()
            improvements += 1
            stale = 0
            strength = 1
        else:
            stale += 1
            strength = min(strength + 1, max(2, max(len(d) for d in state.days)))
        if obj < current_obj - 1e-9 or stale % 10 == 0:
            current_obj = obj
        else:
            state.restore(snap)
        if stale and stale % 40 == 0:
            state.restore(best)
            current_obj = best_obj
            strength = 1
    state.restore(best)
    out = state.planned()
    after = plan_objective(problem, out)
    if after > before:
        return ImprovementOutcome(tuple(trips), before, before, it, improvements, stopped_by)
    return ImprovementOutcome(tuple(out), before, after, it, improvements, stopped_by)
