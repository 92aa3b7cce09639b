"""p-median exact path (Lagrangian elimination, reduced radius MIP) against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lnplan.optimize.siting import MedianProblem, SiteRules, SolveParams, median, solve_p_median
from lnplan.optimize.siting._common import rules_hold
from lnplan.optimize.siting._median_lagrange import (
    branch_and_bound,
    lagrangian_reduce,
    probe_sites,
    start_multipliers,
)
from lnplan.optimize.siting._model import prepare_rules

PARAMS = SolveParams(time_limit_s=30, seed=0)


def _instance(seed: int, n: int = 12, m: int = 9, integral: bool = True):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2)) * 100
    cand = rng.random((m, 2)) * 100
    d = np.linalg.norm(pts[:, None, :] - cand[None, :, :], axis=2)
    w = rng.integers(0, 5, n).astype(float)
    w[0] = 3.0
    if integral:
        d = np.round(d)
    else:
        w = w + rng.random(n) * (w > 0)
    return w, d


def _brute(w, d, n_sites, rules: SiteRules, f=None):  # type: ignore[no-untyped-def]
    m = d.shape[1]
    f = np.zeros(m) if f is None else f
    prep = prepare_rules(rules, m, n_sites, total_demand=float(w.sum()))
    sizes = [n_sites] if n_sites is not None else range(1, m + 1)
    best = math.inf
    for k in sizes:
        for combo in itertools.combinations(range(m), k):
            s = np.array(combo, np.int64)
            if not rules_hold(s, prep, n_sites):
                continue
            act = w > 0
            val = float((w[act] * d[np.ix_(act, s)].min(axis=1)).sum() + f[s].sum())
            best = min(best, val)
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 4])
def test_p_median_matches_brute_force(seed: int, p: int) -> None:
    w, d = _instance(seed, integral=seed % 2 == 0)
    r = solve_p_median(MedianProblem(w, d, p), PARAMS)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(_brute(w, d, p, SiteRules()), rel=1e-9, abs=1e-9)
    assert r.bound <= r.objective + 1e-9
    assert r.chosen.size == p


@pytest.mark.parametrize("seed", range(4))
def test_p_median_rules_match_brute_force(seed: int) -> None:
    w, d = _instance(seed + 10)
    m = d.shape[1]
    group = np.arange(m) % 3
    cost = np.arange(m, dtype=float) + 1.0
    cases = [
        SiteRules(existing=np.array([seed % m])),
        SiteRules(excluded=np.array([0, 1, 2])),
        SiteRules(candidate_group=group, group_min={0: 2}, group_max={1: 0}),
        SiteRules(site_cost_yuan=cost, budget_yuan=12.0),
    ]
    for rules in cases:
        r = solve_p_median(MedianProblem(w, d, 3, rules=rules), PARAMS)
        assert r.status == "optimal"
        assert r.objective == pytest.approx(_brute(w, d, 3, rules), abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_facility_location_matches_brute_force(seed: int) -> None:
    w, d = _instance(seed + 20, m=8)
    f = np.random.default_rng(seed).integers(20, 200, d.shape[1]).astype(float)
    rules = SiteRules(existing=np.array([1])) if seed % 2 else SiteRules()
    r = solve_p_median(MedianProblem(w, d, None, opening_cost=f, rules=rules), PARAMS)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(_brute(w, d, None, rules, f), abs=1e-9)


def test_unreachable_pairs() -> None:
    w, d = _instance(3)
    d[d > 60] = np.inf
    r = solve_p_median(MedianProblem(w, d, 3), PARAMS)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(_brute(w, d, 3, SiteRules()))


@pytest.mark.parametrize("seed", range(5))
def test_lagrangian_bound_and_elimination_are_valid(seed: int) -> None:
    """The bound never exceeds the optimum; no optimal solution uses an eliminated site or
    serves a point beyond its cap; forced sites are open in every optimal solution."""
    w, d = _instance(seed + 30)
    act = w > 0
    wd = w[act, None] * d[act]
    m = d.shape[1]
    p = 2
    combos = [np.array(c) for c in itertools.combinations(range(m), p)]
    values = [float((w * d[:, s].min(axis=1)).sum()) for s in combos]
    opt = min(values)
    inc = combos[int(np.argmin(values))]
    # Pretend the incumbent is worth opt + 1: the optimal solutions are the improving ones.
    ub = opt + 1.0
    out = lagrangian_reduce(
        wd,
        np.zeros(m),
        np.ones(m, bool),
        np.zeros(m, bool),
        p,
        ub,
        1.0,
        start_multipliers(wd, inc),
        deadline=math.inf,
        max_iter=500,
    )
    assert out.bound <= opt + 1e-6
    assert not out.keep.all()  # the test exercises elimination
    for s, val in zip(combos, values, strict=True):
        if val > ub - 1.0 + 1e-9:
            continue  # not an improving solution
        assert out.keep[s].all()
        assert np.isin(np.flatnonzero(out.force), s).all()
        assert (wd[:, s].min(axis=1) <= out.cap + 1e-9).all()


def test_large_weights_not_integral_stay_exact() -> None:
    w, d = _instance(7, integral=False)
    r = solve_p_median(MedianProblem(w * 1000.3, d, 2), PARAMS)
    assert r.objective == pytest.approx(_brute(w * 1000.3, d, 2, SiteRules()), rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_probing_keeps_the_sites_of_improving_solutions(seed: int) -> None:
    w, d = _instance(seed + 40, n=14, m=10)
    act = w > 0
    wd = w[act, None] * d[act]
    m = d.shape[1]
    p = 3
    combos = [np.array(c) for c in itertools.combinations(range(m), p)]
    values = np.array([float((w * d[:, s].min(axis=1)).sum()) for s in combos])
    opt = float(values.min())
    ub = opt + 1.0
    inc = combos[int(np.argmin(values))]
    alive = probe_sites(
        wd,
        np.zeros(m),
        np.ones(m, bool),
        np.zeros(m, bool),
        p,
        ub,
        1.0,
        start_multipliers(wd, inc),
        deadline=math.inf,
    )
    for s, val in zip(combos, values, strict=True):
        if val <= opt + 1e-9:
            assert alive[s].all()
    assert alive.sum() < m


@pytest.mark.parametrize("seed", range(6))
def test_branch_and_bound_finds_the_optimum(seed: int) -> None:
    """From a poor incumbent, with and without a rule the relaxation ignores (a group cap)."""
    w, d = _instance(seed + 50, n=16, m=11, integral=seed % 2 == 0)
    act = w > 0
    wd = w[act, None] * d[act]
    m = d.shape[1]
    p = 3
    group = np.arange(m) % 2
    cap_group = seed % 3 == 0  # at most one site of group 1

    def evaluate(sel: np.ndarray) -> float:
        if cap_group and (group[sel] == 1).sum() > 1:
            return math.inf
        return float((w[act] * d[np.ix_(act, sel)].min(axis=1)).sum())

    values = [evaluate(np.array(c)) for c in itertools.combinations(range(m), p)]
    opt = min(values)
    worst = max(v for v in values if math.isfinite(v))
    out = branch_and_bound(
        wd,
        np.zeros(m),
        np.ones(m, bool),
        np.zeros(m, bool),
        p,
        worst,
        1.0 if seed % 2 == 0 else 1e-9,
        wd.min(axis=1),
        evaluate,
        deadline=math.inf,
    )
    assert out.finished
    if opt < worst:
        assert out.best is not None
        assert out.value == pytest.approx(opt, abs=1e-9)
        assert evaluate(out.best) == pytest.approx(opt, abs=1e-9)


@pytest.mark.parametrize("path", ["search", "mip"])
def test_solver_paths_match_brute_force_on_small_p(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uniform random costs with small p leave a gap after elimination, so the site search (or,
    when it is switched off, the reduced MIP) must finish the proof; rules included."""
    if path == "mip":
        monkeypatch.setattr(median, "_SEARCH_LEVELS_PER_POINT", math.inf)
    reached = 0
    rng = np.random.default_rng(1)
    d = rng.integers(1, 100, (60, 25)).astype(float)
    w = np.ones(60)
    for rules in (
        SiteRules(),
        SiteRules(candidate_group=np.arange(25) % 3, group_max={0: 0}, group_min={1: 2}),
        SiteRules(site_cost_yuan=np.arange(25.0), budget_yuan=30.0),
    ):
        r = solve_p_median(MedianProblem(w, d, 3, rules=rules), PARAMS)
        assert r.status == "optimal"
        assert r.objective == pytest.approx(_brute(w, d, 3, rules), abs=1e-9)
        reached += ("search_nodes" if path == "search" else "rows") in r.details
    assert reached == 3


def test_lazy_fallback_matches_brute_force(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lazy-level MIP over the remaining sites (used when the capped model would be huge)."""
    monkeypatch.setattr(median, "_LAZY_FACTOR", 0.0)
    monkeypatch.setattr(median, "_LAZY_MIN_NONZEROS", 0)
    monkeypatch.setattr(median, "_SEARCH_LEVELS_PER_POINT", math.inf)
    rng = np.random.default_rng(1)
    d = rng.integers(1, 100, (40, 16)).astype(float)
    w = np.ones(40)
    for rules in (SiteRules(), SiteRules(existing=np.array([3]), excluded=np.array([0, 1]))):
        r = solve_p_median(MedianProblem(w, d, 3, rules=rules), PARAMS)
        assert r.status == "optimal"
        assert r.details.get("lazy_levels") == 1.0
        assert r.objective == pytest.approx(_brute(w, d, 3, rules), abs=1e-9)
        assert r.bound <= r.objective + 1e-9


def test_engine_names_the_steps_that_ran() -> None:
    from lnplan.optimize.siting.median import _median_engine

    assert _median_engine({}) == "greedy + interchange"
    assert _median_engine({"lagrangian_bound": 1.0}) == "Lagrangian bound and elimination"
    both = _median_engine({"lagrangian_bound": 1.0, "search_nodes": 7.0, "rows": 3.0})
    assert both == (
        "Lagrangian bound and elimination + Lagrangian branch and bound (7 nodes) + "
        "HiGHS MIP (OR-Tools MathOpt), radius formulation"
    )
