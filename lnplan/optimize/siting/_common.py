"""Pieces shared by the siting models: rule rows for the MIP, rule checks for heuristics."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.errors import InfeasibleError
from lnplan.optimize.siting._mip import MipBuilder
from lnplan.optimize.siting._model import RULE_TOL, IntArray, PreparedRules, group_label, within

BoolArray = npt.NDArray[np.bool_]


def add_rule_rows(
    mip: MipBuilder,
    y0: int,
    cols: IntArray,
    rules: PreparedRules,
    n_sites: int | None,
    outside_open: IntArray,
) -> None:
    """Add count, group and budget rows over the site variables ``y0 .. y0+len(cols)-1``.

    ``cols`` maps each site variable to its candidate; ``outside_open`` are candidates that are open
    but not in the model (their counts and costs enter as constants).
    """
    k = cols.size
    idx = np.arange(y0, y0 + k)
    if n_sites is not None:
        rest = n_sites - outside_open.size
        mip.add_row(idx, 1.0, rest, rest)
    if rules.group_of is not None and (rules.group_min or rules.group_max):
        g_cols = rules.group_of[cols]
        g_out = rules.group_of[outside_open]
        for g in sorted(set(rules.group_min) | set(rules.group_max)):
            out = float((g_out == g).sum())
            lo = rules.group_min.get(g, 0) - out
            hi = rules.group_max.get(g)
            hi_v = np.inf if hi is None else hi - out
            sel = idx[g_cols == g]
            if sel.size == 0:
                # No site of the group is left in the model: its bounds must hold already.
                if lo > 0 or hi_v < 0:
                    name = group_label(g, rules.group_names)
                    have = int(out)
                    raise InfeasibleError(
                        f"{name} needs between {rules.group_min.get(g, 0)} and "
                        f"{'any number of' if hi is None else hi} sites, but has {have} open and "
                        f"no candidate left to choose (short by {max(lo, 0):g})"
                        if lo > 0
                        else f"{name} has {have} sites open, above its maximum of {hi} "
                        f"(over by {-hi_v:g})"
                    )
                continue
            mip.add_row(sel, 1.0, lo, hi_v)
    if rules.budget is not None and rules.cost is not None:
        spent = float(rules.cost[outside_open].sum())
        mip.add_row(idx, rules.cost[cols], -np.inf, rules.budget - spent)


def site_bounds(cols: IntArray, rules: PreparedRules) -> tuple[np.ndarray, np.ndarray]:
    """Lower/upper bounds of the site variables: existing sites fixed open."""
    lb = np.zeros(cols.size)
    lb[np.isin(cols, rules.existing)] = 1.0
    return lb, np.ones(cols.size)


def rules_hold(open_sites: IntArray, rules: PreparedRules, n_sites: int | None) -> bool:
    """True when ``open_sites`` (candidate indices) satisfies every rule."""
    s = np.unique(open_sites)
    if n_sites is not None and s.size != n_sites:
        return False
    if not rules.allowed[s].all() or not np.isin(rules.existing, s).all():
        return False
    if rules.group_of is not None:
        g = rules.group_of[s]
        for code, lo in rules.group_min.items():
            if (g == code).sum() < lo:
                return False
        for code, hi in rules.group_max.items():
            if (g == code).sum() > hi:
                return False
    return not (
        rules.budget is not None
        and rules.cost is not None
        and not within(float(rules.cost[s].sum()), rules.budget)
    )


def swap_mask(open_sites: IntArray, cols: IntArray, rules: PreparedRules) -> BoolArray:
    """Which swaps (close ``open_sites[a]``, open ``cols[b]``) keep the rules; (open, cols)."""
    ok = np.ones((open_sites.size, cols.size), dtype=np.bool_)
    ok[:, np.isin(cols, open_sites)] = False
    ok[np.isin(open_sites, rules.existing), :] = False
    ok[:, ~rules.allowed[cols]] = False
    if rules.group_of is not None and (rules.group_min or rules.group_max):
        g_open = rules.group_of[open_sites]
        g_cols = rules.group_of[cols]
        codes, counts = np.unique(g_open, return_counts=True)
        count = dict(zip(codes.tolist(), counts.tolist(), strict=True))
        can_leave = np.array(
            [count.get(g, 0) - 1 >= rules.group_min.get(g, 0) for g in g_open.tolist()], bool
        )
        can_join = np.array(
            [count.get(g, 0) + 1 <= rules.group_max.get(g, 10**12) for g in g_cols.tolist()], bool
        )
        same = g_open[:, None] == g_cols[None, :]
        ok &= same | (can_leave[:, None] & can_join[None, :])
    if rules.budget is not None and rules.cost is not None:
        spent = rules.cost[open_sites].sum()
        new = spent - rules.cost[open_sites][:, None] + rules.cost[cols][None, :]
        ok &= new <= rules.budget + RULE_TOL * max(1.0, rules.budget)
    return ok


def greedy_order_ok(
    chosen: list[int], cand: int, rules: PreparedRules, n_sites: int | None
) -> bool:
    """Can ``cand`` join ``chosen`` while leaving room to meet group minimums and the budget?"""
    if rules.group_of is not None and (rules.group_min or rules.group_max):
        g = int(rules.group_of[cand])
        have = np.asarray(rules.group_of[chosen]) if chosen else np.zeros(0, np.int64)
        if (have == g).sum() + 1 > rules.group_max.get(g, 10**12):
            return False
        if n_sites is not None:
            left = n_sites - len(chosen) - 1
            need = 0
            for code, lo in rules.group_min.items():
                c = int((have == code).sum()) + (1 if code == g else 0)
                need += max(lo - c, 0)
            if need > left:
                return False
    if rules.budget is not None and rules.cost is not None:
        spent = float(rules.cost[chosen].sum()) if chosen else 0.0
        if not within(spent + float(rules.cost[cand]), rules.budget):
            return False
    return True


def _ragged_positions(indptr: IntArray, rows: IntArray) -> IntArray:
    """Positions in ``indices`` of all entries of ``rows`` (in row order)."""
    starts = indptr[rows]
    lens = indptr[rows + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.cumsum(lens) - lens
    return np.repeat(starts - offsets, lens) + np.arange(total)


def csr_rows_equal_groups(
    mat: sparse.csr_array, extra_key: IntArray | None = None, *, chunk: int = 50_000
) -> tuple[IntArray, IntArray]:
    """Group identical rows (same column set, same ``extra_key``); ``mat`` has sorted indices.

    Rows are keyed by their length and two random-projection hashes, then every row is compared
    entry by entry with the first row of its group (collisions, if any, are split off exactly).
    Works in chunks of rows to keep memory low. Returns ``(first, inverse)``: the first row of each
    group and each row's group number.
    """
    n = mat.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    indptr = np.asarray(mat.indptr, np.int64)
    indices = mat.indices
    length = np.diff(indptr)
    rng = np.random.default_rng(12345)
    r1 = rng.random(mat.shape[1])
    r2 = rng.random(mat.shape[1])
    h1 = np.zeros(n)
    h2 = np.zeros(n)
    for s in range(0, n, chunk):
        rows = np.arange(s, min(s + chunk, n))
        pos = _ragged_positions(indptr, rows)
        owner = np.repeat(rows - s, length[rows])
        h1[rows] = np.bincount(owner, weights=r1[indices[pos]], minlength=rows.size)
        h2[rows] = np.bincount(owner, weights=r2[indices[pos]], minlength=rows.size)
    cols = [length.astype(np.float64), h1, h2]
    if extra_key is not None:
        cols.append(np.asarray(extra_key, np.float64))
    keys = np.column_stack(cols)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel().astype(np.int64)
    first = first.astype(np.int64)
    rep = first[inverse]
    ok = True
    for s in range(0, n, chunk):
        rows = np.arange(s, min(s + chunk, n))
        a = indices[_ragged_positions(indptr, rows)]
        b = indices[_ragged_positions(indptr, rep[rows])]
        if not np.array_equal(a, b):
            ok = False
            break
    if ok:
        return first, inverse
    # Hash collision (astronomically unlikely): exact grouping by row contents.
    seen: dict[tuple[bytes, int], int] = {}
    inverse = np.empty(n, np.int64)
    firsts: list[int] = []
    for i in range(n):
        key = (
            indices[indptr[i] : indptr[i + 1]].tobytes(),
            int(extra_key[i]) if extra_key is not None else 0,
        )
        if key not in seen:
            seen[key] = len(firsts)
            firsts.append(i)
        inverse[i] = seen[key]
    return np.asarray(firsts, np.int64), inverse


def dense_row_slices(n: int, m: int, cells: int = 1 << 20) -> list[slice]:
    """Slices of about ``cells`` entries over the rows of an ``n x m`` matrix (memory-bounded
    passes over dense cost matrices)."""
    step = max(1, cells // max(m, 1))
    return [slice(s, min(s + step, n)) for s in range(0, n, step)]
