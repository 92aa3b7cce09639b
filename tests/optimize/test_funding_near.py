"""Step 2 of a fund held to a baseline: the fewest yuan moved within max_loss of the best."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lnplan.errors import InputError
from lnplan.optimize.funding import (
    allocation_problems,
    objective_value,
    relative_loss,
    solve_funding,
    solve_funding_near,
)
from lnplan.optimize.result import contract_problems
from tests.optimize.test_funding import brute, fp, linear_curve


def test_a_baseline_within_the_loss_is_kept_whole() -> None:
    """The need changed a little; the old allocation is still within 30 % of the best deviation
    from need shares: nothing moves, although the best plan alone moves money (so skipping step 2
    fails this test)."""
    old = solve_funding(fp([1, 1, 1], 1000, 10))
    new = fp([1, 1.003, 1], 1000, 10)
    best = solve_funding(new)
    plain_moved = int(np.abs(best.allocations_yuan - old.allocations_yuan).sum())
    assert plain_moved == 20
    old_value = objective_value(new, old.allocations_yuan, "proportional")
    loss = relative_loss(old_value, best.objective, "proportional")
    assert 0.1 < loss <= 0.3
    near = solve_funding_near(new, old.allocations_yuan, best, max_loss=0.3)
    assert near.objective == 0 and near.status == "optimal"
    assert near.allocation.allocations_yuan.tolist() == old.allocations_yuan.tolist()
    assert near.loss == pytest.approx(loss) and near.counties_changed == 0
    assert contract_problems(near) == []
    # with no loss allowed, the best itself (or an equally good allocation) is the answer
    tight = solve_funding_near(new, old.allocations_yuan, best, max_loss=0.1)
    assert tight.loss <= 0.1 + best.rel_gap and tight.objective == plain_moved


def test_absent_counties_count_as_moved() -> None:
    p = fp([1, 1], 100, 10)
    best = solve_funding(p)
    near = solve_funding_near(p, best.allocations_yuan, best, max_loss=0.0, absent_yuan=30)
    assert near.objective == 30 and near.bound == 30


def test_bad_baseline_is_refused() -> None:
    p = fp([1, 1], 100, 10)
    best = solve_funding(p)
    with pytest.raises(InputError, match="baseline amounts"):
        solve_funding_near(p, [50], best, max_loss=0.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 9), min_size=2, max_size=3),
    st.integers(1, 9),
    st.sampled_from(["proportional", "maxmin", "jobs"]),
    st.sampled_from([0.0, 0.005, 0.05, 0.3]),
    st.data(),
)
def test_fewest_yuan_moved_within_the_loss(need, n_units, objective, max_loss, data) -> None:
    """Against brute force: the answer keeps every rule, loses at most max_loss (plus the model's
    resolution), moves no more than the best plan alone and, where the objective is exact
    (max-min) or the loss has room, no more than any allocation within the loss."""
    n = len(need)
    curves = [linear_curve([2.0, 0.5], [data.draw(st.integers(1, 5)) * 10, 200]) for _ in range(n)]
    p = fp(need, n_units * 10, 10, curves=curves)
    baseline = np.array(data.draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))) * 10
    best = solve_funding(p, objective)
    near = solve_funding_near(p, baseline, best, max_loss=max_loss)
    a = near.allocation.allocations_yuan
    assert allocation_problems(p, a) == []
    assert contract_problems(near) == [] and near.status == "optimal"
    assert contract_problems(near.allocation, rel_gap=near.allocation.rel_gap) == []
    assert near.allocation.objective == objective_value(p, a, objective)
    assert near.loss <= max_loss + best.rel_gap
    assert near.objective == np.abs(a - baseline).sum()
    assert near.objective <= np.abs(best.allocations_yuan - baseline).sum()
    moved = [
        (relative_loss(v, best.objective, objective), int(np.abs(x - baseline).sum()))
        for v, x in brute(p, objective)
    ]
    margin = 1e-6 if objective == "maxmin" else 0.01  # rounding of the targets and job curves
    assert near.objective >= min(m for loss, m in moved if loss <= max_loss + margin)
    room = [m for loss, m in moved if loss <= max_loss - margin]
    if room and (objective == "maxmin" or max_loss >= 0.05):
        assert near.objective <= min(room)
