"""Readers for classic facility-location benchmark files (OR-Library) into siting problems.

- ``orlib-pmed`` (Beasley 1990, ``pmed1``..``pmed40``): first line ``n m p`` (nodes, edges,
  medians), then ``m`` lines ``i j cost`` of an undirected graph with nodes numbered from 1.
  Distances are shortest-path lengths. The files contain duplicate edges; the published optima
  hold when the LAST occurrence of an edge defines its cost. Every node is a demand point with
  weight 1 and a candidate site.
- ``orlib-cap`` (Beasley 1988, ``cap41``..``cap134``, ``capa``..``capc``): first ``m n``
  (warehouses, customers), then per warehouse ``capacity fixed_cost``, then per customer its demand
  followed by ``m`` allocation costs (the cost of serving ALL of that customer's demand from each
  warehouse). ``capa``-``capc`` have the literal word ``capacity`` instead of a number; pass
  ``capacity=`` to set every warehouse's capacity. Demand may be split between warehouses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from lnplan.errors import InputError
from lnplan.optimize.siting import SiteRules
from lnplan.optimize.siting.median import MedianProblem


def _tokens(path: Path) -> list[tuple[str, int]]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the file ({exc.strerror})") from None
    out: list[tuple[str, int]] = []
    for no, line in enumerate(text.splitlines(), start=1):
        out.extend((tok, no) for tok in line.split())
    return out


def _number(tok: tuple[str, int], path: Path, what: str, *, integer: bool = False) -> float:
    text, line = tok
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{path}, line {line}: {what} must be a number, got {text!r}") from None
    if not np.isfinite(value):
        raise InputError(f"{path}, line {line}: {what} must be finite, got {text!r}")
    if integer and value != int(value):
        raise InputError(f"{path}, line {line}: {what} must be a whole number, got {text!r}")
    return value


def read_orlib_pmed(path: str | Path) -> MedianProblem:
    """Read an OR-Library p-median file into a :class:`MedianProblem` (shortest-path costs).

    Raises
    ------
    InputError
        A missing or malformed number, a node outside ``1..n``, a negative cost, or a graph
        whose nodes are not all connected; the message gives the line.
    """
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except OSError as exc:
        raise InputError(f"{p}: cannot read the file ({exc.strerror})") from None
    rows = [(no, line.split()) for no, line in enumerate(lines, start=1) if line.strip()]
    if not rows:
        raise InputError(f"{p}: the file is empty; expected a first line 'n m p'")
    no, head = rows[0]
    if len(head) != 3:
        raise InputError(f"{p}, line {no}: expected 'n m p' (3 numbers), got {len(head)} fields")
    n, m, n_med = (
        int(_number((t, no), p, name, integer=True)) for t, name in zip(head, "nmp", strict=True)
    )
    if n < 1 or m < 0 or not 1 <= n_med <= n:
        raise InputError(
            f"{p}, line {no}: need n >= 1, m >= 0 and 1 <= p <= n, got {n} {m} {n_med}"
        )
    edges = rows[1:]
    if len(edges) < m:
        raise InputError(f"{p}: the header announces {m} edges but the file has {len(edges)}")
    ij = np.empty((m, 2), np.int64)
    cost = np.empty(m)
    for k, (no, f) in enumerate(edges[:m]):
        if len(f) != 3:
            raise InputError(
                f"{p}, line {no}: expected 'i j cost' (3 numbers), got {len(f)} fields"
            )
        i = int(_number((f[0], no), p, "node i", integer=True))
        j = int(_number((f[1], no), p, "node j", integer=True))
        c = _number((f[2], no), p, "edge cost")
        if not (1 <= i <= n and 1 <= j <= n):
            raise InputError(f"{p}, line {no}: node numbers must lie in 1..{n}, got {i} {j}")
        if c < 0:
            raise InputError(f"{p}, line {no}: edge cost must be >= 0, got {c:g}")
        ij[k] = (i - 1, j - 1)
        cost[k] = c
    lo, hi = ij.min(axis=1), ij.max(axis=1)
    key = lo * n + hi
    # The last occurrence of an edge defines its cost.
    _, last_rev = np.unique(key[::-1], return_index=True)
    last = m - 1 - last_rev
    keep = last[lo[last] != hi[last]]
    g = sparse.coo_array(
        (
            np.concatenate([cost[keep], cost[keep]]),
            (np.concatenate([lo[keep], hi[keep]]), np.concatenate([hi[keep], lo[keep]])),
        ),
        shape=(n, n),
    ).tocsr()
    # Zero-cost edges would vanish in a sparse graph; give them a tiny positive weight.
    if (g.data == 0).any():
        g.data[g.data == 0] = 1e-12
    dist = csgraph.shortest_path(g, method="D", directed=False)
    if not np.isfinite(dist).all():
        raise InputError(f"{p}: the graph is not connected; some nodes cannot reach others")
    dist[dist < 1e-9] = 0.0
    dist = np.round(dist, 9)
    return MedianProblem(weights=np.ones(n), cost=dist, n_sites=n_med)


def read_orlib_cap(path: str | Path, *, capacity: float | None = None) -> MedianProblem:
    """Read an OR-Library capacitated warehouse location file (split demand allowed).

    Parameters
    ----------
    path
        The ``cap*.txt`` file.
    capacity
        Capacity of every warehouse, required when the file has the word ``capacity`` in place of
        the numbers (``capa``, ``capb``, ``capc``); overrides the file otherwise.

    Returns
    -------
    MedianProblem
        ``weights`` = demand, ``cost`` = allocation cost per unit of demand, ``n_sites=None``,
        ``opening_cost`` = fixed costs, ``rules.capacity`` = capacities.
    """
    p = Path(path)
    toks = _tokens(p)
    if len(toks) < 2:
        raise InputError(f"{p}: expected a first line 'm n' (warehouses, customers)")
    m = int(_number(toks[0], p, "number of warehouses", integer=True))
    n = int(_number(toks[1], p, "number of customers", integer=True))
    if m < 1 or n < 1:
        raise InputError(f"{p}, line {toks[0][1]}: need m >= 1 and n >= 1, got {m} {n}")
    need = 2 + 2 * m + n * (1 + m)
    if len(toks) < need:
        last = toks[-1][1]
        raise InputError(
            f"{p}, line {last}: the file ends early: {m} warehouses and {n} customers need "
            f"{need} numbers, found {len(toks)}"
        )
    pos = 2
    caps = np.empty(m)
    fixed = np.empty(m)
    for j in range(m):
        tok = toks[pos]
        if tok[0].lower() == "capacity":
            if capacity is None:
                raise InputError(
                    f"{p}, line {tok[1]}: the file has the word 'capacity' instead of a number; "
                    "give the capacity of every warehouse (e.g. --capacity 8000)"
                )
            caps[j] = capacity
        else:
            caps[j] = _number(tok, p, f"capacity of warehouse {j + 1}")
            if capacity is not None:
                caps[j] = capacity
        fixed[j] = _number(toks[pos + 1], p, f"fixed cost of warehouse {j + 1}")
        pos += 2
    demand = np.empty(n)
    alloc = np.empty((n, m))
    for i in range(n):
        demand[i] = _number(toks[pos], p, f"demand of customer {i + 1}")
        vals = [
            _number(t, p, f"allocation cost of customer {i + 1}")
            for t in toks[pos + 1 : pos + 1 + m]
        ]
        alloc[i] = vals
        pos += 1 + m
    if (demand < 0).any() or (caps < 0).any() or (alloc < 0).any() or (fixed < 0).any():
        raise InputError(f"{p}: demands, capacities and costs must be >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.where(demand[:, None] > 0, alloc / demand[:, None], alloc)
    return MedianProblem(
        weights=demand,
        cost=per_unit,
        n_sites=None,
        opening_cost=fixed,
        rules=SiteRules(capacity=caps),
    )
