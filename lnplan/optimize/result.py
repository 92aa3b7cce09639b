"""The result contract that every engine follows (siting, fund, routing).

Every model result in :mod:`lnplan.optimize` carries these attributes, with these meanings:

``status``
    One of :data:`STATUSES`:

    - ``optimal`` — a bound proves the answer (``gap`` within the tolerance the caller asked for;
      ``proof`` names what proves it);
    - ``feasible`` — an answer whose rules were checked, not proven optimal;
    - ``infeasible`` — the data proves that no answer exists. Models raise
      :class:`lnplan.errors.InfeasibleError` naming the rule and the amount instead of returning
      this status wherever they can; a result carries it only where a search proved it;
    - ``no_solution_in_limit`` — the limit ran out before any answer was found. This is not an
      error and never "infeasible": the message says which setting to raise.
``objective``
    Recomputed from the returned decision by code that shares nothing with the model builder
    (``nan`` when there is no answer).
``bound``, ``gap``
    The proven bound and :func:`proven_gap` of the two: 0 only when the bound meets the objective.
``rules_checked``
    True only after every rule was verified on the answer, with the solver's tolerances.
``proof``
    What proves the bound ("HiGHS branch and bound", "Lagrangian bound", "capacity": "" for none).
``engine``, ``runtime_s``, ``work``
    What searched, how long it took, and the work it did (iterations, nodes, deterministic time),
    so that the run manifest can record it.

:func:`outcome_record` turns any such result into the plain dictionary the manifest stores, and
:func:`contract_problems` lists where a result breaks the contract (tests call it on every answer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, get_args

Status = Literal["optimal", "feasible", "infeasible", "no_solution_in_limit"]

#: Every status a result may report.
STATUSES: tuple[str, ...] = get_args(Status)

#: Relative tolerance under which a bound counts as meeting the objective (HiGHS's default
#: feasibility and optimality tolerances are 1e-7; objectives are sums of up to ~1e6 terms).
GAP_TOL = 1e-9


def proven_gap(objective: float, bound: float) -> float:
    """Relative gap ``|bound - objective| / max(|objective|, 1)``; ``inf`` without either.

    The gap is exactly 0 only when the bound meets the objective to :data:`GAP_TOL` relative
    precision; it is never rounded to 0 because a solver said "optimal" within a looser gap.
    """
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    diff = abs(bound - objective)
    scale = max(abs(objective), 1.0)
    if diff <= GAP_TOL * scale:
        return 0.0
    return diff / scale


def status_of(*, has_answer: bool, gap: float, rel_gap: float = GAP_TOL) -> Status:
    """``optimal`` when an answer's proven gap is within ``rel_gap``, else ``feasible``;
    ``no_solution_in_limit`` without an answer."""
    if not has_answer:
        return "no_solution_in_limit"
    return "optimal" if gap <= max(rel_gap, GAP_TOL) else "feasible"


def outcome_record(result: Any) -> dict[str, Any]:
    """The contract's fields of ``result`` as plain JSON-friendly values (for ``run.json``)."""
    out: dict[str, Any] = {}
    for key in ("engine", "status", "objective", "bound", "gap", "rules_checked", "proof"):
        value = getattr(result, key, None)
        if isinstance(value, float) and not math.isfinite(value):
            value = None if math.isnan(value) else ("inf" if value > 0 else "-inf")
        out[key] = value
    runtime = getattr(result, "runtime_s", None)
    out["time_s"] = None if runtime is None else round(float(runtime), 3)
    work: Mapping[str, Any] = getattr(result, "work", None) or {}
    out["work"] = {str(k): _plain(v) for k, v in work.items()}
    return out


def contract_problems(result: Any, *, rel_gap: float = GAP_TOL) -> list[str]:
    """Where ``result`` breaks the contract; empty when it keeps it.

    Checks the status word, that ``optimal`` comes with a bound within ``rel_gap`` and a named
    proof, that the gap is the one :func:`proven_gap` gives, that an answer's rules were checked
    and that ``no_solution_in_limit`` carries no objective.
    """
    problems: list[str] = []
    status = getattr(result, "status", None)
    if status not in STATUSES:
        return [f"status {status!r} is not one of {STATUSES}"]
    objective = float(getattr(result, "objective", math.nan))
    bound = float(getattr(result, "bound", math.nan))
    gap = float(getattr(result, "gap", math.nan))
    if status in ("optimal", "feasible"):
        if not math.isfinite(objective):
            problems.append(f"{status} with objective {objective}")
        if not getattr(result, "rules_checked", False):
            problems.append(f"{status} but rules_checked is not true")
        expected = proven_gap(objective, bound)
        if not (gap == expected or math.isclose(gap, expected, rel_tol=1e-9, abs_tol=1e-12)):
            problems.append(f"gap {gap} is not the proven gap {expected} of {objective}, {bound}")
    if status == "optimal":
        if not math.isfinite(bound):
            problems.append("optimal without a finite bound")
        elif proven_gap(objective, bound) > max(rel_gap, GAP_TOL):
            problems.append(f"optimal with gap {proven_gap(objective, bound)} > {rel_gap}")
        if not getattr(result, "proof", ""):
            problems.append("optimal without a named proof")
    if status == "no_solution_in_limit" and math.isfinite(objective):
        problems.append("no_solution_in_limit with a finite objective")
    return problems


def _plain(value: Any) -> Any:
    if isinstance(value, bool | str) or value is None:
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return None if math.isnan(number) else str(number)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number
