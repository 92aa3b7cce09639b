"""Exact reductions of a covering model (MCLP, set cover, equity) before it is solved.

- demand covered by a site that is open anyway is counted and removed (``pre_covered``);
- demand points with identical cover sets (and equity group) are merged into one row with the
  summed weight;
- candidates whose cover set is contained in another compatible candidate's are dropped
  (dominance), keeping enough per group for the rules;
- :func:`_restrict` narrows a reduced model to a set of sites (the Benders path's fixings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from lnplan.errors import InputError
from lnplan.optimize.siting._common import csr_rows_equal_groups
from lnplan.optimize.siting._model import FloatArray, IntArray, PreparedRules


@dataclass(frozen=True)
class _Reduced:
    mat: sparse.csr_array  # merged rows x model columns (pattern, float 1.0)
    w: FloatArray  # weight per merged row
    row_group: IntArray  # equity group index per merged row (0 without equity)
    cols: IntArray  # candidate index of each model column
    member: IntArray  # merged row of each original demand point, -1 if not in the model
    pre_covered: npt.NDArray[np.bool_]  # original demand points covered by outside_open
    outside_open: IntArray  # open candidates not in the model
    dropped_dominated: int


def _pattern(covers: object, n: int) -> sparse.csr_array:
    if not sparse.issparse(covers):
        raise InputError("covers must be a scipy.sparse matrix (demand x candidate)")
    c = sparse.csr_array(covers)
    if c.shape[0] != n:
        raise InputError(f"covers has {c.shape[0]} rows but there are {n} demand points (weights)")
    c.sum_duplicates()
    c.sort_indices()
    c.eliminate_zeros()
    return c


def _fsum(index: npt.ArrayLike, weights: FloatArray, size: int) -> FloatArray:
    """Sum ``weights`` by ``index`` into ``size`` bins (float64)."""
    out: FloatArray = np.bincount(np.asarray(index), weights=weights, minlength=size).astype(
        np.float64
    )
    return out


def _reduce(
    c: sparse.csr_array,
    w: FloatArray,
    rules: PreparedRules,
    *,
    outside_open: IntArray,
    removed_cols: npt.NDArray[np.bool_] | None,
    group_idx: IntArray | None,
    n_free: int | None,
    dominance: bool,
) -> _Reduced:
    n, m = c.shape
    if outside_open.size:
        pre = np.asarray(c[:, outside_open].astype(np.float32).sum(axis=1)).ravel() > 0
    else:
        pre = np.zeros(n, dtype=np.bool_)
    col_ok = rules.allowed.copy()
    col_ok[outside_open] = False
    if removed_cols is not None:
        col_ok &= ~removed_cols
    cols = np.flatnonzero(col_ok)
    rows = np.flatnonzero((w > 0) & ~pre)
    sub = c if rows.size == n else c[rows]
    if cols.size < m:
        sub = sub[:, cols]
    sub = sparse.csr_array(sub)
    sub.sort_indices()
    has = np.diff(sub.indptr) > 0
    if not has.all():
        rows, sub = rows[has], sparse.csr_array(sub[has])
    key = None if group_idx is None else group_idx[rows]
    first, inv = csr_rows_equal_groups(sub, key)
    del sub
    merged = c[rows[first]]
    if cols.size < m:
        merged = merged[:, cols]
    mat = sparse.csr_array(merged, dtype=np.float64)
    mat.data[:] = 1.0
    mat.sort_indices()
    wm = _fsum(inv, w[rows], first.size)
    rg = np.zeros(first.size, np.int64) if group_idx is None else group_idx[rows[first]]
    member = np.full(n, -1, np.int64)
    member[rows] = inv
    dropped = 0
    if dominance and mat.shape[0] and rules.capacity is None and rules.budget is None:
        keep = _undominated(mat, cols, rules, n_free)
        dropped = int((~keep).sum())
        if dropped:
            cols = cols[keep]
            mat = sparse.csr_array(mat[:, np.flatnonzero(keep)])
            # Re-merge: rows may now coincide.
            first2, inv2 = csr_rows_equal_groups(mat, rg)
            mat = sparse.csr_array(mat[first2])
            wm = _fsum(inv2, wm, first2.size)
            rg = rg[first2]
            member = np.where(member >= 0, inv2[np.maximum(member, 0)], -1)
    return _Reduced(mat, wm, rg, cols, member, pre, outside_open, dropped)


def _undominated(
    mat: sparse.csr_array, cols: IntArray, rules: PreparedRules, n_free: int | None
) -> npt.NDArray[np.bool_]:
    """Columns to keep: drop a column whose rows are a subset of another compatible column's."""
    k = mat.shape[1]
    keep = np.ones(k, dtype=np.bool_)
    row_len = np.diff(mat.indptr).astype(np.float64)
    if float((row_len**2).sum()) > 6e7 or k < 2:
        return keep
    csc = sparse.csc_array(mat)
    size = np.diff(csc.indptr)
    group = rules.group_of[cols] if rules.group_of is not None else np.zeros(k, np.int64)
    cost = rules.cost[cols] if rules.cost is not None else np.zeros(k)
    is_existing = np.isin(cols, rules.existing)
    matT = sparse.csr_array(csc.T)
    block = 512
    order = np.arange(k)
    for s in range(0, k, block):
        b = slice(s, min(s + block, k))
        overlap = (matT[b] @ mat).toarray()  # block x k: rows shared
        sz_j = size[b][:, None]
        sz_k = size[None, :]
        contained = overlap >= sz_j  # column j's rows all inside column k's
        better = (sz_k > sz_j) | (
            (sz_k == sz_j)
            & ((cost[None, :] < cost[b][:, None]) | (order[None, :] < order[b][:, None]))
        )
        compat = (group[None, :] == group[b][:, None]) & (cost[None, :] <= cost[b][:, None])
        dom = contained & better & compat
        dom[np.arange(dom.shape[0]), np.arange(s, b.stop)] = False
        keep[b] &= ~dom.any(axis=1)
    keep |= is_existing
    # Keep enough columns per group (and overall) for the number of sites to fit.
    if n_free is not None:
        codes = np.unique(group)
        for g in codes:
            in_g = group == g
            hi = rules.group_max.get(int(g), n_free) if rules.group_of is not None else n_free
            need = min(int(in_g.sum()), hi, n_free)
            if int((keep & in_g).sum()) < need:
                keep[in_g] = True
        if int(keep.sum()) < n_free:
            keep[:] = True
    return keep


def _restrict(
    red: _Reduced, keep: npt.NDArray[np.bool_], opened: npt.NDArray[np.bool_]
) -> _Reduced:
    """The model with only the columns ``keep``; the columns ``opened`` open outside it.

    Rows reached by an opened column count as covered (``pre_covered``); rows no kept column
    reaches leave the model; rows that now share their cover set (and equity group) are merged.
    """
    mat = red.mat
    r = mat.shape[0]
    if opened.any():
        hit = np.asarray(mat @ opened.astype(np.float64)).ravel() > 0
    else:
        hit = np.zeros(r, dtype=np.bool_)
    cols_keep = np.flatnonzero(keep & ~opened)
    rows = np.flatnonzero(~hit)
    sub = sparse.csr_array(sparse.csr_array(mat[rows])[:, cols_keep])
    sub.sort_indices()
    has = np.diff(sub.indptr) > 0
    if not has.all():
        rows, sub = rows[has], sparse.csr_array(sub[np.flatnonzero(has)])
    first, inv = csr_rows_equal_groups(sub, red.row_group[rows])
    mat2 = sparse.csr_array(sub[first])
    w2 = _fsum(inv, red.w[rows], first.size)
    old_to_new = np.full(max(r, 1), -1, np.int64)
    old_to_new[rows] = inv
    inside = red.member >= 0
    safe = np.where(inside, red.member, 0)
    member = np.where(inside, old_to_new[safe], -1)
    pre = red.pre_covered | (inside & hit[safe])
    outside = np.concatenate([red.outside_open, red.cols[opened]]).astype(np.int64)
    return _Reduced(
        mat2, w2, red.row_group[rows[first]], red.cols[cols_keep], member, pre, outside, 0
    )


def _covered_weight(red: _Reduced, open_cols: IntArray) -> float:
    if red.mat.shape[0] == 0:
        return 0.0
    x = np.zeros(red.mat.shape[1])
    x[open_cols] = 1.0
    return float(red.w[np.asarray(red.mat @ x).ravel() > 0].sum())
