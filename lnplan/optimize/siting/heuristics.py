"""Heuristics of the covering models: a greedy that respects the rules and best-improvement swaps.

Their answers are incumbents and fallbacks only: every answer a model returns is checked by
:mod:`._verify`.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse

from lnplan.optimize.siting._common import greedy_order_ok, swap_mask
from lnplan.optimize.siting._model import RULE_TOL, IntArray, PreparedRules
from lnplan.optimize.siting.reduction import _Reduced


def _greedy(
    red: _Reduced,
    rules: PreparedRules,
    n_pick: int,
    n_sites: int | None,
    *,
    target_weight: float | None = None,
) -> IntArray | None:
    """Greedy by marginal covered weight; returns model column indices or None if rules fail."""
    mat, w = red.mat, red.w
    csc = sparse.csc_array(mat)
    covered = np.zeros(mat.shape[0], dtype=np.bool_)
    gain = np.asarray(csc.T @ w).ravel() if mat.shape[0] else np.zeros(mat.shape[1])
    chosen_cols: list[int] = []
    chosen_cand: list[int] = list(red.outside_open.tolist())
    existing_cols = np.flatnonzero(np.isin(red.cols, rules.existing))
    total = 0.0

    def take(j: int) -> None:
        nonlocal total
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        new = rows[~covered[rows]]
        covered[new] = True
        total += float(w[new].sum())
        if new.size:
            sub = mat[new]
            np.subtract.at(gain, sub.indices, np.repeat(w[new], np.diff(sub.indptr)))
        gain[j] = -np.inf
        chosen_cols.append(j)
        chosen_cand.append(int(red.cols[j]))

    for j in existing_cols:
        take(int(j))
    # Group minimums first.
    if rules.group_of is not None and rules.group_min:
        g_cols = rules.group_of[red.cols]
        for g, lo in sorted(rules.group_min.items()):
            while _count_in_group(chosen_cand, rules, g) < lo:
                pool = np.flatnonzero((g_cols == g) & np.isfinite(gain))
                pool = pool[
                    [greedy_order_ok(chosen_cand, int(red.cols[j]), rules, None) for j in pool]
                ]
                if pool.size == 0:
                    return None
                take(int(pool[np.argmax(gain[pool])]))
    budget_cost = (
        rules.cost[red.cols]
        if rules.budget is not None and rules.cost is not None and target_weight is None
        else None
    )
    while len(chosen_cols) < n_pick:
        if target_weight is not None and total >= target_weight:
            break
        order = np.argsort(-gain, kind="stable")
        order = order[np.isfinite(gain[order])]
        if budget_cost is not None and rules.budget is not None:
            # Leave room in the budget for the cheapest sites still to be picked.
            need = n_pick - len(chosen_cols) - 1
            spent = float(budget_cost[np.asarray(chosen_cols, np.int64)].sum()) + float(
                rules.cost[red.outside_open].sum() if rules.cost is not None else 0.0
            )
            rest = np.sort(budget_cost[np.isfinite(gain)])
            if need > 0:
                cheapest = float(rest[:need].sum())
                with_j = float(rest[: need + 1].sum())
                other = np.where(
                    budget_cost[order] <= rest[need - 1], with_j - budget_cost[order], cheapest
                )
            else:
                other = np.zeros(order.size)
            fits = within_each(spent + budget_cost[order] + other, rules.budget)
            order = order[fits]
        picked = False
        for j in order[:200]:
            if greedy_order_ok(chosen_cand, int(red.cols[j]), rules, n_sites):
                take(int(j))
                picked = True
                break
        if not picked:
            return None
    return np.asarray(chosen_cols, np.int64)


def _count_in_group(chosen: list[int], rules: PreparedRules, g: int) -> int:
    if not chosen or rules.group_of is None:
        return 0
    return int((rules.group_of[np.asarray(chosen, np.int64)] == g).sum())


def _swap_improve(
    red: _Reduced,
    rules: PreparedRules,
    start: IntArray,
    deadline: float,
    *,
    max_rounds: int = 1000,
) -> IntArray:
    """Best-improvement swaps (close one open site, open one other) until none improves."""
    mat, w = red.mat, red.w
    if mat.shape[0] == 0 or start.size == 0:
        return start
    csc = sparse.csc_array(mat)
    k = mat.shape[1]
    is_open = np.zeros(k, dtype=np.bool_)
    is_open[start] = True
    all_cols = np.arange(k)
    for _ in range(max_rounds):
        if time.perf_counter() > deadline:
            break
        cnt = np.asarray(mat @ is_open.astype(np.float64)).ravel()
        gain = np.asarray(csc.T @ (w * (cnt == 0))).ravel()
        open_cols = np.flatnonzero(is_open)
        r1 = np.flatnonzero(cnt == 1)
        sub = mat[r1].multiply(is_open[None, :].astype(np.float64))
        sub = sparse.csr_array(sub)
        sub.eliminate_zeros()
        sole = sub.indices  # one open site per row of r1
        pos = np.searchsorted(open_cols, sole)
        loss = np.bincount(pos, weights=w[r1], minlength=open_cols.size)
        onehot = sparse.csr_array(
            (w[r1], (pos, np.arange(r1.size))), shape=(open_cols.size, r1.size)
        )
        regain = (onehot @ mat[r1]).toarray()  # open x k
        delta = gain[None, :] - loss[:, None] + regain
        cand_all = red.cols[open_cols]
        ok = swap_mask(np.concatenate([cand_all, red.outside_open]), red.cols[all_cols], rules)[
            : open_cols.size
        ]
        delta[~ok] = -np.inf
        a, b = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if not delta[a, b] > 1e-9 * max(1.0, float(w.sum())):
            break
        is_open[open_cols[a]] = False
        is_open[b] = True
    return np.flatnonzero(is_open)


def within_each(amounts: np.ndarray, limit: float) -> np.ndarray:
    """Elementwise :func:`._model.within`: ``amounts <= limit`` up to ``RULE_TOL`` relative."""
    return np.asarray(amounts <= limit + RULE_TOL * max(1.0, abs(limit)))
