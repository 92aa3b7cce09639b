"""Siting results keep the result contract (issue 13): each defect's reproduction, and property
tests against brute force on small random instances for every model and rule combination."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from lnplan.errors import InfeasibleError
from lnplan.optimize.result import contract_problems
from lnplan.optimize.siting import (
    CenterProblem,
    CoverageProblem,
    Equity,
    MedianProblem,
    SetCoverProblem,
    SiteRules,
    SolveParams,
    _common,
    _mip,
    solve_max_coverage,
    solve_p_center,
    solve_p_median,
    solve_set_cover,
)
from lnplan.optimize.siting._common import rules_hold
from lnplan.optimize.siting._mip import MipBuilder, MipOutcome
from lnplan.optimize.siting._model import prepare_rules

# Tiny instances: proven well within this cap on any machine; it is a safety cap only.
PARAMS = SolveParams(time_limit_s=60, seed=0, workers=1)


def _ok(result, params: SolveParams = PARAMS) -> None:
    assert contract_problems(result, rel_gap=params.rel_gap) == []


# --- defect 1: p-median impossible instances ----------------------------------------------------

# Two clusters {0, 1} and {2, 3}; a candidate at each point reaches only its own cluster.
_CLUSTERS = np.array(
    [
        [0.0, 1.0, np.inf, np.inf],
        [1.0, 0.0, np.inf, np.inf],
        [np.inf, np.inf, 0.0, 1.0],
        [np.inf, np.inf, 1.0, 0.0],
    ]
)


def test_p_median_unreachable_clusters_with_one_site_raise() -> None:
    with pytest.raises(InfeasibleError, match="every point with demand must be served"):
        solve_p_median(MedianProblem(np.ones(4), _CLUSTERS, 1), PARAMS)


def test_p_median_both_existing_in_one_cluster_raise() -> None:
    rules = SiteRules(existing=np.array([0, 1]))
    with pytest.raises(InfeasibleError, match="2 of them existing"):
        solve_p_median(MedianProblem(np.ones(4), _CLUSTERS, 2, rules=rules), PARAMS)


def test_p_median_clusters_feasible_with_one_site_each() -> None:
    r = solve_p_median(MedianProblem(np.ones(4), _CLUSTERS, 2), PARAMS)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(2.0)
    assert len({int(j) // 2 for j in r.chosen}) == 2
    _ok(r)


# --- defect 2: equity stage 1 -----------------------------------------------------------------

W = np.array([5.0, 3.0, 4.0, 1.0])
COVERS = sparse.csr_array(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64))
GROUPS = np.array([0, 0, 1, 2])


def test_equity_stage1_unproven_is_not_optimal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stage 1 stopped without a proof: the answer is at best feasible, no price of equity, and
    the unconstrained answer is the warm start (never an error, never a worse answer)."""
    real = MipBuilder.solve

    def stage1_times_out(self: MipBuilder, *a: object, **kw: object) -> MipOutcome:
        out = real(self, *a, **kw)
        # The max-min stage has one continuous variable more than the site and cover ones.
        if self.n_vars == 3 + 4 + 1:
            return MipOutcome("no_solution", None, math.nan, 1.0, out.runtime_s)
        return out

    monkeypatch.setattr(MipBuilder, "solve", stage1_times_out)
    r = solve_max_coverage(
        CoverageProblem(W, COVERS, 2), PARAMS, equity=Equity(groups=GROUPS, mode="max_min")
    )
    assert r.status == "feasible"
    assert r.price_of_equity is None
    assert r.details["min_group_rate_proven"] == 0.0
    _ok(r)


def test_equity_both_stages_proven_report_the_price() -> None:
    r = solve_max_coverage(
        CoverageProblem(W, COVERS, 2), PARAMS, equity=Equity(groups=GROUPS, mode="max_min")
    )
    assert r.status == "optimal"
    assert r.price_of_equity is not None and r.price_of_equity >= -1e-9
    assert r.details["min_group_rate_proven"] == 1.0
    _ok(r)


# --- defect 3: the gap is never forced to 0 ----------------------------------------------------


def test_gap_is_the_proven_one_under_a_loose_rel_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS stopping within rel_gap with a bound above the objective: the gap is reported."""
    real = MipBuilder.solve

    def loose(self: MipBuilder, *a: object, **kw: object) -> MipOutcome:
        out = real(self, *a, **kw)
        if out.x is not None and out.status == "optimal":
            return MipOutcome("optimal", out.x, out.objective, out.objective + 0.4, out.runtime_s)
        return out

    monkeypatch.setattr(MipBuilder, "solve", loose)
    # No Lagrangian bound (max_iterations=0): it would prove the answer before the MIP.
    params = SolveParams(time_limit_s=60, rel_gap=0.05, max_iterations=0)
    w = np.array([5.5, 3.25, 4.0, 1.0])  # not integral: the bound is not rounded
    r = solve_max_coverage(CoverageProblem(w, COVERS, 2), params)
    assert r.bound == pytest.approx(r.objective + 0.4)
    assert r.gap == pytest.approx(0.4 / r.objective)
    assert r.gap > 0
    _ok(r, params)


def test_p_median_non_integral_bound_is_not_the_objective() -> None:
    rng = np.random.default_rng(3)
    pts = rng.random((12, 2))
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    r = solve_p_median(MedianProblem(rng.random(12) + 0.5, d, 3), PARAMS)
    _ok(r)
    assert r.status == "optimal"
    assert r.bound <= r.objective


# --- defect 4: objective recomputed from the chosen sites ---------------------------------------


def test_objective_is_recomputed_not_the_solvers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A solver objective that disagrees with the chosen sites is caught, never reported."""
    real = MipBuilder.solve

    def off(self: MipBuilder, *a: object, **kw: object) -> MipOutcome:
        out = real(self, *a, **kw)
        if out.x is None:
            return out
        return MipOutcome(out.status, out.x, out.objective - 1.0, out.bound, out.runtime_s)

    monkeypatch.setattr(MipBuilder, "solve", off)
    with pytest.raises(RuntimeError, match="disagrees"):
        solve_set_cover(SetCoverProblem(W, COVERS, 0.9), PARAMS)


def test_set_cover_objective_and_rules_checked() -> None:
    r = solve_set_cover(SetCoverProblem(W, COVERS, 12 / 13), PARAMS)
    assert r.objective == 2.0 and r.rules_checked
    assert r.covered_demand >= 12 - 1e-9
    _ok(r)


# --- defect 5: rules on the final answer ----------------------------------------------------------


def test_group_row_without_columns_raises() -> None:
    """A per-city minimum whose candidates all left the model may not vanish."""
    rules = prepare_rules(
        SiteRules(
            candidate_group=np.array([0, 0, 1]),
            group_min={1: 1},
            group_names={1: "沈阳市"},
        ),
        3,
        2,
    )
    mip = MipBuilder.new()
    y0 = mip.add_vars(2, integer=True)
    with pytest.raises(InfeasibleError, match="沈阳市 needs between 1"):
        _common.add_rule_rows(mip, y0, np.array([0, 1]), rules, 2, np.zeros(0, np.int64))


def test_city_names_in_messages() -> None:
    rules = SiteRules(
        candidate_group=np.array([0, 0, 1]), group_min={1: 3}, group_names={1: "沈阳市"}
    )
    with pytest.raises(InfeasibleError, match="沈阳市 needs at least 3 sites but has 1"):
        solve_max_coverage(CoverageProblem(W, COVERS, 3, rules), PARAMS)


def test_rules_hold_accepts_solver_tolerance() -> None:
    """A budget kept to HiGHS's tolerance (1e-7 relative over) is kept, not thrown away."""
    rules = prepare_rules(
        SiteRules(site_cost_yuan=np.array([1e6, 1e6, 0.0]), budget_yuan=2e6 - 0.1), 3, 2
    )
    assert rules_hold(np.array([0, 1]), rules, 2)
    assert not rules_hold(
        np.array([0, 1]),
        prepare_rules(SiteRules(site_cost_yuan=np.array([1e6, 1e6, 0.0]), budget_yuan=1.9e6), 3, 2),
        2,
    )


# --- defect 6: a time-out is not infeasibility --------------------------------------------------


def test_time_out_is_no_solution_in_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    def nothing(self: MipBuilder, *a: object, **kw: object) -> MipOutcome:
        return MipOutcome("no_solution", None, math.nan, math.nan, 0.0)

    monkeypatch.setattr(MipBuilder, "solve", nothing)
    rules = SiteRules(capacity=np.array([10.0, 10.0, 10.0]))
    r = solve_max_coverage(CoverageProblem(W, COVERS, 2, rules), PARAMS)
    assert r.status == "no_solution_in_limit"
    assert r.chosen.size == 0 and math.isnan(r.objective)
    _ok(r)
    r = solve_set_cover(
        SetCoverProblem(
            W,
            COVERS,
            0.9,
            SiteRules(group_min={0: 1}, candidate_group=np.array([0, 1, 1]), group_max={1: 0}),
        ),
        PARAMS,
    )
    assert r.status == "no_solution_in_limit"
    _ok(r)
    capped = SiteRules(capacity=np.full(4, 3.0))
    r = solve_p_median(MedianProblem(np.ones(4), _CLUSTERS, 2, rules=capped), PARAMS)
    assert r.status == "no_solution_in_limit"
    _ok(r)


# --- defect 9: limits kept ----------------------------------------------------------------------


def test_mip_uses_only_public_mathopt() -> None:
    import inspect

    src = inspect.getsource(_mip)
    assert "core.python" not in src
    out = (lambda b: b.solve(PARAMS, maximize=True, time_limit_s=5))(_one_var_model())
    assert out.status == "optimal" and out.objective == pytest.approx(1.0)


def _one_var_model() -> MipBuilder:
    mip = MipBuilder.new()
    y = mip.add_vars(2, obj=1.0, integer=True)
    mip.add_row(np.array([y, y + 1]), 1.0, -np.inf, 1.0)
    return mip


def test_transport_lp_keeps_its_deadline() -> None:
    import time

    from lnplan.optimize.siting._cflp_lagrange import transport

    cost = np.ones((3, 2))
    t = transport(cost, np.ones(3), np.zeros(2), np.full(2, 5.0), np.array([0, 1]), deadline=0.0)
    assert t is None  # the deadline has passed: no LP is started
    t = transport(
        cost, np.ones(3), np.zeros(2), np.full(2, 5.0), np.array([0, 1]), time.perf_counter() + 30
    )
    assert t is not None and t.cost == pytest.approx(3.0)


# --- property tests against brute force ---------------------------------------------------------

PROP = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@st.composite
def _instances(draw: st.DrawFn) -> dict:
    n = draw(st.integers(3, 7))
    m = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    p = draw(st.integers(1, m))
    rules: dict = {}
    if draw(st.booleans()):
        rules["existing"] = np.array([int(rng.integers(m))])
    if draw(st.booleans()):
        ex = int(rng.integers(m))
        if ex not in rules.get("existing", []):
            rules["excluded"] = np.array([ex])
    if draw(st.booleans()):
        rules["candidate_group"] = rng.integers(0, 2, m)
        rules["group_min"] = {0: int(draw(st.integers(0, 1)))}
        rules["group_max"] = {1: int(draw(st.integers(0, 2)))}
        rules["group_names"] = {0: "沈阳市", 1: "大连市"}
    if draw(st.booleans()):
        rules["site_cost_yuan"] = rng.integers(1, 5, m).astype(float)
        rules["budget_yuan"] = float(draw(st.integers(2, 12)))
    cap = None
    if draw(st.booleans()):
        cap = rng.integers(2, 12, m).astype(float)
    return {
        "n": n,
        "m": m,
        "p": p,
        "w": rng.integers(0, 6, n).astype(float),
        "d": np.where(rng.random((n, m)) < 0.8, rng.integers(1, 9, (n, m)), np.inf).astype(float),
        "rules": rules,
        "cap": cap,
        "groups": rng.integers(0, 2, n),
    }


def _subsets(inst: dict, rules: SiteRules, p: int | None):
    m = inst["m"]
    sizes = range(m + 1) if p is None else [p]
    for k in sizes:
        for s in itertools.combinations(range(m), k):
            arr = np.array(s, np.int64)
            try:
                ok = rules_hold(arr, prepare_rules(rules, m, p), p)
            except InfeasibleError:
                return
            if ok:
                yield arr


def _transport_cost(d: np.ndarray, w: np.ndarray, cap: np.ndarray, s: np.ndarray, cover: bool):
    """Brute-force inner LP with capacities: max covered (cover) or min cost (median)."""
    from scipy.optimize import linprog

    act = np.flatnonzero(w > 0)
    pairs = [(i, j) for i in act for j in s if np.isfinite(d[i, j])]
    if not pairs:
        return 0.0 if cover or act.size == 0 else math.inf
    a_ub, b_ub = [], []
    for j in s:
        a_ub.append([w[i] if jj == j else 0.0 for i, jj in pairs])
        b_ub.append(cap[j])
    rows = []
    for i in act:
        rows.append([1.0 if ii == i else 0.0 for ii, _ in pairs])
    if cover:
        a_ub += rows
        b_ub += [1.0] * len(rows)
        res = linprog([-w[i] for i, _ in pairs], A_ub=a_ub, b_ub=b_ub, bounds=(0, 1))
        return -res.fun
    res = linprog(
        [w[i] * d[i, j] for i, j in pairs],
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=rows,
        b_eq=[1.0] * len(rows),
        bounds=(0, 1),
    )
    return res.fun if res.status == 0 else math.inf


def _solve_or_infeasible(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except InfeasibleError:
        return None


@PROP
@given(_instances())
def test_mclp_matches_brute_force(inst: dict) -> None:
    cov = sparse.csr_array(np.where(np.isfinite(inst["d"]) & (inst["d"] <= 5), 1.0, 0.0))
    rules = SiteRules(capacity=inst["cap"], **inst["rules"])
    best = -math.inf
    for s in _subsets(inst, rules, inst["p"]):
        if inst["cap"] is None:
            v = float(inst["w"][np.asarray(cov[:, s].sum(axis=1)).ravel() > 0].sum())
        else:
            v = _transport_cost(
                np.where(cov.toarray() > 0, 1.0, np.inf), inst["w"], inst["cap"], s, True
            )
        best = max(best, v)
    r = _solve_or_infeasible(
        solve_max_coverage, CoverageProblem(inst["w"], cov, inst["p"], rules), PARAMS
    )
    if r is None:
        assert best == -math.inf
        return
    _ok(r)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best, abs=1e-6)


@PROP
@given(_instances(), st.sampled_from(["max_min", "floor"]))
def test_equity_meets_brute_force(inst: dict, mode: str) -> None:
    if inst["cap"] is not None:
        return
    cov = sparse.csr_array(np.where(np.isfinite(inst["d"]) & (inst["d"] <= 5), 1.0, 0.0))
    rules = SiteRules(**inst["rules"])
    w, g = inst["w"], inst["groups"]
    tot = np.bincount(g, weights=w, minlength=2)
    answers = []
    for s in _subsets(inst, rules, inst["p"]):
        served = np.asarray(cov[:, s].sum(axis=1)).ravel() > 0
        c = np.bincount(g, weights=w * served, minlength=2)
        rates = np.where(tot > 0, c / np.where(tot > 0, tot, 1), 1.0)
        answers.append((rates.min(), float(c.sum())))
    floor = 0.5
    if mode == "max_min":
        top = max((a[0] for a in answers), default=None)
        best = max((a[1] for a in answers if a[0] >= top - 1e-9), default=None)
    else:
        best = max((a[1] for a in answers if a[0] >= floor - 1e-9), default=None)
    r = _solve_or_infeasible(
        solve_max_coverage,
        CoverageProblem(w, cov, inst["p"], rules),
        PARAMS,
        equity=Equity(groups=g, mode=mode, floor=floor),  # type: ignore[arg-type]
    )
    if r is None:
        assert best is None
        return
    _ok(r)
    assert best is not None
    if r.status == "optimal":
        assert r.objective == pytest.approx(best, abs=1e-6)


@PROP
@given(_instances())
def test_p_median_matches_brute_force(inst: dict) -> None:
    rules = SiteRules(capacity=inst["cap"], **inst["rules"])
    w, d = inst["w"], inst["d"]
    best = math.inf
    for s in _subsets(inst, rules, inst["p"]):
        if inst["cap"] is None:
            near = d[np.ix_(w > 0, s)].min(axis=1) if (w > 0).any() else np.zeros(0)
            v = float((w[w > 0] * near).sum())
        else:
            v = _transport_cost(d, w, inst["cap"], s, False)
        best = min(best, v)
    r = _solve_or_infeasible(solve_p_median, MedianProblem(w, d, inst["p"], rules=rules), PARAMS)
    if r is None:
        assert not math.isfinite(best)
        return
    _ok(r)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best, rel=1e-6, abs=1e-6)


@PROP
@given(_instances())
def test_p_center_matches_brute_force(inst: dict) -> None:
    rules = SiteRules(capacity=inst["cap"], **inst["rules"])
    w, d = inst["w"], inst["d"]
    best = math.inf
    for s in _subsets(inst, rules, inst["p"]):
        if (w > 0).sum() == 0:
            best = 0.0
            continue
        if inst["cap"] is None:
            best = min(best, float(d[np.ix_(w > 0, s)].min(axis=1).max()))
        else:
            for radius in np.unique(d[np.isfinite(d)]):
                dd = np.where(d <= radius, d, np.inf)
                if math.isfinite(_transport_cost(dd, w, inst["cap"], s, False)):
                    best = min(best, float(radius))
                    break
    r = _solve_or_infeasible(solve_p_center, CenterProblem(w, d, inst["p"], rules), PARAMS)
    if r is None:
        assert not math.isfinite(best)
        return
    _ok(r)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best)


@PROP
@given(_instances(), st.sampled_from([0.5, 0.8, 1.0]))
def test_set_cover_matches_brute_force(inst: dict, share: float) -> None:
    cov = sparse.csr_array(np.where(np.isfinite(inst["d"]) & (inst["d"] <= 5), 1.0, 0.0))
    rules = SiteRules(**inst["rules"])
    w = inst["w"]
    target = share * w.sum()
    best = math.inf
    for s in _subsets(inst, rules, None):
        v = float(w[np.asarray(cov[:, s].sum(axis=1)).ravel() > 0].sum())
        if v >= target - 1e-9:
            best = min(best, float(s.size))
    r = _solve_or_infeasible(solve_set_cover, SetCoverProblem(w, cov, share, rules), PARAMS)
    if r is None:
        assert not math.isfinite(best)
        return
    _ok(r)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best)
