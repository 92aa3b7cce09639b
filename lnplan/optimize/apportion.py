"""Integer apportionment: split a whole-number target across regions in proportion to weights.

Methods
-------
``hamilton`` (largest remainder), ``webster`` (Sainte-Laguë), ``dhondt`` (Jefferson) and
``huntington-hill`` (equal proportions). Each returns whole numbers that sum exactly to the total.

Formulation
-----------
Data: weights ``w_i >= 0`` (need, population, ...), a total ``T`` (jobs, trainees, households),
optional integer floors ``f_i`` and caps ``c_i`` (``f_i <= a_i <= c_i``).

* **Hamilton with floors and caps** uses the *bounded quota*: ``q_i = clamp(lam * w_i, f_i, c_i)``
  with the one ``lam`` for which ``sum q_i = T``. This is what "fix the regions that break a bound
  at that bound, re-divide the rest, repeat" converges to, computed directly. Each region gets
  ``floor(q_i)``; the seats left go to the largest remainders ``q_i - floor(q_i)``. Without bounds
  ``q_i`` is the standard quota ``T * w_i / sum(w)`` and the quota rule holds.
* **Divisor methods with floors and caps** (the standard min/max-restricted divisor method,
  Pukelsheim, *Proportional Representation*, ch. 7): ``a_i = clamp(R(w_i / D), f_i, c_i)`` for a
  divisor ``D`` that makes the sum ``T``. Computed by the equivalent greedy: start every region at
  its floor and give each further seat to the largest priority ``w_i / d(a_i)`` among regions below
  their cap, where ``d(k) = k + 1`` (D'Hondt), ``k + 1/2`` (Webster), ``sqrt(k (k + 1))``
  (Huntington-Hill; a region with no seat has infinite priority, and when there are fewer seats
  than regions those first seats go to the largest weights). A floating-point divisor search jumps
  close to the answer; the last seats are placed by exact comparison, and the result is checked
  with an exact optimality certificate (every seat given has priority at least that of every seat
  not given), falling back to the plain greedy from the floors if the check fails.

Exactness and ties
------------------
All comparisons are exact: weights are read as the binary fractions they are
(:class:`fractions.Fraction`), Huntington-Hill priorities are compared squared. When two or more
regions tie for the last seat(s) the result is still returned, with a deterministic rule: **the
region listed first wins** (the convention of the ``apportionment`` package on PyPI), and the tie
is always reported in :attr:`ApportionResult.ties` (who tied, for how many seats, who got them) so
that a planner decides. With that rule the divisor methods are house monotone: raising ``T`` by
one never takes a seat from anyone.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, cast

import numpy as np
import numpy.typing as npt

from lnplan.errors import InfeasibleError, InputError, LnplanError

logger = logging.getLogger(__name__)

Method = Literal["hamilton", "webster", "dhondt", "huntington-hill"]
METHODS: tuple[Method, ...] = ("hamilton", "webster", "dhondt", "huntington-hill")
_ALIASES: dict[str, Method] = {
    "hamilton": "hamilton",
    "largest-remainder": "hamilton",
    "hare": "hamilton",
    "webster": "webster",
    "sainte-lague": "webster",
    "saintelague": "webster",
    "dhondt": "dhondt",
    "d'hondt": "dhondt",
    "jefferson": "dhondt",
    "huntington-hill": "huntington-hill",
    "huntington": "huntington-hill",
    "hill": "huntington-hill",
    "equal-proportions": "huntington-hill",
}

#: the largest total: allocations are 64-bit integers and the divisor methods' jump start
#: counts seats in floating point (exact to 2**53)
MAX_TOTAL = 2**53

# A priority: (tier, value). Tier 1 is Huntington-Hill's infinite priority of a first seat.
_Key = tuple[int, Fraction]


@dataclass(frozen=True)
class ApportionProblem:
    """Whole-number target to split across regions.

    Attributes
    ----------
    names
        Region names, unique, in the order used for ties (earlier wins a tie).
    weights
        Non-negative weight per region; at least one positive.
    total
        The whole number to split (``>= 0``).
    floors, caps
        Optional whole-number lower and upper bounds per region; ``None`` means 0 and ``total``.
    """

    names: tuple[str, ...]
    weights: npt.NDArray[np.float64]
    total: int
    floors: npt.NDArray[np.int64] | None = None
    caps: npt.NDArray[np.int64] | None = None


@dataclass(frozen=True)
class Tie:
    """Regions that tie for the last seat(s); ``given_to`` got them by the listed-first rule."""

    candidates: tuple[str, ...]
    seats: int
    given_to: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{', '.join(self.candidates)} tie for {self.seats} seat"
            f"{'s' if self.seats != 1 else ''}; given to {', '.join(self.given_to)} "
            "(listed first)"
        )


@dataclass(frozen=True)
class ApportionResult:
    """Apportionment result.

    Attributes
    ----------
    method
        The method used.
    names
        Region names, as in the problem.
    allocations
        Whole number per region; sums to the total.
    quotas
        The (bounded) standard quota per region, for comparison.
    ties
        Ties for the last seat(s); empty when the answer is unique.
    runtime_s
        Wall time of the computation.
    rules_checked
        True once the allocations were verified to sum to the total and keep every floor and cap
        (checked on every answer, apart from the method's own arithmetic).
    """

    method: Method
    names: tuple[str, ...]
    allocations: npt.NDArray[np.int64]
    quotas: npt.NDArray[np.float64]
    ties: tuple[Tie, ...]
    runtime_s: float
    rules_checked: bool = False

    def as_dict(self) -> dict[str, int]:
        """Region name to whole number."""
        return {n: int(a) for n, a in zip(self.names, self.allocations, strict=True)}


def parse_method(method: str) -> Method:
    """Normalise a method name (aliases such as ``sainte-lague`` or ``jefferson`` accepted)."""
    key = method.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in _ALIASES:
        raise InputError(f"unknown apportionment method {method!r}; accepted: {', '.join(METHODS)}")
    return _ALIASES[key]


def apportion(problem: ApportionProblem, method: str = "hamilton") -> ApportionResult:
    """Split ``problem.total`` across the regions with the given method.

    Parameters
    ----------
    problem
        Names, weights, total and optional floors and caps.
    method
        ``hamilton``, ``webster``, ``dhondt`` or ``huntington-hill`` (or an alias).

    Returns
    -------
    ApportionResult
        Allocations that sum exactly to the total, the quotas and any tie.

    Raises
    ------
    InputError
        Bad names, weights, total or bounds.
    InfeasibleError
        Floors above the total, caps below it, or a floor above its cap; says which and by how much.
    """
    start = time.perf_counter()
    m = parse_method(method)
    w, floors, caps = _validate(problem)
    fw = [Fraction(float(x)) for x in w]
    quotas = _bounded_quotas(problem, fw, floors, caps)
    if m == "hamilton":
        alloc, tie = _hamilton(problem.names, quotas, floors, caps, problem.total)
    else:
        alloc, tie = _divisor(problem.names, m, w, fw, floors, caps, problem.total)
    out = np.array(alloc, dtype=np.int64)
    broken = _broken_rules(problem.names, out, floors, caps, problem.total)
    if broken:  # a defect, never an answer
        raise LnplanError("internal error: the apportionment breaks its rules: " + broken)
    ties = (tie,) if tie is not None else ()
    for t in ties:
        logger.info("apportion %s: %s", m, t)
    return ApportionResult(
        method=m,
        names=tuple(problem.names),
        allocations=out,
        quotas=np.array([float(q) for q in quotas]),
        ties=ties,
        runtime_s=time.perf_counter() - start,
        rules_checked=True,
    )


def _broken_rules(
    names: Sequence[str],
    alloc: npt.NDArray[np.int64],
    floors: Sequence[int],
    caps: Sequence[int],
    total: int,
) -> str:
    """The first rule an allocation breaks (sum, floors, caps), or ``""``."""
    if int(alloc.sum()) != int(total):
        return f"the allocations sum to {int(alloc.sum())}, not the total {int(total)}"
    for name, a, f, c in zip(names, alloc.tolist(), floors, caps, strict=True):
        if not f <= a <= c:
            return f"region {name!r}: {a} is outside its floor {f} and cap {c}"
    return ""


# --- validation -------------------------------------------------------------------------------


def _validate(
    p: ApportionProblem,
) -> tuple[npt.NDArray[np.float64], list[int], list[int]]:
    names = list(p.names)
    n = len(names)
    if n == 0:
        raise InputError("no regions to apportion among")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"region {name!r} is listed twice")
        seen.add(name)
    w = np.asarray(p.weights, dtype=np.float64)
    if w.shape != (n,):
        raise InputError(f"{n} regions but {w.size} weights")
    for name, x in zip(names, w, strict=True):
        if not math.isfinite(x) or x < 0:
            raise InputError(f"region {name!r}: weight must be a number >= 0, got {float(x)!r}")
    if not w.sum() > 0:
        raise InputError("the weights sum to zero; at least one region needs a positive weight")
    total = p.total
    if isinstance(total, bool) or int(total) != total or total < 0:
        raise InputError(f"the total must be a whole number >= 0, got {total!r}")
    total = int(total)
    if total > MAX_TOTAL:
        raise InputError(f"the total must be at most {MAX_TOTAL:,}, got {total:,}")
    floors = _bounds(p.floors, names, "floor", 0)
    caps = [min(c, total) for c in _bounds(p.caps, names, "cap", total)]
    for name, f, c in zip(names, floors, caps, strict=True):
        if f > c:
            raise InfeasibleError(f"region {name!r}: floor {f} is above its cap {c} by {f - c}")
    sf, sc = sum(floors), sum(caps)
    if sf > total:
        raise InfeasibleError(
            f"the floors sum to {sf}, above the total {total} by {sf - total}"
            f"{_largest(names, floors, 'floor')}"
        )
    if sc < total:
        raise InfeasibleError(
            f"the caps sum to {sc}, below the total {total} by {total - sc}"
            f"{_largest(names, caps, 'cap', smallest=True)}"
        )
    reach = sum(c if x > 0 else f for x, f, c in zip(w, floors, caps, strict=True))
    if reach < total:
        raise InfeasibleError(
            f"regions with a positive weight can take at most {reach} in total (caps, plus the "
            f"floors of zero-weight regions), below the total {total} by {total - reach}; "
            "raise their caps or give a positive weight to the regions that should take the rest"
        )
    return w, floors, caps


def _bounds(
    values: npt.NDArray[np.int64] | None, names: Sequence[str], what: str, default: int
) -> list[int]:
    if values is None:
        return [default] * len(names)
    arr = np.asarray(values)
    if arr.shape != (len(names),):
        raise InputError(f"{len(names)} regions but {arr.size} {what}s")
    out = []
    for name, x in zip(names, arr.tolist(), strict=True):
        if isinstance(x, bool) or not isinstance(x, int | float) or x != x or int(x) != x or x < 0:
            raise InputError(f"region {name!r}: {what} must be a whole number >= 0, got {x!r}")
        out.append(int(x))
    return out


def _largest(names: Sequence[str], vals: Sequence[int], what: str, smallest: bool = False) -> str:
    order = sorted(range(len(vals)), key=lambda i: vals[i], reverse=not smallest)[:3]
    word = "smallest" if smallest else "largest"
    return f" ({word} {what}s: " + ", ".join(f"{names[i]} {vals[i]}" for i in order) + ")"


# --- Hamilton ---------------------------------------------------------------------------------


def _bounded_quotas(
    p: ApportionProblem, fw: Sequence[Fraction], floors: Sequence[int], caps: Sequence[int]
) -> list[Fraction]:
    """Exact ``q_i = clamp(lam * w_i, f_i, c_i)`` with ``sum q_i = total``."""
    total = int(p.total)
    n = len(fw)

    def s(lam: Fraction) -> Fraction:
        return sum(
            (min(max(lam * fw[i], Fraction(floors[i])), Fraction(caps[i])) for i in range(n)),
            Fraction(0),
        )

    bps = {Fraction(0)}
    for i in range(n):
        if fw[i] > 0:
            bps.add(floors[i] / fw[i])
            bps.add(caps[i] / fw[i])
    pts = sorted(bps)
    # the largest breakpoint index with s(pt) <= total; s is continuous and nondecreasing
    lo, hi = 0, len(pts) - 1
    if s(pts[hi]) <= total:
        lo = hi
    else:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if s(pts[mid]) <= total:
                lo = mid
            else:
                hi = mid
    a = pts[lo]
    sa = s(a)
    if sa == total or lo == len(pts) - 1:
        lam = a
    else:
        b = pts[lo + 1]
        middle = (a + b) / 2
        free_w = Fraction(0)
        fixed = Fraction(0)
        for i in range(n):
            v = middle * fw[i]
            if fw[i] > 0 and floors[i] < v < caps[i]:
                free_w += fw[i]
            else:
                fixed += min(max(v, Fraction(floors[i])), Fraction(caps[i]))
        lam = (total - fixed) / free_w
    return [min(max(lam * fw[i], Fraction(floors[i])), Fraction(caps[i])) for i in range(n)]


def _hamilton(
    names: Sequence[str],
    quotas: Sequence[Fraction],
    floors: Sequence[int],
    caps: Sequence[int],
    total: int,
) -> tuple[list[int], Tie | None]:
    base = [math.floor(q) for q in quotas]
    rem = [q - b for q, b in zip(quotas, base, strict=True)]
    k = total - sum(base)
    order = sorted(range(len(base)), key=lambda i: (-rem[i], i))
    alloc = list(base)
    for i in order[:k]:
        alloc[i] += 1
    tie = None
    if 0 < k < len(order) and rem[order[k - 1]] == rem[order[k]]:
        cut = rem[order[k - 1]]
        group = [i for i in order if rem[i] == cut]
        won = [i for i in group if i in set(order[:k])]
        tie = Tie(tuple(names[i] for i in group), len(won), tuple(names[i] for i in won))
    assert all(f <= a <= c for a, f, c in zip(alloc, floors, caps, strict=True))
    return alloc, tie


# --- divisor methods ---------------------------------------------------------------------------


def _key(method: Method, w: Fraction, k: int) -> _Key:
    """Exact priority of region with weight ``w`` for its seat number ``k + 1``."""
    if method == "dhondt":
        return (0, w / (k + 1))
    if method == "webster":
        return (0, 2 * w / (2 * k + 1))
    # Huntington-Hill: w / sqrt(k (k + 1)), compared squared; a first seat is infinite priority
    if k == 0:
        return (1, w) if w > 0 else (0, Fraction(0))
    return (0, w * w / (k * (k + 1)))


def _float_counts(method: Method, w: npt.NDArray[np.float64], mu: float) -> npt.NDArray[np.int64]:
    """Approximate number of priorities above ``mu`` per region (for the jump start only)."""
    x = w / mu
    if method == "dhondt":
        c = np.ceil(x) - 1
    elif method == "webster":
        c = np.ceil(x - 0.5)
    else:
        c = np.ceil((-1.0 + np.sqrt(1.0 + 4.0 * x * x)) / 2.0)
        c = np.where(w > 0, np.maximum(c, 1), 0)
    return np.clip(c, 0, 2**62).astype(np.int64)


def _jump_start(
    method: Method,
    w: npt.NDArray[np.float64],
    floors: Sequence[int],
    caps: Sequence[int],
    total: int,
) -> list[int]:
    f = np.array(floors, dtype=np.int64)
    c = np.array(caps, dtype=np.int64)

    def s(mu: float) -> int:
        return int(np.clip(_float_counts(method, w, mu), f, c).sum())

    hi = float(w.max()) * 4.0 + 1.0
    if s(hi) > total:  # e.g. Huntington-Hill with fewer seats than regions
        return list(floors)
    lo = hi
    for _ in range(200):
        if s(lo) > total:
            break
        hi = lo
        lo /= 2.0
    else:
        return [int(x) for x in np.clip(_float_counts(method, w, hi) - 1, f, c)]
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if s(mid) <= total:
            hi = mid
        else:
            lo = mid
    start = np.clip(_float_counts(method, w, hi) - 1, f, c)
    return [int(x) for x in start]


def _divisor(
    names: Sequence[str],
    method: Method,
    w: npt.NDArray[np.float64],
    fw: Sequence[Fraction],
    floors: Sequence[int],
    caps: Sequence[int],
    total: int,
) -> tuple[list[int], Tie | None]:
    alloc = _jump_start(method, w, floors, caps, total)
    if sum(alloc) > total:
        alloc = list(floors)
    alloc = _greedy(method, fw, alloc, caps, total)
    if not _certified(method, fw, alloc, floors, caps):
        logger.warning("apportion %s: jump start not certified; greedy from the floors", method)
        alloc = _greedy(method, fw, list(floors), caps, total)
    return _normalise_tie(names, method, fw, alloc, floors, caps)


def _greedy(
    method: Method, fw: Sequence[Fraction], alloc: list[int], caps: Sequence[int], total: int
) -> list[int]:
    alloc = list(alloc)
    heap: list[tuple[int, Fraction, int]] = []
    for i, a in enumerate(alloc):
        if a < caps[i]:
            t, v = _key(method, fw[i], a)
            heap.append((-t, -v, i))
    heapq.heapify(heap)
    for _ in range(total - sum(alloc)):
        _, _, i = heapq.heappop(heap)
        alloc[i] += 1
        if alloc[i] < caps[i]:
            t, v = _key(method, fw[i], alloc[i])
            heapq.heappush(heap, (-t, -v, i))
    return alloc


def _margins(
    method: Method,
    fw: Sequence[Fraction],
    alloc: Sequence[int],
    floors: Sequence[int],
    caps: Sequence[int],
) -> tuple[_Key | None, _Key | None]:
    """(smallest priority given beyond the floors, largest priority not given below the caps)."""
    given = [_key(method, fw[i], a - 1) for i, a in enumerate(alloc) if a > floors[i]]
    open_ = [_key(method, fw[i], a) for i, a in enumerate(alloc) if a < caps[i]]
    return (min(given) if given else None, max(open_) if open_ else None)


def _certified(
    method: Method,
    fw: Sequence[Fraction],
    alloc: Sequence[int],
    floors: Sequence[int],
    caps: Sequence[int],
) -> bool:
    lo, hi = _margins(method, fw, alloc, floors, caps)
    return lo is None or hi is None or lo >= hi


def _normalise_tie(
    names: Sequence[str],
    method: Method,
    fw: Sequence[Fraction],
    alloc: list[int],
    floors: Sequence[int],
    caps: Sequence[int],
) -> tuple[list[int], Tie | None]:
    lo, hi = _margins(method, fw, alloc, floors, caps)
    if lo is None or hi is None or lo != hi:
        return alloc, None
    v = lo
    won = [i for i, a in enumerate(alloc) if a > floors[i] and _key(method, fw[i], a - 1) == v]
    lost = [i for i, a in enumerate(alloc) if a < caps[i] and _key(method, fw[i], a) == v]
    group = sorted(set(won) | set(lost))
    if v[1] > 0:  # positive priority: each region holds at most one seat of this priority
        seats = len(won)
        for i in won:
            alloc[i] -= 1
        winners = group[:seats]
        for i in winners:
            alloc[i] += 1
    else:  # zero-weight regions absorbing seats: the greedy fills them in listed order
        winners = [i for i in group if i in set(won)]
        seats = sum(alloc[i] - floors[i] for i in winners)
    tie = Tie(tuple(names[i] for i in group), seats, tuple(names[i] for i in winners))
    return alloc, tie


def apportion_many(
    names: Sequence[str],
    weights: npt.ArrayLike,
    totals: dict[str, int],
    method: str = "hamilton",
    *,
    floors: dict[str, npt.ArrayLike] | None = None,
    caps: dict[str, npt.ArrayLike] | None = None,
) -> dict[str, ApportionResult]:
    """Apportion several targets (e.g. jobs, trainees, renovations) over the same regions.

    Parameters
    ----------
    names, weights
        Regions and their weights, shared by all targets.
    totals
        Target name to whole-number total.
    method
        Apportionment method for all targets.
    floors, caps
        Optional per-target bounds, keyed like ``totals``.

    Returns
    -------
    dict
        Target name to :class:`ApportionResult`.
    """
    w = np.asarray(weights, dtype=np.float64)
    out = {}
    for target, total in totals.items():
        fl = None if floors is None or target not in floors else np.asarray(floors[target])
        cp = None if caps is None or target not in caps else np.asarray(caps[target])
        prob = ApportionProblem(
            tuple(names),
            w,
            int(total),
            cast("npt.NDArray[np.int64] | None", fl),
            cast("npt.NDArray[np.int64] | None", cp),
        )
        try:
            out[target] = apportion(prob, method)
        except InfeasibleError as e:
            raise InfeasibleError(f"target {target!r}: {e}") from None
    return out
