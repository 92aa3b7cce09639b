"""The employment security fund programme, and readers for need and weight tables.

The programme (:func:`run`, registered in :mod:`lnplan.programs`)
------------------------------------------------------------------
1. **Need** of each priority county (``priority`` in ``world.county_indicators``) is the weighted
   sum of its indicators with ``scenario.funding.need_weights`` (e.g. 0.4 working-age disabled +
   0.4 registered unemployed disabled + 0.2 low-income disabled households).
2. **Allocation** of ``funding.budget_yuan`` in multiples of ``funding.unit_yuan``, with
   ``funding.floor_yuan`` / ``cap_yuan`` per county, by ``funding.objective``
   (:func:`lnplan.optimize.funding.solve_funding`), with the per-county explanation and a budget
   sensitivity sweep of ``SWEEP_POINTS_EACH_SIDE`` steps of ``SWEEP_STEP_YUAN`` either side of the
   budget (25M to 45M around 35M).
3. For ``objective = "jobs"`` the effect curves are an **assumption** (stated in the summary):
   county ``i`` can place at most its registered unemployed disabled; the first quarter of them
   costs ``budget / jobs_target`` yuan per job and each further quarter 1.5 times the one before.
4. **Apportionment** of the other whole-number targets of ``data/programs`` (jobs, trainees,
   barrier-free renovations, home fitness households, "five ones" households, children) across the
   14 cities by Hamilton's method, then within each city across its counties (so county numbers
   add up to the city's), with the weights of :data:`APPORTION_TARGETS`. Ties are listed in a
   table, never broken silently.

Outputs (aggregates only): tables ``allocation``, ``sensitivity``, ``targets_by_city``,
``targets_by_county``, ``ties``; layer ``fund_by_county`` (county polygons with the amounts).

:func:`read_need_table` reads the table ``lnplan fund`` takes (columns ``county``, ``need``,
optional ``floor_yuan``, ``cap_yuan``); :func:`read_weight_table` the one ``lnplan apportion``
takes (``name``, ``weight``, optional ``floor``, ``cap``). Both accept CSV (UTF-8 or GBK/GB18030)
and XLSX, and report every problem in the file at once, each with the row as a spreadsheet shows
it (the header is row 1), the column and the value.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from lnplan.errors import InputError, LayerValidationError, LnplanError, Problem

if TYPE_CHECKING:
    from lnplan.optimize.apportion import Tie
    from lnplan.optimize.funding import EffectCurve, FundingProblem, FundingResult, SolveParams
    from lnplan.programs import ProgrammeOutput
    from lnplan.scenario import Scenario
    from lnplan.world import World

logger = logging.getLogger(__name__)

NAME = "employment_fund"
SECTION = "funding"

#: The sensitivity sweep: this many steps of this size either side of the scenario's budget.
SWEEP_STEP_YUAN = 1_000_000
SWEEP_POINTS_EACH_SIDE = 10

#: Targets apportioned across cities and counties: target key -> (weight, what the weight is).
#: Weights: ``indicator:<column>`` of ``world.county_indicators``, ``households`` (severely
#: disabled households of the world, counted per county), ``children`` (children awaiting
#: screening in ``world.townships``).
APPORTION_TARGETS: dict[str, str] = {
    "new_jobs_per_year": "indicator:registered_unemployed_disabled",
    "trainees_per_year": "indicator:working_age_disabled",
    "barrier_free_renovations": "households",
    "home_rehab_fitness_households": "households",
    "five_ones_households": "indicator:low_income_disabled_households",
    "children_rehab_services": "children",
}
APPORTION_METHOD = "hamilton"

#: Accepted header names per column (compared case-insensitively; spaces and underscores ignored).
NEED_COLUMNS: dict[str, tuple[str, ...]] = {
    "county": ("county", "区县", "县区", "县(市、区)", "县（市、区）", "name", "名称"),
    "need": ("need", "需求", "需求权重", "权重", "weight"),
    "floor_yuan": ("floor_yuan", "floor", "下限", "保底", "最低额度"),
    "cap_yuan": ("cap_yuan", "cap", "上限", "最高额度"),
    "floor_share": ("floor_share", "下限比例"),
    "cap_share": ("cap_share", "上限比例"),
    "committed_yuan": ("committed_yuan", "committed", "已安排", "已承诺"),
}
WEIGHT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name", "region", "city", "county", "名称", "地区", "市", "区县"),
    "weight": ("weight", "need", "权重", "人数"),
    "floor": ("floor", "下限", "最低"),
    "cap": ("cap", "上限", "最高"),
}


@dataclass(frozen=True)
class NeedTable:
    """A county need table as read: names, need weights and optional bounds in yuan."""

    path: str
    names: tuple[str, ...]
    need: npt.NDArray[np.float64]
    floor_yuan: npt.NDArray[np.float64] | None
    cap_yuan: npt.NDArray[np.float64] | None
    floor_share: npt.NDArray[np.float64] | None = None
    cap_share: npt.NDArray[np.float64] | None = None
    committed_yuan: npt.NDArray[np.float64] | None = None

    def problem(self, budget_yuan: int, unit_yuan: int) -> FundingProblem:
        """The :class:`~lnplan.optimize.funding.FundingProblem` of this table and budget."""
        from lnplan.optimize.funding import FundingProblem

        return FundingProblem(
            names=self.names,
            need=self.need,
            budget_yuan=budget_yuan,
            unit_yuan=unit_yuan,
            floor_yuan=self.floor_yuan,
            cap_yuan=self.cap_yuan,
            committed_yuan=self.committed_yuan,
            floor_share=self.floor_share,
            cap_share=self.cap_share,
        )


@dataclass(frozen=True)
class WeightTable:
    """A region weight table as read: names, weights and optional whole-number bounds."""

    path: str
    names: tuple[str, ...]
    weights: npt.NDArray[np.float64]
    floors: npt.NDArray[np.int64] | None
    caps: npt.NDArray[np.int64] | None


def _read_table(
    path: str | Path,
    encoding: str | None,
    spec: dict[str, tuple[str, ...]],
    required: Sequence[str],
) -> tuple[pd.DataFrame, dict[str, str]]:
    """A CSV/XLSX table with data rows and its columns matched to ``spec`` (required present)."""
    from lnplan.geo.layers import match_headers, read_raw

    p = Path(path)
    if p.suffix.lower() not in {".csv", ".txt", ".xlsx", ".xlsm"}:
        raise InputError(f"{p}: unsupported file type {p.suffix!r}; accepted: .csv, .xlsx")
    frame = read_raw(p, encoding=encoding).frame
    found = match_headers(list(frame.columns), spec)
    missing = [c for c in required if c not in found]
    if missing:
        have = ", ".join(str(c) for c in frame.columns) or "none"
        raise InputError(
            f"{p}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (columns found: {have}; accepted names: "
            + "; ".join(f"{c}: {', '.join(spec[c])}" for c in missing)
            + ")"
        )
    if frame.empty:
        raise InputError(f"{p}: no data rows below the header")
    return frame, found


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _number(value: object) -> float | None:
    """A number from a cell (``35,000,000`` and ``1 000`` accepted), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        x = float(value)
    else:
        text = str(value).strip().replace(",", "").replace("，", "").replace(" ", "")
        try:
            x = float(text)
        except ValueError:
            return None
    return x if math.isfinite(x) else None


def _names(
    frame: pd.DataFrame,
    column: str,
    file: str,
    problems: list[Problem],
    valid_names: Collection[str] | None,
    what: str,
) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for k, value in enumerate(frame[column].tolist()):
        row = k + 2
        if _is_blank(value):
            problems.append(Problem(file, row, column, None, f"the {what} name is empty"))
            names.append("")
            continue
        name = str(value).strip()
        if name in seen:
            problems.append(
                Problem(file, row, column, name, f"{what} listed twice (first on row {seen[name]})")
            )
        seen.setdefault(name, row)
        if valid_names is not None and name not in valid_names:
            close = difflib.get_close_matches(name, list(valid_names), n=3, cutoff=0.5)
            hint = f"; closest: {', '.join(close)}" if close else ""
            problems.append(Problem(file, row, column, name, f"unknown {what}{hint}"))
        names.append(name)
    return names


def _numbers(
    frame: pd.DataFrame,
    column: str | None,
    file: str,
    problems: list[Problem],
    *,
    positive: bool,
    whole: bool = False,
    what: str,
) -> npt.NDArray[np.float64] | None:
    if column is None:
        return None
    out = np.full(len(frame), np.nan)
    for k, value in enumerate(frame[column].tolist()):
        row = k + 2
        if _is_blank(value):
            if positive:
                problems.append(Problem(file, row, column, None, f"{what} is missing"))
            continue  # a blank bound means no bound
        x = _number(value)
        if x is None:
            problems.append(Problem(file, row, column, value, f"{what} is not a number"))
        elif positive and x <= 0:
            problems.append(
                Problem(
                    file,
                    row,
                    column,
                    value,
                    f"{what} must be > 0 (leave a place with no need out of the table)",
                )
            )
        elif x < 0:
            problems.append(Problem(file, row, column, value, f"{what} must be >= 0"))
        elif whole and x != int(x):
            problems.append(Problem(file, row, column, value, f"{what} must be a whole number"))
        else:
            out[k] = x
    return out


def _bounds_order(
    low: npt.NDArray[np.float64] | None,
    high: npt.NDArray[np.float64] | None,
    cols: tuple[str | None, str | None],
    file: str,
    problems: list[Problem],
) -> None:
    if low is None or high is None:
        return
    for k in range(len(low)):
        if low[k] == low[k] and high[k] == high[k] and low[k] > high[k]:
            problems.append(
                Problem(
                    file,
                    k + 2,
                    cols[0],
                    float(low[k]),
                    f"floor is above the cap ({high[k]:g} in column {cols[1]!r})",
                )
            )


def read_need_table(
    path: str | Path,
    *,
    valid_names: Collection[str] | None = None,
    encoding: str | None = None,
) -> NeedTable:
    """Read a county need table for :func:`lnplan.optimize.funding.solve_funding`.

    Parameters
    ----------
    path
        CSV (UTF-8 or GBK/GB18030) or XLSX with columns ``county``, ``need`` and optionally
        ``floor_yuan``, ``cap_yuan``, ``floor_share``, ``cap_share`` (shares of the budget,
        0 to 1) and ``committed_yuan`` (blank cells: no bound).
    valid_names
        If given, every county must be one of these names.
    encoding
        CSV encoding; default tries UTF-8 then GB18030.

    Returns
    -------
    NeedTable

    Raises
    ------
    InputError
        A missing column; :class:`~lnplan.errors.LayerValidationError` listing every bad cell.
    """
    file = str(path)
    frame, cols = _read_table(path, encoding, NEED_COLUMNS, ("county", "need"))
    problems: list[Problem] = []
    names = _names(frame, cols["county"], file, problems, valid_names, "county")
    need = _numbers(frame, cols["need"], file, problems, positive=True, what="need")
    floor = _numbers(
        frame, cols.get("floor_yuan"), file, problems, positive=False, what="floor_yuan"
    )
    cap = _numbers(frame, cols.get("cap_yuan"), file, problems, positive=False, what="cap_yuan")
    _bounds_order(floor, cap, (cols.get("floor_yuan"), cols.get("cap_yuan")), file, problems)
    shares = {}
    for col in ("floor_share", "cap_share"):
        arr = _numbers(frame, cols.get(col), file, problems, positive=False, what=col)
        if arr is not None:
            for k in np.nonzero(arr > 1)[0]:
                problems.append(
                    Problem(
                        file,
                        int(k) + 2,
                        cols[col],
                        frame[cols[col]].iloc[int(k)],
                        f"{col} is a share: 0 to 1",
                    )
                )
        shares[col] = arr
    _bounds_order(
        shares["floor_share"],
        shares["cap_share"],
        (cols.get("floor_share"), cols.get("cap_share")),
        file,
        problems,
    )
    committed = _numbers(
        frame, cols.get("committed_yuan"), file, problems, positive=False, what="committed_yuan"
    )
    if problems:
        raise LayerValidationError(file, sorted(problems, key=lambda p: p.row or 0))
    assert need is not None
    return NeedTable(
        path=file,
        names=tuple(names),
        need=need,
        floor_yuan=None if floor is None else np.nan_to_num(floor, nan=0.0),
        cap_yuan=None if cap is None else np.where(np.isnan(cap), np.inf, cap),
        floor_share=_blank_to(shares["floor_share"], 0.0),
        cap_share=_blank_to(shares["cap_share"], 1.0),
        committed_yuan=_blank_to(committed, 0.0),
    )


def _blank_to(
    values: npt.NDArray[np.float64] | None, fill: float
) -> npt.NDArray[np.float64] | None:
    return None if values is None else np.where(np.isnan(values), fill, values)


def read_weight_table(
    path: str | Path,
    *,
    valid_names: Collection[str] | None = None,
    encoding: str | None = None,
) -> WeightTable:
    """Read a region weight table for :func:`lnplan.optimize.apportion.apportion`.

    Parameters
    ----------
    path
        CSV (UTF-8 or GBK/GB18030) or XLSX with columns ``name``, ``weight`` and optionally
        whole-number ``floor`` and ``cap`` (blank cells: no bound).
    valid_names
        If given, every name must be one of these.
    encoding
        CSV encoding; default tries UTF-8 then GB18030.

    Returns
    -------
    WeightTable

    Raises
    ------
    InputError
        A missing column; :class:`~lnplan.errors.LayerValidationError` listing every bad cell.
    """
    file = str(path)
    frame, cols = _read_table(path, encoding, WEIGHT_COLUMNS, ("name", "weight"))
    problems: list[Problem] = []
    names = _names(frame, cols["name"], file, problems, valid_names, "region")
    weight = _numbers(frame, cols["weight"], file, problems, positive=False, what="weight")
    if weight is not None:
        for k, value in enumerate(frame[cols["weight"]].tolist()):
            if _is_blank(value):
                problems.append(Problem(file, k + 2, cols["weight"], None, "weight is missing"))
    floor = _numbers(
        frame, cols.get("floor"), file, problems, positive=False, whole=True, what="floor"
    )
    cap = _numbers(frame, cols.get("cap"), file, problems, positive=False, whole=True, what="cap")
    _bounds_order(floor, cap, (cols.get("floor"), cols.get("cap")), file, problems)
    if problems:
        raise LayerValidationError(file, sorted(problems, key=lambda p: p.row or 0))
    assert weight is not None
    big = np.iinfo(np.int64).max // 4
    return WeightTable(
        path=file,
        names=tuple(names),
        weights=weight,
        floors=None if floor is None else np.nan_to_num(floor, nan=0.0).astype(np.int64),
        caps=None if cap is None else np.where(np.isnan(cap), big, cap).astype(np.int64),
    )


# --- the programme -------------------------------------------------------------------------------


def county_need(indicators: pd.DataFrame, need_weights: dict[str, float]) -> pd.Series:
    """``sum_k weight_k * indicator_k`` per row of ``indicators``."""
    missing = [k for k in need_weights if k not in indicators.columns]
    if missing:
        raise InputError(
            f"county indicators lack {', '.join(missing)} (needed by funding.need_weights)"
        )
    need = sum(float(w) * indicators[k].astype(float) for k, w in need_weights.items())
    return pd.Series(need, index=indicators.index, dtype=float)


def effect_curves(
    pool: npt.ArrayLike, *, budget_yuan: int, jobs_target: int, quarters: int = 4
) -> tuple[EffectCurve, ...]:
    """The assumed effect curves of the ``jobs`` objective (see the module docstring)."""
    from lnplan.optimize.funding import EffectCurve

    if jobs_target <= 0:
        raise InputError("funding.jobs_target must be > 0 for the jobs objective")
    cost = budget_yuan / jobs_target
    curves = []
    for p in np.asarray(pool, dtype=float):
        if p <= 0:
            curves.append(EffectCurve((1.0,), (0.0,)))
            continue
        xs, ys, x, y = [], [], 0.0, 0.0
        for q in range(quarters):
            x += p / quarters * cost * 1.5**q
            y += p / quarters
            xs.append(x)
            ys.append(y)
        curves.append(EffectCurve(tuple(xs), tuple(ys)))
    return tuple(curves)


def _weights_by_county(world: World, kind: str) -> pd.Series:
    ind = world.county_indicators.set_index("county_code")
    if kind.startswith("indicator:"):
        return ind[kind.split(":", 1)[1]].astype(float)
    if kind == "households":
        counts = world.households.groupby("county_code").size()
    elif kind == "children":
        counts = world.townships.groupby("county_code")["children_8_14"].sum()
    else:  # pragma: no cover - APPORTION_TARGETS is fixed above
        raise ValueError(kind)
    return counts.reindex(ind.index).fillna(0).astype(float)


def apportion_targets(
    world: World, totals: dict[str, int], *, method: str = APPORTION_METHOD
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Apportion whole-number targets to cities, then within each city to its counties.

    Returns
    -------
    (by_city, by_county, ties)
        One column per target; ``ties`` lists every tie with its level and region group.
    """
    from lnplan.optimize.apportion import ApportionProblem, apportion

    ind = world.county_indicators
    cities = ind[["city_code", "city"]].drop_duplicates().sort_values("city_code")
    by_city = cities.reset_index(drop=True).copy()
    by_county = ind[["county_code", "county", "city_code", "city"]].reset_index(drop=True).copy()
    ties: list[dict[str, object]] = []
    for target, total in totals.items():
        w_county = _weights_by_county(world, APPORTION_TARGETS[target])
        grouped = w_county.groupby(ind.set_index("county_code")["city_code"]).sum()
        w_city = grouped.reindex(by_city["city_code"]).to_numpy(dtype=float)
        res = apportion(ApportionProblem(tuple(by_city["city"]), w_city, int(total)), method)
        by_city[target] = res.allocations
        ties += _tie_rows(target, "city", "辽宁省", res.ties)
        county_alloc = pd.Series(0, index=by_county.index, dtype="int64")
        for code, city_total in zip(by_city["city_code"], res.allocations, strict=True):
            rows = by_county.index[by_county["city_code"] == code]
            w = w_county.reindex(by_county.loc[rows, "county_code"]).to_numpy()
            if int(city_total) == 0:
                continue
            if not w.sum() > 0:
                w = np.ones(len(rows))
            sub = apportion(
                ApportionProblem(tuple(by_county.loc[rows, "county"]), w, int(city_total)), method
            )
            county_alloc.loc[rows] = sub.allocations
            city_name = str(by_city.loc[by_city["city_code"] == code, "city"].iloc[0])
            ties += _tie_rows(target, "county", city_name, sub.ties)
        by_county[target] = county_alloc
    columns = ["target", "level", "within", "candidates", "seats", "given_to"]
    return by_city, by_county, pd.DataFrame(ties, columns=columns)


def _tie_rows(target: str, level: str, within: str, ties: Sequence[Tie]) -> list[dict[str, object]]:
    return [
        {
            "target": target,
            "level": level,
            "within": within,
            "candidates": "、".join(t.candidates),
            "seats": t.seats,
            "given_to": "、".join(t.given_to),
        }
        for t in ties
    ]


def sweep_budgets(budget_yuan: int, unit_yuan: int) -> npt.NDArray[np.int64]:
    """The budgets of the sensitivity table: ``SWEEP_POINTS_EACH_SIDE`` steps either side."""
    step = max(unit_yuan, SWEEP_STEP_YUAN // unit_yuan * unit_yuan)
    ks = np.arange(-SWEEP_POINTS_EACH_SIDE, SWEEP_POINTS_EACH_SIDE + 1)
    budgets = budget_yuan + ks * step
    return budgets[budgets >= 0].astype(np.int64)


def run(scenario: Scenario, world: World, out_dir: Path) -> ProgrammeOutput:
    """Allocate the fund to the priority counties and apportion the other targets.

    Parameters
    ----------
    scenario
        Validated scenario; reads ``scenario.funding`` and the targets file.
    world
        The planning world (county indicators, households, townships, county polygons).
    out_dir
        The programme's output folder (not used: the registry writes the tables).

    Returns
    -------
    ProgrammeOutput
    """
    from lnplan.optimize.funding import solve_funding

    problem, pri, need, curves, params = _problem(scenario, world)
    assert scenario.funding is not None
    result = solve_funding(problem, scenario.funding.objective, params)
    if not result.has_allocation:
        raise LnplanError(f"employment fund: {result.message}")
    return _output(scenario, world, problem, pri, need, curves, params, result)


def run_near(
    scenario: Scenario,
    world: World,
    out_dir: Path,
    baseline_yuan: Mapping[str, int],
    max_loss: float,
) -> ProgrammeOutput:
    """:func:`run`, held to a baseline allocation (``lnplan run --baseline``).

    Step 1 is :func:`run`'s best allocation; step 2 the allocation that moves the fewest yuan
    from ``baseline_yuan`` (county code to yuan) with its objective within ``max_loss`` of the
    best (:func:`lnplan.optimize.funding.solve_funding_near`, the same work limit
    ``funding.deterministic_time_s``). The tables, explanation and sensitivity are those of the
    allocation kept; the summary adds ``best_objective_value``, ``stability_cost``,
    ``baseline_yuan_moved`` and ``baseline_counties_changed``, and the models ``allocation_best``
    (step 1) and ``stability`` (step 2, whose objective is the yuan moved).
    """
    from lnplan.optimize.funding import solve_funding, solve_funding_near
    from lnplan.optimize.result import outcome_record

    problem, pri, need, curves, params = _problem(scenario, world)
    sec = scenario.funding
    assert sec is not None
    best = solve_funding(problem, sec.objective, params)
    if not best.has_allocation:
        raise LnplanError(f"employment fund: {best.message}")
    codes = pri["county_code"].astype(str).tolist()
    old = {str(k): int(v) for k, v in baseline_yuan.items()}
    absent = {k: v for k, v in old.items() if k not in set(codes)}
    near = solve_funding_near(
        problem,
        [old.get(c, 0) for c in codes],
        best,
        max_loss=max_loss,
        absent_yuan=sum(absent.values()),
        params=params,
    )
    out = _output(scenario, world, problem, pri, need, curves, params, near.allocation)
    summary = {
        **dict(out.summary),
        "best_objective_value": best.objective,
        "stability_cost": round(near.loss, 6),
        "stability_max_loss": max_loss,
        "stability_status": near.status,
        "baseline_yuan_moved": int(near.objective),
        "baseline_yuan_moved_bound": math.ceil(near.bound),
        "baseline_counties_changed": near.counties_changed + sum(1 for v in absent.values() if v),
    }
    models = {
        **dict(out.models),
        "allocation_best": outcome_record(best),
        "stability": outcome_record(near),
    }
    return replace(out, summary=summary, models=models)


def _problem(
    scenario: Scenario, world: World
) -> tuple[FundingProblem, pd.DataFrame, pd.Series, tuple[EffectCurve, ...] | None, SolveParams]:
    """The fund's problem on the priority counties, and its solver options."""
    from lnplan.optimize.funding import FundingProblem, SolveParams

    sec = scenario.funding
    if sec is None:
        raise InputError("the scenario has no [funding] section")
    ind = world.county_indicators
    pri = ind[ind["priority"]].reset_index(drop=True)
    if pri.empty:
        raise InputError(
            "no priority counties in the world's county indicators (data.priority_counties)"
        )
    need = county_need(pri, {str(k): float(v) for k, v in sec.need_weights.items()})
    zero = pri.loc[need <= 0, "county"].tolist()
    if zero:
        raise InputError(
            f"priority counties with zero need under funding.need_weights: {', '.join(zero)}"
        )
    n = len(pri)
    curves = None
    if sec.objective == "jobs":
        curves = effect_curves(
            pri["registered_unemployed_disabled"],
            budget_yuan=sec.budget_yuan,
            jobs_target=sec.jobs_target,
        )
    problem = FundingProblem(
        names=tuple(pri["county"]),
        need=need.to_numpy(),
        budget_yuan=sec.budget_yuan,
        unit_yuan=sec.unit_yuan,
        floor_yuan=np.full(n, float(sec.floor_yuan)),
        cap_yuan=None if sec.cap_yuan is None else np.full(n, float(sec.cap_yuan)),
        effect_curves=curves,
    )
    params = SolveParams(
        time_limit_s=sec.time_limit_s,
        seed=scenario.seed,
        deterministic_time_s=sec.deterministic_time_s,
        time_limit_name=f"{SECTION}.time_limit_s",
        deterministic_time_name=f"{SECTION}.deterministic_time_s",
    )
    return problem, pri, need, curves, params


def _output(
    scenario: Scenario,
    world: World,
    problem: FundingProblem,
    pri: pd.DataFrame,
    need: pd.Series,
    curves: tuple[EffectCurve, ...] | None,
    params: SolveParams,
    result: FundingResult,
) -> ProgrammeOutput:
    """The tables, layer and summary of an allocation."""
    from lnplan.optimize.funding import budget_sensitivity, explain_funding
    from lnplan.optimize.result import outcome_record
    from lnplan.programs import ProgrammeOutput

    sec = scenario.funding
    assert sec is not None
    n = len(pri)
    expl = explain_funding(problem, result, params)
    allocation = pd.DataFrame(expl.rows())
    allocation.insert(1, "county_code", pri["county_code"].to_numpy())
    allocation.insert(2, "city", pri["city"].to_numpy())
    allocation.insert(4, "need", need.round(6).to_numpy())
    if curves is not None:
        allocation["expected_jobs"] = [
            float(c.jobs_at(a)) for c, a in zip(curves, result.allocations_yuan, strict=True)
        ]
    sweep = budget_sensitivity(
        problem, sweep_budgets(sec.budget_yuan, sec.unit_yuan), sec.objective, params
    )
    sensitivity = pd.DataFrame(sweep.rows())

    targets = scenario.targets()
    totals = {key: int(targets.value(key)) for key in APPORTION_TARGETS}
    totals["new_jobs_per_year"] = int(sec.jobs_target)
    by_city, by_county, ties = apportion_targets(world, totals)

    polys = world.counties[["code", "geometry"]].rename(columns={"code": "county_code"})
    layer = polys.merge(
        allocation[["county_code", "county", "city", "amount_yuan", "share_of_need", "binding"]],
        on="county_code",
    )
    layer = gpd.GeoDataFrame(layer, geometry="geometry", crs=world.counties.crs)
    layer.attrs["value_column"] = "amount_yuan"
    layer.attrs["map_label"] = "employment security fund (yuan)"
    summary = {
        "objective": sec.objective,
        "status": result.status,
        "objective_value": result.objective,
        "budget_yuan": sec.budget_yuan,
        "unit_yuan": sec.unit_yuan,
        "priority_counties": n,
        "marginal_up": expl.marginal_up,
        "marginal_down": expl.marginal_down,
        "runtime_s": result.runtime_s,
        "sweep_runtime_s": sweep.runtime_s,
        "apportion_method": APPORTION_METHOD,
        "ties": len(ties),
        "engine": result.engine,
        "bound": result.bound,
        "gap": result.gap,
        "proof": result.proof,
    }
    if result.message:
        summary["note"] = result.message
    if curves is not None:
        summary["effect_curves"] = "assumed (see lnplan.programs.employment_fund)"
    if world.label:
        summary["label"] = world.label
    logger.info(
        "employment fund: %s, %d counties, objective %.6g", result.status, n, result.objective
    )
    return ProgrammeOutput(
        name=NAME,
        tables={
            "allocation": allocation,
            "sensitivity": sensitivity,
            "targets_by_city": by_city,
            "targets_by_county": by_county,
            "ties": ties,
        },
        layers={"fund_by_county": layer},
        summary=summary,
        models={"allocation": outcome_record(result)},
    )
