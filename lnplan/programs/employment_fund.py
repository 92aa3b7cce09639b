"""The employment security fund: readers for county need tables and region weight tables.

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
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from lnplan.errors import InputError, LayerValidationError, Problem

logger = logging.getLogger(__name__)

#: Accepted header names per column (compared case-insensitively; spaces and underscores ignored).
NEED_COLUMNS: dict[str, tuple[str, ...]] = {
    "county": ("county", "区县", "县区", "县(市、区)", "县（市、区）", "name", "名称"),
    "need": ("need", "需求", "需求权重", "权重", "weight"),
    "floor_yuan": ("floor_yuan", "floor", "下限", "保底", "最低额度"),
    "cap_yuan": ("cap_yuan", "cap", "上限", "最高额度"),
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


@dataclass(frozen=True)
class WeightTable:
    """A region weight table as read: names, weights and optional whole-number bounds."""

    path: str
    names: tuple[str, ...]
    weights: npt.NDArray[np.float64]
    floors: npt.NDArray[np.int64] | None
    caps: npt.NDArray[np.int64] | None


def _norm(name: object) -> str:
    return str(name).strip().lower().replace(" ", "").replace("_", "")


def _read_frame(path: str | Path, encoding: str | None) -> pd.DataFrame:
    from lnplan.geo.layers import read_raw

    p = Path(path)
    if p.suffix.lower() not in {".csv", ".txt", ".xlsx", ".xlsm"}:
        raise InputError(f"{p}: unsupported file type {p.suffix!r}; accepted: .csv, .xlsx")
    return read_raw(p, encoding=encoding).frame


def _find_columns(
    frame: pd.DataFrame, spec: dict[str, tuple[str, ...]], required: Sequence[str], file: str
) -> dict[str, str]:
    found: dict[str, str] = {}
    headers = {_norm(c): str(c) for c in frame.columns}
    for canon, names in spec.items():
        for name in names:
            if _norm(name) in headers:
                found[canon] = headers[_norm(name)]
                break
    missing = [c for c in required if c not in found]
    if missing:
        have = ", ".join(str(c) for c in frame.columns) or "none"
        raise InputError(
            f"{file}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (columns found: {have}; accepted names: "
            + "; ".join(f"{c}: {', '.join(spec[c])}" for c in missing)
            + ")"
        )
    return found


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
                    low[k],
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
        ``floor_yuan``, ``cap_yuan`` (blank cells: no bound).
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
    frame = _read_frame(path, encoding)
    cols = _find_columns(frame, NEED_COLUMNS, ("county", "need"), file)
    if frame.empty:
        raise InputError(f"{file}: no data rows below the header")
    problems: list[Problem] = []
    names = _names(frame, cols["county"], file, problems, valid_names, "county")
    need = _numbers(frame, cols["need"], file, problems, positive=True, what="need")
    floor = _numbers(
        frame, cols.get("floor_yuan"), file, problems, positive=False, what="floor_yuan"
    )
    cap = _numbers(frame, cols.get("cap_yuan"), file, problems, positive=False, what="cap_yuan")
    _bounds_order(floor, cap, (cols.get("floor_yuan"), cols.get("cap_yuan")), file, problems)
    if problems:
        raise LayerValidationError(file, sorted(problems, key=lambda p: p.row or 0))
    assert need is not None
    return NeedTable(
        path=file,
        names=tuple(names),
        need=need,
        floor_yuan=None if floor is None else np.nan_to_num(floor, nan=0.0),
        cap_yuan=None if cap is None else np.where(np.isnan(cap), np.inf, cap),
    )


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
    frame = _read_frame(path, encoding)
    cols = _find_columns(frame, WEIGHT_COLUMNS, ("name", "weight"), file)
    if frame.empty:
        raise InputError(f"{file}: no data rows below the header")
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
