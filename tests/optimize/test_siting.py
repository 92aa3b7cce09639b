"""Siting models: hand-checked tiny instances, every option, infeasibility messages, invariants."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from lnplan.errors import InfeasibleError, InputError
from lnplan.optimize.instances import read_orlib_cap, read_orlib_pmed
from lnplan.optimize.siting import (
    CenterProblem,
    CoverageProblem,
    Equity,
    MedianProblem,
    SetCoverProblem,
    SiteRules,
    SolveParams,
    solve_max_coverage,
    solve_p_center,
    solve_p_median,
    solve_set_cover,
)

PARAMS = SolveParams(time_limit_s=30, seed=0, workers=1)

# Four demand points, three candidates: c0 reaches {0, 1}, c1 reaches {1, 2}, c2 reaches {3}.
W = np.array([5.0, 3.0, 4.0, 1.0])
COVERS = sparse.csr_array(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64))

# Five points on a line at 0, 1, 2, 10, 11; every point is a candidate.
X = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
D = np.abs(X[:, None] - X[None, :])
ONES = np.ones(5)


def cover(n_sites: int, rules: SiteRules | None = None, **kw: object):
    return solve_max_coverage(
        CoverageProblem(W, COVERS, n_sites, rules or SiteRules()), PARAMS, **kw
    )


# --- maximal covering ---------------------------------------------------------------------------


def test_mclp_tiny_optima() -> None:
    r1 = cover(1)
    assert r1.status == "optimal"
    assert r1.objective == pytest.approx(8.0)
    assert r1.chosen.tolist() == [0]
    r2 = cover(2)
    assert r2.objective == pytest.approx(12.0)
    assert r2.chosen.tolist() == [0, 1]
    assert r2.bound == pytest.approx(12.0)
    assert r2.gap == 0.0
    assert r2.assignment[3] == -1
    assert r2.covered_demand == pytest.approx(12.0)
    assert r2.coverage_rate == pytest.approx(12 / 13)


def test_mclp_existing_and_excluded() -> None:
    r = cover(2, SiteRules(existing=np.array([2])))
    assert r.chosen.tolist() == [0, 2]
    assert r.objective == pytest.approx(9.0)
    r = cover(1, SiteRules(excluded=np.array([0])))
    assert r.chosen.tolist() == [1]
    assert r.objective == pytest.approx(7.0)


def test_mclp_capacity_splits_and_respects() -> None:
    r = cover(1, SiteRules(capacity=np.array([6.0, 10.0, 10.0])))
    assert r.chosen.tolist() == [1]
    assert r.objective == pytest.approx(7.0)
    r = cover(2, SiteRules(capacity=np.array([4.0, 4.0, 4.0])))
    # c0 and c1 open, 8 of the 12 reachable households fit.
    assert r.objective == pytest.approx(8.0)
    share = r.assignment_share
    assert share is not None
    load = (W[:, None] * share.toarray()).sum(axis=0)
    assert (load <= np.array([4.0, 4.0, 4.0]) + 1e-6).all()
    assert (share.toarray().sum(axis=1) <= 1 + 1e-9).all()


def test_mclp_group_bounds_and_budget() -> None:
    groups = SiteRules(candidate_group=np.array([0, 0, 1]), group_min={1: 1})
    r = cover(2, groups)
    assert r.chosen.tolist() == [0, 2]
    assert r.objective == pytest.approx(9.0)
    capped = SiteRules(candidate_group=np.array([0, 0, 1]), group_max={0: 1})
    assert cover(2, capped).objective == pytest.approx(9.0)
    budget = SiteRules(site_cost_yuan=np.array([10.0, 5.0, 1.0]), budget_yuan=7.0)
    r = cover(2, budget)
    assert r.chosen.tolist() == [1, 2]
    assert r.objective == pytest.approx(8.0)


def test_mclp_coverage_by_group_and_assignment_prefers_nearest() -> None:
    times = sparse.csr_array(
        np.array([[5, 0, 0], [9, 2, 0], [0, 3, 0], [0, 0, 1]], dtype=np.float64)
    )
    r = solve_max_coverage(
        CoverageProblem(W, times, 2), PARAMS, groups={"city": np.array(["a", "a", "b", "b"])}
    )
    assert r.assignment.tolist() == [0, 1, 1, -1]  # point 1 goes to c1 (2 min, not 9)
    city = r.coverage["city"]
    assert city["a"].demand == pytest.approx(8.0)
    assert city["a"].covered == pytest.approx(8.0)
    assert city["b"].rate == pytest.approx(4 / 5)


def test_equity_max_min_and_price() -> None:
    eq = Equity(groups=np.array([0, 0, 1, 2]), mode="max_min")
    r = cover(2, equity=eq)
    assert r.chosen.tolist() == [1, 2]
    assert r.covered_demand == pytest.approx(8.0)
    assert r.unconstrained_objective == pytest.approx(12.0)
    assert r.price_of_equity == pytest.approx(4.0)
    assert r.details["min_group_rate"] == pytest.approx(3 / 8)


def test_equity_floor() -> None:
    r = cover(2, equity=Equity(groups=np.array([0, 0, 1, 2]), mode="floor", floor=0.3))
    assert r.chosen.tolist() == [1, 2]
    assert r.price_of_equity == pytest.approx(4.0)
    with pytest.raises(InfeasibleError, match="floor"):
        cover(2, equity=Equity(groups=np.array([0, 0, 1, 2]), mode="floor", floor=0.5))


# --- set cover ----------------------------------------------------------------------------------


def test_set_cover_sites_and_cost() -> None:
    r = solve_set_cover(SetCoverProblem(W, COVERS, 0.7), PARAMS)
    assert r.objective == pytest.approx(2.0)
    assert r.chosen.tolist() == [0, 1]
    assert r.covered_demand >= 0.7 * W.sum()
    assert solve_set_cover(SetCoverProblem(W, COVERS, 1.0), PARAMS).objective == 3.0
    costs = SiteRules(site_cost_yuan=np.array([10.0, 5.0, 1.0]))
    r = solve_set_cover(SetCoverProblem(W, COVERS, 0.6, costs, minimize="cost"), PARAMS)
    assert r.objective == pytest.approx(6.0)
    assert r.chosen.tolist() == [1, 2]


# --- p-median, facility location, p-center ------------------------------------------------------


def test_p_median_tiny() -> None:
    r = solve_p_median(MedianProblem(ONES, D, 2), PARAMS)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(3.0)
    assert r.chosen[0] == 1 and r.chosen[1] in (3, 4)
    assert solve_p_median(MedianProblem(ONES, D, 1), PARAMS).objective == pytest.approx(20.0)


def test_p_median_rules() -> None:
    r = solve_p_median(MedianProblem(ONES, D, 2, rules=SiteRules(excluded=np.array([1]))), PARAMS)
    # Without the point at 1 the left cluster is served from 0 or 2: cost 3, plus 1 on the right.
    assert r.objective == pytest.approx(4.0)
    r = solve_p_median(MedianProblem(ONES, D, 2, rules=SiteRules(existing=np.array([0]))), PARAMS)
    assert 0 in r.chosen.tolist()
    assert r.objective == pytest.approx(4.0)
    grp = SiteRules(candidate_group=np.array([0, 0, 0, 1, 1]), group_min={0: 2})
    assert solve_p_median(MedianProblem(ONES, D, 2, rules=grp), PARAMS).objective == 18.0


def test_p_median_capacity_split() -> None:
    r = solve_p_median(MedianProblem(ONES, D, 2, rules=SiteRules(capacity=np.full(5, 2.5))), PARAMS)
    assert r.objective == pytest.approx(6.5)
    share = r.assignment_share
    assert share is not None
    assert np.allclose(share.toarray().sum(axis=1), 1.0)
    assert (share.toarray().sum(axis=0) <= 2.5 + 1e-6).all()


def test_facility_location_opening_cost() -> None:
    r = solve_p_median(MedianProblem(ONES, D, None, opening_cost=np.full(5, 5.0)), PARAMS)
    assert r.objective == pytest.approx(13.0)
    assert r.chosen.size == 2


def test_p_center_tiny() -> None:
    assert solve_p_center(CenterProblem(ONES, D, 2), PARAMS).objective == pytest.approx(1.0)
    r = solve_p_center(CenterProblem(ONES, D, 1), PARAMS)
    assert r.objective == pytest.approx(9.0)
    assert r.chosen.tolist() == [2]


def test_p_center_capacity_radius() -> None:
    r = solve_p_center(CenterProblem(ONES, D, 2, SiteRules(capacity=np.full(5, 2.5))), PARAMS)
    # Half of one left point must travel to the right site: from 2 to 10 at best.
    assert r.objective == pytest.approx(8.0)


# --- infeasibility: one test per message --------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "n_sites", "match"),
    [
        (SiteRules(existing=np.array([0, 1, 2])), 2, r"3 existing sites .* only 2 .*1 too many"),
        (SiteRules(existing=np.array([0]), excluded=np.array([0])), 2, "also excluded"),
        (
            SiteRules(candidate_group=np.array([0, 0, 1]), group_min={0: 2, 1: 1}),
            2,
            r"minimums sum to 3 .*over by 1",
        ),
        (
            SiteRules(candidate_group=np.array([0, 0, 1]), group_min={1: 2}),
            2,
            r"group 1 needs at least 2 sites but has 1 allowed candidates .*short by 1",
        ),
        (
            SiteRules(candidate_group=np.array([0, 0, 1]), group_min={0: 2}, group_max={0: 1}),
            2,
            "minimum 2 sites is above its maximum 1",
        ),
        (
            SiteRules(candidate_group=np.array([0, 0, 1]), group_max={0: 0, 1: 1}),
            2,
            r"maximums allow at most 1 .*short by 1",
        ),
        (
            SiteRules(
                existing=np.array([0, 1]), candidate_group=np.array([0, 0, 1]), group_max={0: 1}
            ),
            2,
            r"group 0 has 2 existing sites, above its maximum of 1",
        ),
        (
            SiteRules(site_cost_yuan=np.array([10.0, 5.0, 1.0]), budget_yuan=5.0),
            2,
            r"costs 6\.00 yuan, above the budget of 5\.00 yuan \(over by 1\.00\)",
        ),
        (SiteRules(excluded=np.array([0, 1])), 2, r"2 sites requested but only 1 .*1 short"),
    ],
)
def test_rule_infeasibility_messages(rules: SiteRules, n_sites: int, match: str) -> None:
    with pytest.raises(InfeasibleError, match=match):
        cover(n_sites, rules)


def test_capacity_below_demand_message() -> None:
    with pytest.raises(InfeasibleError, match=r"serve at most 4\.00 .*short by 1\.00"):
        solve_p_median(MedianProblem(ONES, D, 2, rules=SiteRules(capacity=np.full(5, 2.0))))


def test_capacity_below_demand_without_p_message() -> None:
    problem = MedianProblem(
        ONES, D, None, opening_cost=np.ones(5), rules=SiteRules(capacity=np.full(5, 0.5))
    )
    with pytest.raises(InfeasibleError, match=r"all allowed sites together can serve 2\.50"):
        solve_p_median(problem)


def test_coverage_target_unreachable_message() -> None:
    w = np.append(W, 7.0)
    c = sparse.vstack([COVERS, sparse.csr_array((1, 3))], format="csr")
    with pytest.raises(InfeasibleError, match=r"target of 90\.0% .* covers 65\.0%"):
        solve_set_cover(SetCoverProblem(w, c, 0.9), PARAMS)


def test_unreachable_point_message() -> None:
    d = D.copy()
    d[4, :] = np.inf
    with pytest.raises(InfeasibleError, match=r"1 demand point\(s\) .* cannot reach"):
        solve_p_median(MedianProblem(ONES, d, 2))


def test_solver_proved_infeasible_message() -> None:
    d = D.copy()
    d[3:, :3] = np.inf  # the right points can only be served from the right
    d[:3, 3:] = np.inf
    rules = SiteRules(candidate_group=np.array([0, 0, 0, 1, 1]), group_max={1: 0})
    with pytest.raises(InfeasibleError, match="no choice of 2 sites reaches every point"):
        solve_p_center(CenterProblem(ONES, d, 2, rules), PARAMS)


def test_input_errors() -> None:
    with pytest.raises(InputError, match="weights"):
        solve_max_coverage(CoverageProblem(np.array([1.0, -1.0, 0, 0]), COVERS, 1))
    with pytest.raises(InputError, match="covers has 4 rows but there are 3"):
        solve_max_coverage(CoverageProblem(np.ones(3), COVERS, 1))
    with pytest.raises(InputError, match="capacity must have one value per candidate"):
        cover(1, SiteRules(capacity=np.ones(2)))
    with pytest.raises(InputError, match=r"existing: index 7 is outside 0\.\.2"):
        cover(1, SiteRules(existing=np.array([7])))
    with pytest.raises(InputError, match="budget_yuan needs site_cost_yuan"):
        cover(1, SiteRules(budget_yuan=3.0))


# --- classic instances --------------------------------------------------------------------------


def _reference(root: Path) -> dict[str, float]:
    with (root / "reference.csv").open() as fh:
        return {r["instance"]: float(r["objective"]) for r in csv.DictReader(fh)}


@pytest.mark.parametrize("name", ["pmed1", "pmed2", "pmed5"])
def test_orlib_pmed_optimum(shared_benchmarks: Path, name: str) -> None:
    problem = read_orlib_pmed(shared_benchmarks / "pmedian" / f"{name}.txt")
    r = solve_p_median(problem, SolveParams(time_limit_s=60))
    assert r.status == "optimal"
    assert r.objective == pytest.approx(_reference(shared_benchmarks)[name])
    assert r.bound == pytest.approx(r.objective)


@pytest.mark.parametrize("name", ["cap41", "cap131"])
def test_orlib_cap_optimum(shared_benchmarks: Path, name: str) -> None:
    problem = read_orlib_cap(shared_benchmarks / "cflp" / f"{name}.txt")
    r = solve_p_median(problem, SolveParams(time_limit_s=60))
    assert r.status == "optimal"
    assert r.objective == pytest.approx(_reference(shared_benchmarks)[name], rel=1e-8)


# --- invariants ---------------------------------------------------------------------------------


@st.composite
def covering_instances(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, int]:
    n = draw(st.integers(3, 10))
    m = draw(st.integers(2, 6))
    cov = np.array(draw(st.lists(st.booleans(), min_size=n * m, max_size=n * m))).reshape(n, m)
    w = np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)), dtype=np.float64)
    p = draw(st.integers(1, m))
    group = np.array(draw(st.lists(st.integers(0, 1), min_size=m, max_size=m)))
    gmin = draw(st.integers(0, min(int((group == 0).sum()), p)))
    return cov, w, p, group, gmin


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(covering_instances())
def test_mclp_invariants_and_brute_force(inst: tuple) -> None:
    cov, w, p, group, gmin = inst
    rules = SiteRules(candidate_group=group, group_min={0: gmin})
    r = solve_max_coverage(
        CoverageProblem(w, sparse.csr_array(cov.astype(np.float64)), p, rules), PARAMS
    )
    chosen = r.chosen.tolist()
    assert len(chosen) == p == len(set(chosen))
    assert (group[r.chosen] == 0).sum() >= gmin
    for i, a in enumerate(r.assignment.tolist()):
        reachable = bool(cov[i, r.chosen].any())
        if a >= 0:
            assert a in chosen and cov[i, a]
        else:
            assert not reachable
    best = max(
        w[cov[:, list(s)].any(axis=1)].sum()
        for s in itertools.combinations(range(cov.shape[1]), p)
        if (group[list(s)] == 0).sum() >= gmin
    )
    assert r.objective == pytest.approx(best)
    assert r.covered_demand == pytest.approx(best)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(3, 8).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 20), min_size=n, max_size=n),
            st.lists(st.integers(1, 5), min_size=n, max_size=n),
            st.integers(1, n),
        )
    )
)
def test_p_median_capacity_invariants(data: tuple) -> None:
    xs, ws, p = data
    x = np.array(xs, dtype=np.float64)
    w = np.array(ws, dtype=np.float64)
    d = np.abs(x[:, None] - x[None, :])
    cap = np.full(x.size, w.sum() / p + 1.0)
    r = solve_p_median(MedianProblem(w, d, p, rules=SiteRules(capacity=cap)), PARAMS)
    assert r.chosen.size == p
    share = r.assignment_share
    assert share is not None
    dense = share.toarray()
    assert np.allclose(dense.sum(axis=1), 1.0)
    assert ((w[:, None] * dense).sum(axis=0) <= cap + 1e-6).all()
    assert set(np.flatnonzero(dense.sum(axis=0) > 1e-9)) <= set(r.chosen.tolist())
    assert set(r.assignment.tolist()) <= set(r.chosen.tolist())
    # Uncapacitated optimum is a lower bound; brute force checks the radius formulation.
    free = solve_p_median(MedianProblem(w, d, p), PARAMS)
    best = min(
        (w * d[:, list(s)].min(axis=1)).sum() for s in itertools.combinations(range(x.size), p)
    )
    assert free.objective == pytest.approx(best)
    assert r.objective >= free.objective - 1e-6
