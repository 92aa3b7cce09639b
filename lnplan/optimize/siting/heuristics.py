"""Heuristics of the siting models, each named for the model it serves.

- covering models (MCLP, set cover, equity): :func:`_greedy` (marginal covered weight, the rules
  kept) and :func:`_swap_improve` (best-improvement swaps);
- p-median / facility location: :func:`_median_heuristic` (greedy add, then
  :func:`_fast_swap`, the Whitaker / Resende-Werneck interchange over dense row blocks).

Their answers are incumbents and fallbacks only: every answer a model returns is checked by
:mod:`._verify`.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy import sparse

from lnplan.optimize.siting._common import dense_row_slices, greedy_order_ok, rules_hold, swap_mask
from lnplan.optimize.siting._model import RULE_TOL, FloatArray, IntArray, PreparedRules
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


# --- p-median ---------------------------------------------------------------------------------


def _cost_of(d: FloatArray, w: FloatArray, open_cols: IntArray, f: FloatArray) -> float:
    if open_cols.size == 0:
        return math.inf
    dist = d[:, open_cols].min(axis=1)
    act = w > 0
    return float((w[act] * dist[act]).sum() + f[open_cols].sum())


def _finite_or_big(d: FloatArray, rows: IntArray) -> FloatArray:
    """``d[rows]`` with unreachable entries as 1e18, built by row blocks (one copy, no more)."""
    out = np.empty((rows.size, d.shape[1]))
    for blk_rows in dense_row_slices(rows.size, d.shape[1]):
        blk = d[rows[blk_rows]]
        out[blk_rows] = np.where(np.isfinite(blk), blk, 1e18)
    return out


def _cost_with_each(da: FloatArray, wa: FloatArray, d1: FloatArray) -> FloatArray:
    """Per column ``k``: ``sum_i wa_i min(d1_i, da_ik)`` (the cost with site ``k`` added)."""
    out = np.zeros(da.shape[1])
    for rows in dense_row_slices(da.shape[0], da.shape[1]):
        out += wa[rows] @ np.minimum(d1[rows, None], da[rows])
    return out


def _median_heuristic(
    d: FloatArray,
    w: FloatArray,
    f: FloatArray,
    rules: PreparedRules,
    n_sites: int | None,
    deadline: float,
) -> IntArray | None:
    """Greedy (add the best site) then best-improvement swaps; None when the rules defeat greedy."""
    _n, m = d.shape
    act = w > 0
    da = _finite_or_big(d, np.flatnonzero(act))
    wa = w[act]
    chosen: list[int] = [int(j) for j in rules.existing]
    d1 = da[:, chosen].min(axis=1) if chosen else np.full(da.shape[0], 1e18)
    target = n_sites if n_sites is not None else m
    cols = np.arange(m)
    # Group minimums first, then free choice.
    if rules.group_of is not None and rules.group_min:
        for g, lo in sorted(rules.group_min.items()):
            while int((rules.group_of[chosen] == g).sum() if chosen else 0) < lo:
                pool = np.flatnonzero(
                    rules.allowed & (rules.group_of == g) & ~np.isin(cols, chosen)
                )
                pool = np.array(
                    [j for j in pool if greedy_order_ok(chosen, int(j), rules, None)], np.int64
                )
                if pool.size == 0:
                    return None
                val = (wa[:, None] * np.minimum(d1[:, None], da[:, pool])).sum(axis=0) + f[pool]
                j = int(pool[np.argmin(val)])
                chosen.append(j)
                d1 = np.minimum(d1, da[:, j])
    current = float((wa * d1).sum() + f[chosen].sum()) if chosen else math.inf
    while len(chosen) < target:
        if time.perf_counter() > deadline:
            return None
        val = _cost_with_each(da, wa, d1) + f
        val[~rules.allowed] = np.inf
        val[chosen] = np.inf
        picked = -1
        for j in np.argsort(val, kind="stable")[:200]:
            if not np.isfinite(val[j]):
                break
            if greedy_order_ok(chosen, int(j), rules, n_sites):
                picked = int(j)
                break
        if picked < 0:
            return None
        new_cost = float(val[picked] + f[chosen].sum())
        if n_sites is None and chosen and new_cost >= current - 1e-12:
            break
        chosen.append(picked)
        d1 = np.minimum(d1, da[:, picked])
        current = new_cost
    open_cols = np.asarray(sorted(chosen), np.int64)
    if not rules_hold(open_cols, rules, n_sites):
        return None
    return _fast_swap(da, wa, f, rules, open_cols, deadline)


def _fast_swap(
    da: FloatArray,
    wa: FloatArray,
    f: FloatArray,
    rules: PreparedRules,
    open_cols: IntArray,
    deadline: float,
) -> IntArray:
    """Best-improvement interchange with all swap values from two O(n m) passes per move.

    The passes run over row blocks (:func:`dense_row_slices`), so their temporaries stay small
    next to the cost matrix.
    """
    n, m = da.shape
    cols = np.arange(m)
    current = open_cols.copy()
    blocks = dense_row_slices(n, m)
    for _ in range(10_000):
        if time.perf_counter() > deadline or current.size == 0:
            break
        sub = da[:, current]
        order = np.argsort(sub, axis=1)[:, :2]
        c1 = current[order[:, 0]]
        d1 = sub[np.arange(n), order[:, 0]]
        d2 = sub[np.arange(n), order[:, 1]] if current.size > 1 else np.full(n, 1e18)
        base = float((wa * d1).sum() + f[current].sum())
        pos = np.searchsorted(current, c1)
        add = np.zeros(m)  # cost with k added, nothing removed
        g = np.zeros((current.size, m))  # extra cost of removing each open site, per k
        for rows in blocks:
            blk = da[rows]
            with_k = np.minimum(d1[rows, None], blk)
            add += wa[rows] @ with_k
            corr = np.minimum(d2[rows, None], blk)
            corr -= with_k
            corr *= wa[rows, None]
            # Sum the correction rows per nearest site (sorted segments, not a scattered add).
            p_rows = pos[rows]
            by_site = np.argsort(p_rows, kind="stable")
            present, starts = np.unique(p_rows[by_site], return_index=True)
            g[present] += np.add.reduceat(corr[by_site], starts, axis=0)
        total = add[None, :] + g + f[current].sum() - f[current][:, None] + f[None, :]
        ok = swap_mask(current, cols, rules)
        total[~ok] = np.inf
        a, b = np.unravel_index(int(np.argmin(total)), total.shape)
        if not total[a, b] < base - 1e-9 * max(1.0, abs(base)):
            break
        current = np.sort(np.concatenate([np.delete(current, a), [b]]))
    return current
