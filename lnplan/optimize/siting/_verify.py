"""Independent checks of a siting answer: the objective recomputed from the returned sites, and
every rule verified on them.

Nothing here uses the model builders, the reductions or the solver: each function reads the
problem as the caller gave it (weights, cover or cost matrix, :class:`SiteRules`) and the answer
(open sites, and with capacities the served shares). Tolerances follow HiGHS (primal feasibility
about 1e-7 absolute on scaled rows): a rule holds when it is kept to :data:`RULE_TOL` relative.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from lnplan.optimize.siting._model import (
    RULE_TOL,
    FloatArray,
    IntArray,
    SiteRules,
    group_label,
    within,
)


@dataclass(frozen=True)
class Verdict:
    """The recomputed objective of an answer and the rules it breaks (empty when none)."""

    objective: float
    broken: list[str]


def site_rules_broken(
    chosen: IntArray, rules: SiteRules, n_sites: int | None, n_candidates: int
) -> list[str]:
    """The site rules (count, existing, excluded, group bounds, budget) that ``chosen`` breaks."""
    broken: list[str] = []
    s = np.asarray(chosen, np.int64)
    if np.unique(s).size != s.size:
        broken.append("a site is chosen twice")
    if s.size and (s.min() < 0 or s.max() >= n_candidates):
        return [*broken, f"a chosen site is outside 0..{n_candidates - 1}"]
    if n_sites is not None and s.size != n_sites:
        broken.append(f"{s.size} sites open where exactly {n_sites} are asked")
    existing = np.asarray(rules.existing, np.int64).ravel()
    missing = np.setdiff1d(existing, s)
    if missing.size:
        broken.append(f"{missing.size} existing site(s) closed (first: candidate {missing[0]})")
    excluded = np.intersect1d(np.asarray(rules.excluded, np.int64).ravel(), s)
    if excluded.size:
        broken.append(f"{excluded.size} excluded site(s) open (first: candidate {excluded[0]})")
    if rules.candidate_group is not None and (rules.group_min or rules.group_max):
        of = np.asarray(rules.candidate_group)[s]
        names = rules.group_names
        for code, lo in rules.group_min.items():
            have = int((of == code).sum())
            if have < lo:
                broken.append(
                    f"{group_label(code, names)} has {have} sites, below its minimum {lo}"
                )
        for code, hi in rules.group_max.items():
            have = int((of == code).sum())
            if have > hi:
                broken.append(
                    f"{group_label(code, names)} has {have} sites, above its maximum {hi}"
                )
    if rules.budget_yuan is not None and rules.site_cost_yuan is not None:
        spent = float(np.asarray(rules.site_cost_yuan, np.float64)[s].sum())
        if not within(spent, rules.budget_yuan):
            broken.append(
                f"the sites cost {spent:,.2f} yuan, above the budget of {rules.budget_yuan:,.2f}"
            )
    return broken


def _share_broken(
    share: sparse.csr_array,
    chosen: IntArray,
    weights: FloatArray,
    capacity: FloatArray | None,
    reach: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    full: bool,
) -> list[str]:
    """Rules of a split assignment: shares only to open sites in reach, rows sum to at most
    (``full``: exactly) 1 for points with demand, loads within capacities."""
    broken: list[str] = []
    s = sparse.coo_array(share)
    pos = s.data > 0
    rows, cols, vals = s.row[pos], s.col[pos], s.data[pos]
    if (vals > 1 + RULE_TOL).any() or (s.data < -RULE_TOL).any():
        broken.append("a served share lies outside 0..1")
    is_open = np.zeros(share.shape[1], dtype=np.bool_)
    is_open[chosen] = True
    if not is_open[cols].all():
        broken.append("demand is served by a site that is not open")
    ok = reach(rows, cols)
    if not ok.all():
        broken.append("demand is served by a site out of its reach")
    total = np.bincount(rows, weights=vals, minlength=share.shape[0])
    act = weights > 0
    if (total[act] > 1 + RULE_TOL).any():
        broken.append("a demand point is served more than once")
    if full and (total[act] < 1 - RULE_TOL).any():
        i = int(np.flatnonzero(act & (total < 1 - RULE_TOL))[0])
        broken.append(f"demand point {i} is served {total[i]:.6f} of its demand, not all of it")
    if capacity is not None:
        load = np.bincount(cols, weights=weights[rows] * vals, minlength=share.shape[1])
        cap = np.asarray(capacity, np.float64)
        over = load > cap + RULE_TOL * np.maximum(1.0, cap)
        if over.any():
            j = int(np.flatnonzero(over)[0])
            broken.append(f"site {j} serves {load[j]:,.2f}, above its capacity of {cap[j]:,.2f}")
    return broken


def coverage_verdict(
    covers: sparse.csr_array,
    weights: FloatArray,
    chosen: IntArray,
    rules: SiteRules,
    n_sites: int | None,
    share: sparse.csr_array | None,
) -> tuple[Verdict, FloatArray]:
    """Covered demand of ``chosen`` and the rules it breaks; also each point's served share.

    Without capacities a point counts as covered when an open site reaches it; with capacities by
    the share the answer serves it.
    """
    c = sparse.csr_array(covers)
    broken = site_rules_broken(chosen, rules, n_sites, c.shape[1])
    if share is None and rules.capacity is not None:
        served = np.zeros(c.shape[0])  # capacities without shares: nothing is served
    elif share is None:
        sub = sparse.csr_array(c[:, np.asarray(chosen, np.int64)]) if chosen.size else None
        served = (
            (np.diff(sub.indptr) > 0).astype(np.float64)
            if sub is not None
            else np.zeros(c.shape[0])
        )
    else:
        csr = sparse.csr_array(c)

        def reach(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            return np.asarray(csr[rows, cols]).ravel() != 0

        broken += _share_broken(share, chosen, weights, rules.capacity, reach, full=False)
        served = np.minimum(np.asarray(share.sum(axis=1)).ravel(), 1.0)
    return Verdict(float((weights * served).sum()), broken), served


def median_verdict(
    cost: FloatArray,
    weights: FloatArray,
    opening: FloatArray,
    chosen: IntArray,
    rules: SiteRules,
    n_sites: int | None,
    share: sparse.csr_array | None,
) -> Verdict:
    """``sum_i w_i d_i(site) + sum_j f_j`` of ``chosen`` (nearest open site, or the shares)."""
    broken = site_rules_broken(chosen, rules, n_sites, cost.shape[1])
    act = np.flatnonzero(weights > 0)
    fixed = float(np.asarray(opening, np.float64)[chosen].sum())
    if chosen.size == 0:
        return Verdict(math.inf if act.size else fixed, [*broken, "no site is open"])
    if share is None:
        if rules.capacity is not None:
            broken.append("capacities are set but the answer has no served shares")
        near = cost[np.ix_(act, chosen)].min(axis=1) if act.size else np.zeros(0)
        far = ~np.isfinite(near)
        if far.any():
            broken.append(
                f"{int(far.sum())} point(s) with demand are out of reach of every open site"
            )
        value = float((weights[act] * near).sum()) + fixed
        return Verdict(value, broken)

    def reach(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return np.isfinite(cost[rows, cols])

    broken += _share_broken(share, chosen, weights, rules.capacity, reach, full=True)
    s = sparse.coo_array(share)
    pos = (s.data > 0) & (weights[s.row] > 0)
    value = float((weights[s.row[pos]] * cost[s.row[pos], s.col[pos]] * s.data[pos]).sum())
    return Verdict(value + fixed, broken)


def center_verdict(
    cost: FloatArray,
    weights: FloatArray,
    chosen: IntArray,
    rules: SiteRules,
    n_sites: int | None,
    share: sparse.csr_array | None,
) -> Verdict:
    """The longest travel of a point with demand to the site that serves it."""
    broken = site_rules_broken(chosen, rules, n_sites, cost.shape[1])
    act = np.flatnonzero(weights > 0)
    if act.size == 0:
        return Verdict(0.0, broken)
    if chosen.size == 0:
        return Verdict(math.inf, [*broken, "no site is open"])
    if share is None:
        if rules.capacity is not None:
            broken.append("capacities are set but the answer has no served shares")
        near = cost[np.ix_(act, chosen)].min(axis=1)
        if not np.isfinite(near).all():
            broken.append("a point with demand is out of reach of every open site")
        return Verdict(float(near.max()), broken)

    def reach(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return np.isfinite(cost[rows, cols])

    broken += _share_broken(share, chosen, weights, rules.capacity, reach, full=True)
    s = sparse.coo_array(share)
    pos = (s.data > RULE_TOL) & (weights[s.row] > 0)
    return Verdict(float(cost[s.row[pos], s.col[pos]].max(initial=0.0)), broken)


def group_rates(
    weights: FloatArray, served: FloatArray, labels: np.ndarray
) -> tuple[np.ndarray, FloatArray, FloatArray]:
    """Per group code of ``labels``: the codes, the demand and the covered share (1 without
    demand)."""
    codes, inv = np.unique(np.asarray(labels), return_inverse=True)
    inv = inv.ravel()
    total = np.bincount(inv, weights=weights, minlength=codes.size).astype(np.float64)
    covered = np.bincount(inv, weights=weights * served, minlength=codes.size)
    rate = np.divide(covered, total, out=np.ones(codes.size), where=total > 0)
    return codes, total, rate


def floors_broken(
    weights: FloatArray,
    served: FloatArray,
    labels: np.ndarray,
    floor: float | Mapping[object, float],
    names: Mapping[int, str] | None = None,
) -> list[str]:
    """The groups whose covered share is below their floor."""
    codes, total, rate = group_rates(weights, served, labels)
    broken = []
    for code, dem, r in zip(codes.tolist(), total, rate, strict=True):
        need = float(floor.get(code, 0.0)) if isinstance(floor, Mapping) else float(floor)
        if dem > 0 and r < need - RULE_TOL:
            broken.append(
                f"{group_label(code, names)} is covered {r:.4%}, below its floor {need:.4%}"
            )
    return broken
