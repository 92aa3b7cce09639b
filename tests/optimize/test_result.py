"""The result contract (lnplan.optimize.result)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from lnplan.optimize.result import (
    STATUSES,
    contract_problems,
    outcome_record,
    proven_gap,
    status_of,
)


@dataclass(frozen=True)
class _R:
    status: str
    objective: float
    bound: float
    gap: float
    rules_checked: bool = True
    proof: str = "test bound"
    engine: str = "test"
    runtime_s: float = 0.5
    work: dict = field(default_factory=dict)


def test_gap_is_zero_only_when_the_bound_meets_the_objective():
    assert proven_gap(830.0, 830.0) == 0.0
    assert proven_gap(830.0, 867.3) == pytest.approx(37.3 / 830.0)
    assert proven_gap(866.9999999999995, 867.0) == 0.0
    assert math.isinf(proven_gap(math.nan, 3.0))
    assert math.isinf(proven_gap(math.inf, 3.0))


def test_status_of():
    assert status_of(has_answer=False, gap=0.0) == "no_solution_in_limit"
    assert status_of(has_answer=True, gap=0.0) == "optimal"
    assert status_of(has_answer=True, gap=0.04) == "feasible"
    assert status_of(has_answer=True, gap=0.04, rel_gap=0.05) == "optimal"
    assert set(STATUSES) == {"optimal", "feasible", "infeasible", "no_solution_in_limit"}


@pytest.mark.parametrize(
    ("result", "fragment"),
    [
        (_R("time_limit", 1.0, 1.0, 0.0), "not one of"),
        (_R("optimal", 830.0, 867.3, 0.0), "not the proven gap"),
        (_R("optimal", 830.0, 867.3, proven_gap(830.0, 867.3)), "optimal with gap"),
        (_R("optimal", math.inf, 3.0, 0.0), "objective inf"),
        (_R("optimal", 3.0, 3.0, 0.0, proof=""), "named proof"),
        (_R("feasible", 3.0, 4.0, proven_gap(3.0, 4.0), rules_checked=False), "rules_checked"),
        (_R("no_solution_in_limit", 3.0, 4.0, math.inf), "finite objective"),
    ],
)
def test_contract_problems_catch_each_overstatement(result, fragment):
    problems = contract_problems(result)
    assert any(fragment in p for p in problems), problems


def test_a_kept_contract_has_no_problems_and_records_plainly():
    ok = _R("feasible", 830.0, 867.3, proven_gap(830.0, 867.3), work={"nodes": 12.0})
    assert contract_problems(ok) == []
    assert (
        contract_problems(_R("optimal", 830.0, 867.3, proven_gap(830, 867.3)), rel_gap=0.05) == []
    )
    none = _R("no_solution_in_limit", math.nan, math.inf, math.inf, rules_checked=False)
    assert contract_problems(none) == []
    record = outcome_record(none)
    assert record["objective"] is None and record["bound"] == "inf"
    assert outcome_record(ok)["work"] == {"nodes": 12}
